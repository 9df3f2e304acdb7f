"""Installed plugins as their package metadata declares them: the one module that reads entry
points and the only one that talks to stevedore.

stevedore answers "which entry points does group G have" from its on-disk cache of the
entry-point scan, and loads the one driver a configuration names (:class:`stevedore.DriverManager`),
so start-up costs what the configuration uses. Everything here goes through stevedore's public
API; a plugin installed while a process runs is seen by the next process (stevedore keeps each
group's list for the life of the process, as ``importlib.metadata`` users generally do).

:func:`installed` is the full metadata scan (every distribution, named, deduplicated); it is made
only for ``mcpconnect plugins list``, the ``MCPCONNECT_*`` switches and error messages;
:func:`declared` adds the entry points an author put in a group mcpconnect does not read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any

from mcpconnect._kinds import GROUPS, Kind, PluginInfo

if TYPE_CHECKING:
    from stevedore.extension import Extension

__all__ = ["Declared", "declared", "group_entries", "installed", "load_driver"]

#: Entry-point groups named like this are meant for mcpconnect; one not in ``GROUPS`` is a mistake.
GROUP_PREFIX = "mcpconnect."

#: Called with the group, the name and the entry points found when two or more share one name
#: (or one entry point was found twice); returns the one to load or raises.
ConflictResolver = Callable[[str, str, Sequence[metadata.EntryPoint]], metadata.EntryPoint]


def group_entries(kind: Kind) -> list[metadata.EntryPoint]:
    """The entry points of ``kind``'s group, from stevedore's cached scan; nothing is imported."""
    from stevedore import NamedExtensionManager

    # With no names selected, the manager loads nothing; it only lists the group.
    lister: NamedExtensionManager[Any] = NamedExtensionManager(
        GROUPS[kind], names=[], on_missing_entrypoints_callback=None
    )
    return list(lister.list_entry_points())


def load_driver(kind: Kind, name: str, resolve: ConflictResolver) -> object:
    """Import the entry module (or attribute) registered as ``name`` in ``kind``'s group.

    An exception raised by the import propagates unchanged. ``resolve`` chooses between entry
    points that share the name.
    """
    from stevedore import DriverManager

    def reraise(_manager: Any, _ep: Any, err: BaseException) -> None:
        raise err

    def conflict_resolver(namespace: str, ep_name: str, extensions: list[Extension[Any]]) -> Extension[Any]:
        chosen = resolve(namespace, ep_name, [ext.entry_point for ext in extensions])
        return next(ext for ext in extensions if ext.entry_point is chosen)

    driver: DriverManager[Any] = DriverManager(
        GROUPS[kind],
        name,
        on_load_failure_callback=reraise,
        on_missing_entrypoints_callback=None,
        conflict_resolver=conflict_resolver,
    )
    return driver.driver


def declared() -> list[PluginInfo | Declared]:
    """Every entry point installed distributions declare in a group named like ours
    (``mcpconnect.*``, ``mcpconnect_*``, ...), deduplicated: a :class:`PluginInfo` for those in the
    groups mcpconnect reads, a :class:`Declared` for the others (an author's mistake).

    Entries that differ only by the path they were found on (editable installs, stray egg-info,
    lib64 symlinks) count once.
    """
    seen: dict[tuple[str, str, str], PluginInfo | Declared] = {}
    group_kinds = {group: k for k, group in GROUPS.items()}
    for dist in metadata.distributions():
        for ep in dist.entry_points:
            if not _ours(ep.group):
                continue
            key = (ep.group, ep.name, ep.value)
            if key in seen:
                continue
            kind = group_kinds.get(ep.group)
            dist_name = dist.metadata["Name"]
            if kind is None:
                seen[key] = Declared(ep.group, ep.name, ep.value, dist_name, dist.version)
            else:
                seen[key] = PluginInfo(kind, ep.name, ep.value, dist_name, dist.version)
    return list(seen.values())


def installed() -> list[PluginInfo]:
    """Every installed plugin of every kind, with its distribution, deduplicated and sorted."""
    found = [i for i in declared() if isinstance(i, PluginInfo)]
    return sorted(found, key=lambda i: (i.kind, i.name, i.distribution or ""))


@dataclass(frozen=True)
class Declared:
    """An entry point in a group mcpconnect does not read, though named like one of its own."""

    group: str
    name: str
    value: str
    distribution: str | None
    version: str | None


def _ours(group: str) -> bool:
    normal = group.lower().replace("-", ".").replace("_", ".")
    return normal == GROUP_PREFIX.rstrip(".") or normal.startswith(GROUP_PREFIX)
