"""The plugin host: finds plugins through entry points, loads only what is asked for, calls hooks.

stevedore finds and loads the one named driver a configuration selects (from its on-disk cache of
the entry-point scan), so start-up costs what the configuration uses, not what is installed.
pluggy then calls the loaded module's hooks. Built-in plugins of the core are declared as entry
points of the ``mcpconnect`` distribution and take exactly the same path.

Switches, read from the environment:

``MCPCONNECT_LOAD_PLUGINS``
    Comma-separated distribution or plugin names. When set (even to an empty string), only these
    load, plus the core's own built-ins.
``MCPCONNECT_DISABLE_PLUGINS``
    Comma-separated distribution or plugin names that never load.
``MCPCONNECT_TRACE_PLUGINS``
    ``1`` prints every hook call, its arguments' names and the plugins called, to stderr.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any, Literal, TextIO

import pluggy

from mcpconnect import hookspecs
from mcpconnect.errors import PluginConflictError, PluginLoadError, PluginNotFoundError
from mcpconnect.registry import GROUPS, KIND_LABELS, REGISTER_HOOKS, Kind, PluginInfo, Registration

if TYPE_CHECKING:
    from mcpconnect.operations import Operation, OperationKind

__all__ = ["PluginHost", "PluginStatus"]

log = logging.getLogger(__name__)

CORE_DISTRIBUTION = "mcpconnect"
ENV_LOAD = "MCPCONNECT_LOAD_PLUGINS"
ENV_DISABLE = "MCPCONNECT_DISABLE_PLUGINS"
ENV_TRACE = "MCPCONNECT_TRACE_PLUGINS"

#: Where users of each kind are told to look when a name is not installed.
_INSTALL_HINTS: dict[Kind, str] = {
    "auth": "mcpconnect-auth-{name}",
    "store": "mcpconnect-store-{name}",
    "transport": "mcpconnect-transport-{name}",
    "plugin": "{name}",
}


@dataclass(frozen=True)
class PluginStatus:
    """One row of ``mcpconnect plugins list``."""

    name: str
    kind: Kind
    distribution: str | None
    version: str | None
    status: str
    error: str | None = None
    provides: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "error": self.error,
            "provides": list(self.provides),
        }


def _entry_points(group: str) -> list[metadata.EntryPoint]:
    """The entry points of ``group``, read through stevedore's cached scan without loading any."""
    from stevedore import ExtensionManager

    class _Index(ExtensionManager[Any]):
        def __init__(self, namespace: str) -> None:  # list only: load nothing
            self.namespace = namespace
            # Per call, not stevedore's process-wide dict: a plugin installed while this
            # process runs (tests, long-lived hosts) must be seen. stevedore's own cache of the
            # scan, keyed by sys.path and file mtimes, still makes this cheap.
            self.ENTRY_POINT_CACHE = {}

    return _Index(group).list_entry_points()


def _split_names(value: str | None) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset(part.strip().lower() for part in value.split(",") if part.strip())


class PluginHost:
    """Loads plugins on demand and relays hook calls to them.

    ``autoload=False`` gives an empty host that sees no installed plugin: core tests and
    embedding applications register plugins themselves with :meth:`register_plugin`.
    """

    def __init__(
        self,
        *,
        autoload: bool = True,
        load: Iterable[str] | None = None,
        disable: Iterable[str] = (),
        trace: bool | TextIO = False,
    ) -> None:
        self.autoload = autoload
        self._load = None if load is None else frozenset(n.lower() for n in load)
        self._disable = frozenset(n.lower() for n in disable)
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._registrations: dict[Kind, dict[str, Registration]] = {k: {} for k in GROUPS}
        self._loaded: dict[tuple[Kind, str], PluginInfo | None] = {}
        self._failed: dict[tuple[Kind, str], PluginLoadError] = {}
        self._discovered: list[PluginInfo] | None = None
        self._observers_loaded = False
        self._tracing = bool(trace)
        if trace:
            self._enable_trace(sys.stderr if trace is True else trace)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> PluginHost:
        """A host configured from the ``MCPCONNECT_*`` switches."""
        env = os.environ if environ is None else environ
        return cls(
            load=_split_names(env.get(ENV_LOAD)),
            disable=_split_names(env.get(ENV_DISABLE)) or (),
            trace=env.get(ENV_TRACE, "").strip().lower() in {"1", "true", "yes", "on"},
        )

    # -- switches ------------------------------------------------------------------------------

    def is_enabled(self, info: PluginInfo) -> bool:
        """Whether the switches let this plugin load. The core's built-ins always load."""
        keys = {info.name.lower(), f"{info.kind}:{info.name}".lower()}
        if info.distribution:
            keys.add(info.distribution.lower())
        if info.distribution == CORE_DISTRIBUTION:
            return True
        if keys & self._disable:
            return False
        return self._load is None or bool(keys & self._load)

    # -- discovery (metadata only, nothing imported) --------------------------------------------

    def discover(self, kind: Kind | None = None) -> list[PluginInfo]:
        """Every installed plugin (of ``kind``), from package metadata, deduplicated.

        Entries that differ only by the path they were found on (editable installs, stray
        egg-info, lib64 symlinks) count once.
        """
        if not self.autoload:
            return []
        if self._discovered is None:
            seen: dict[tuple[str, str, str], PluginInfo] = {}
            group_kinds = {group: k for k, group in GROUPS.items()}
            for dist in metadata.distributions():
                dist_name = dist.metadata["Name"]
                for ep in dist.entry_points:
                    k = group_kinds.get(ep.group)
                    if k is None:
                        continue
                    key = (ep.group, ep.name, ep.value)
                    if key not in seen:
                        seen[key] = PluginInfo(k, ep.name, ep.value, dist_name, dist.version)
            self._discovered = sorted(seen.values(), key=lambda i: (i.kind, i.name, i.distribution or ""))
        return [i for i in self._discovered if kind is None or i.kind == kind]

    def names(self, kind: Kind) -> list[str]:
        """The names users may write for ``kind``: installed ones allowed by the switches, plus
        those registered by hand."""
        found = {i.name for i in self.discover(kind) if self.is_enabled(i)}
        return sorted(found | set(self._registrations[kind]))

    def _conflicts(self, kind: Kind, name: str) -> list[PluginInfo]:
        return [i for i in self.discover(kind) if i.name == name]

    # -- loading --------------------------------------------------------------------------------

    def register_plugin(self, plugin: object, *, kind: Kind, name: str | None = None) -> list[Registration]:
        """Register a hookimpl module or object by hand and collect what it registers.

        This is how tests and embedding applications add a plugin that is not installed.
        """
        label = str(name or getattr(plugin, "__name__", type(plugin).__name__))
        info = PluginInfo(kind, label, str(getattr(plugin, "__name__", repr(plugin))))
        return self._register(plugin, info)

    def _register(self, plugin: object, info: PluginInfo) -> list[Registration]:
        already = self.pm.is_registered(plugin)
        if not already:
            self.pm.register(plugin, name=f"{info.kind}:{info.name}:{info.value}")
            # A misspelled @hookimpl must fail loudly here rather than silently never run.
            self.pm.check_pending()
        hook_name = REGISTER_HOOKS.get(info.kind)
        if hook_name is None:
            self._loaded[(info.kind, info.name)] = info
            return []
        collected: list[Registration] = []

        def register(
            name: str,
            factory: Callable[..., Any],
            *,
            description: str = "",
            requires: Literal["command", "url"] | None = None,
        ) -> None:
            previous = self._registrations[info.kind].get(name)
            if previous is not None and previous.factory is not factory:
                owner = previous.plugin.describe() if previous.plugin else "another plugin"
                raise PluginConflictError(
                    f"two plugins register the {KIND_LABELS[info.kind]} '{name}': {owner} and "
                    f"{info.describe()}; uninstall one of them or disable it with "
                    f"{ENV_DISABLE}=<distribution>"
                )
            reg = Registration(info.kind, name, factory, description, requires, info)
            self._registrations[info.kind][name] = reg
            collected.append(reg)

        others = [p for p in self.pm.get_plugins() if p is not plugin]
        caller = self.pm.subset_hook_caller(hook_name, remove_plugins=others)
        caller(register=register)
        self._loaded[(info.kind, info.name)] = info
        return collected

    def load(self, kind: Kind, name: str) -> Registration:
        """The registration named ``name`` of ``kind``, loading its plugin if need be.

        Only that plugin's entry module is imported. Raises :class:`PluginNotFoundError`,
        :class:`PluginConflictError` or :class:`PluginLoadError` with a message that names the
        distribution and says what to do.
        """
        existing = self._registrations[kind].get(name)
        if existing is not None:
            return existing
        if (kind, name) in self._failed:
            raise self._failed[(kind, name)]
        info = self._find(kind, name)
        try:
            module = self._import(info)
            self._register(module, info)
        except PluginConflictError:
            raise
        except Exception as exc:  # a broken plugin must be reported, never crash the host
            error = self._load_error(info, exc)
            self._failed[(kind, name)] = error
            raise error from exc
        reg = self._registrations[kind].get(name)
        if reg is None:
            error = PluginLoadError(
                f"{KIND_LABELS[kind]} plugin {info.describe()} is installed but registered no "
                f"{KIND_LABELS[kind]} named '{name}'; report this to the plugin's authors",
                name=name,
                kind=kind,
                distribution=info.distribution,
            )
            self._failed[(kind, name)] = error
            raise error
        return reg

    def _find(self, kind: Kind, name: str) -> PluginInfo:
        if not self.autoload:
            raise self._not_found(kind, name)
        # stevedore answers from its on-disk cache of the entry-point scan; the full metadata
        # scan (which names distributions) is made only when a switch or an error needs it.
        eps = [ep for ep in _entry_points(GROUPS[kind]) if ep.name == name]
        if not eps:
            raise self._not_found(kind, name)
        if len({ep.value for ep in eps}) > 1:
            claimants = self._conflicts(kind, name)
            names = " and ".join(c.describe() for c in claimants) or ", ".join(ep.value for ep in eps)
            raise PluginConflictError(
                f"two installed plugins claim the {KIND_LABELS[kind]} '{name}': {names}; "
                f"uninstall one, or disable one with {ENV_DISABLE}=<distribution>"
            )
        info = PluginInfo(kind, name, eps[0].value)
        if self._load is not None or self._disable:
            info = self._with_distribution(info)
        if not self.is_enabled(info):
            raise PluginNotFoundError(
                f"{KIND_LABELS[kind]} {info.describe()} is installed but disabled by "
                f"{ENV_LOAD} or {ENV_DISABLE}; change those switches to use it"
            )
        return info

    def _with_distribution(self, info: PluginInfo) -> PluginInfo:
        if info.distribution is not None:
            return info
        for found in self.discover(info.kind):
            if (found.name, found.value) == (info.name, info.value):
                return found
        return info

    def _import(self, info: PluginInfo) -> object:
        from stevedore import DriverManager

        def reraise(_manager: Any, _ep: Any, err: BaseException) -> None:
            raise err

        # stevedore keeps a process-wide list per group; drop it so that a plugin installed
        # since (tests, long-lived hosts) is found. Its on-disk scan cache still applies.
        DriverManager.ENTRY_POINT_CACHE.pop(info.group, None)

        driver: DriverManager[Any] = DriverManager(info.group, info.name, on_load_failure_callback=reraise)
        return driver.driver

    def _load_error(self, info: PluginInfo, exc: BaseException) -> PluginLoadError:
        info = self._with_distribution(info)
        who = info.distribution or info.value
        return PluginLoadError(
            f"{KIND_LABELS[info.kind]} plugin {info.describe()} failed to load: "
            f"{type(exc).__name__}: {exc}. Reinstall or upgrade {who}, or disable it with "
            f"{ENV_DISABLE}={who}",
            name=info.name,
            kind=info.kind,
            distribution=info.distribution,
        )

    def _not_found(self, kind: Kind, name: str) -> PluginNotFoundError:
        available = ", ".join(self.names(kind)) or "none"
        hint = _INSTALL_HINTS[kind].format(name=name)
        return PluginNotFoundError(
            f"no {KIND_LABELS[kind]} named '{name}' is installed (installed: {available}); "
            f"install it with 'pip install {hint}' or fix the name"
        )

    def load_observers(self) -> list[PluginStatus]:
        """Load the generic plugins (``mcpconnect.plugins`` group) that observe events.

        A broken one is reported in the result and logged, never raised.
        """
        statuses: list[PluginStatus] = []
        if self._observers_loaded:
            return statuses
        self._observers_loaded = True
        for info in self.discover("plugin"):
            statuses.append(self._status_after_load(info))
        return statuses

    def _status_after_load(self, info: PluginInfo) -> PluginStatus:
        def row(status: str, error: str | None = None, provides: Sequence[str] = ()) -> PluginStatus:
            return PluginStatus(info.name, info.kind, info.distribution, info.version, status, error, tuple(provides))

        if not self.is_enabled(info):
            return row("disabled")
        if len({c.value for c in self._conflicts(info.kind, info.name)}) > 1:
            others = " and ".join(c.describe() for c in self._conflicts(info.kind, info.name))
            return row("conflict", f"two installed plugins claim '{info.name}': {others}")
        if info.kind == "plugin":
            try:
                self._register(self._import(info), info)
            except Exception as exc:
                error = self._load_error(info, exc)
                log.warning("%s", error)
                return row("error", str(error))
            return row("ok")
        try:
            reg = self.load(info.kind, info.name)
        except PluginLoadError as exc:
            return row("error", str(exc))
        except PluginConflictError as exc:
            return row("conflict", str(exc))
        return row("ok", provides=[reg.name])

    def load_all(self) -> list[PluginStatus]:
        """Load every installed plugin and report each one's state (``plugins list``)."""
        rows = [self._status_after_load(info) for info in self.discover()]
        listed = {(r.kind, r.name) for r in rows}
        for kind, regs in self._registrations.items():
            for reg_name in regs:
                if (kind, reg_name) not in listed:
                    rows.append(PluginStatus(reg_name, kind, None, None, "ok", None, (reg_name,)))
        return rows

    def registration(self, kind: Kind, name: str) -> Registration | None:
        """An already-loaded registration, or ``None`` (never imports anything)."""
        return self._registrations[kind].get(name)

    def requirement(self, kind: Kind, name: str) -> Literal["command", "url"] | None:
        """What a transport needs (``command`` or ``url``), loading its plugin."""
        return self.load(kind, name).requires

    # -- events: a typed facade over the hook relay --------------------------------------------

    def _notify(self, hook_name: str, **kwargs: Any) -> None:
        caller = getattr(self.pm.hook, hook_name)
        impls = caller.get_hookimpls()
        if not impls:
            caller(**kwargs)  # nobody listens; still visible to the trace switch
            return
        # One call per implementation, so that one observer's exception cannot stop the others.
        for impl in reversed(impls):
            sub = self.pm.subset_hook_caller(
                hook_name, remove_plugins=[p for p in self.pm.get_plugins() if p is not impl.plugin]
            )
            try:
                sub(**kwargs)
            except Exception:
                # An observer's bug must not break a login or a connection.
                log.exception("plugin %s raised in %s", impl.plugin_name, hook_name)

    def token_obtained(self, provider: str, account: str, token: Any) -> None:
        self._notify("on_token_obtained", provider=provider, account=account, token=token)

    def token_refreshed(self, provider: str, account: str, token: Any) -> None:
        self._notify("on_token_refreshed", provider=provider, account=account, token=token)

    def token_refresh_failed(self, provider: str, account: str, error: BaseException, will_retry: bool) -> None:
        self._notify("on_token_refresh_failed", provider=provider, account=account, error=error, will_retry=will_retry)

    def token_revoked(self, provider: str, account: str, remote: bool) -> None:
        self._notify("on_token_revoked", provider=provider, account=account, remote=remote)

    def server_connected(self, server: str, transport: str, protocol_version: str | None) -> None:
        self._notify("on_server_connected", server=server, transport=transport, protocol_version=protocol_version)

    def server_failed(self, server: str, error: BaseException) -> None:
        self._notify("on_server_failed", server=server, error=error)

    def server_restarted(self, server: str, attempt: int) -> None:
        self._notify("on_server_restarted", server=server, attempt=attempt)

    # -- operations: spans for observers (see mcpconnect.operations) ---------------------------

    def start_operation(self, kind: OperationKind, **fields: Any) -> Operation | None:
        """Tell observers that an operation began; ``None`` (and nothing built) when none listens."""
        hook = self.pm.hook
        if not (
            hook.on_operation_started.get_hookimpls() or hook.on_operation_finished.get_hookimpls() or self._tracing
        ):
            return None
        from mcpconnect.operations import Operation

        operation = Operation(kind, **fields)
        self._notify("on_operation_started", operation=operation)
        return operation

    def finish_operation(self, operation: Operation | None, error: BaseException | None = None, **fields: Any) -> None:
        """Tell observers that ``operation`` ended (with ``error``, or as it says); no-op for ``None``."""
        if operation is None or operation.duration is not None:
            return
        for name, value in fields.items():
            setattr(operation, name, value)
        operation.end(error)
        self._notify("on_operation_finished", operation=operation)

    @contextlib.contextmanager
    def observe(self, kind: OperationKind, **fields: Any) -> Iterator[Operation | None]:
        """``with host.observe("login", provider=name) as op:`` around an operation; ``op`` is
        ``None`` when no observer listens. An exception ends it as ``error`` and propagates."""
        operation = self.start_operation(kind, **fields)
        if operation is None:
            yield None
            return
        try:
            yield operation
        except BaseException as exc:
            self.finish_operation(operation, exc)
            raise
        self.finish_operation(operation)

    # -- tracing --------------------------------------------------------------------------------

    def _enable_trace(self, stream: TextIO) -> None:
        def before(hook_name: str, hook_impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, Any]) -> None:
            plugins = ", ".join(impl.plugin_name for impl in hook_impls) or "no plugin"
            # Argument names only: values may be tokens, and traces end up in bug reports.
            args = ", ".join(sorted(kwargs))
            print(f"mcpconnect trace: {hook_name}({args}) -> {plugins}", file=stream, flush=True)

        def after(
            outcome: pluggy.Result[Any],
            hook_name: str,
            hook_impls: Sequence[pluggy.HookImpl],
            kwargs: Mapping[str, Any],
        ) -> None:
            exc = outcome.exception
            if exc is not None:
                print(f"mcpconnect trace: {hook_name} raised {type(exc).__name__}", file=stream, flush=True)

        self.pm.add_hookcall_monitoring(before, after)
