"""The plugin host: finds plugins through entry points, loads only what is asked for, calls hooks.

:mod:`mcpconnect._entrypoints` (stevedore) finds and imports the one named driver a configuration
selects, so start-up costs what the configuration uses, not what is installed. pluggy then calls
the loaded module's hooks. Built-in plugins of the core are declared as entry points of the
``mcpconnect`` distribution and take exactly the same path. Observer plugins (the
``mcpconnect.plugins`` group) are loaded before the first event is delivered, wherever it fires.

A plugin that fails to load (its import raises, it implements a hook that does not exist, it
registers another name than its entry point's) is unregistered again and reported alone, with
what to do; the plugins loaded after it are unaffected.

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
import difflib
import inspect
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any, Literal, TextIO

import pluggy

from mcpconnect import _entrypoints as entrypoints
from mcpconnect import hookspecs
from mcpconnect._kinds import GROUPS, KIND_LABELS, REGISTER_HOOKS, Kind, PluginInfo, RegisteredFactory
from mcpconnect._logs import scrub
from mcpconnect.errors import (
    MCPConnectError,
    PluginConflictError,
    PluginLoadError,
    PluginNotFoundError,
    StoreOptionError,
)

if TYPE_CHECKING:
    from mcpconnect._operations import Operation, OperationKind
    from mcpconnect.errors import TransportError
    from mcpconnect.tokens import Token

__all__ = ["PluginHost", "PluginStatus"]

log = logging.getLogger("mcpconnect.plugins")

CORE_DISTRIBUTION = "mcpconnect"
ENV_LOAD = "MCPCONNECT_LOAD_PLUGINS"
ENV_DISABLE = "MCPCONNECT_DISABLE_PLUGINS"
ENV_TRACE = "MCPCONNECT_TRACE_PLUGINS"

#: Where users of each kind are told to look when a name is not installed.
#: The official plugins' names: only these get a "pip install mcpconnect-..." hint.
_OFFICIAL: dict[Kind, tuple[str, ...]] = {
    "auth": ("cloudflare", "discord", "github", "google", "linear", "microsoft", "notion", "slack"),
    "store": ("file", "keyring", "postgres", "redis", "sqlite"),
    "transport": ("sse", "stdio", "streamable-http"),
}

_INSTALL_HINTS: dict[Kind, str] = {
    "auth": "mcpconnect-auth-{name}",
    "store": "mcpconnect-store-{name}",
    "transport": "mcpconnect-transport-{name}",
    "plugin": "{name}",
}


#: How each kind's factory is called (see the registration hooks in :mod:`mcpconnect.hookspecs`).
_FACTORY_CALLS: dict[Kind, str] = {
    "auth": "factory(name, config)",
    "store": "factory(**options)",
    "transport": "factory(name, server, context)",
}

#: What each kind's factory returns, for messages.
_FACTORY_RETURNS: dict[Kind, str] = {
    "auth": "an mcpconnect.auth.OAuthProvider",
    "store": "an mcpconnect.storage.StorageBackend",
    "transport": "an async context manager yielding (read_stream, write_stream)",
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
        self._registrations: dict[Kind, dict[str, RegisteredFactory]] = {k: {} for k in GROUPS}
        self._loaded: dict[tuple[Kind, str], PluginInfo | None] = {}
        self._failed: dict[tuple[Kind, str], PluginLoadError] = {}
        self._installed: list[PluginInfo] | None = None
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

    def installed(self, kind: Kind | None = None) -> list[PluginInfo]:
        """Every installed plugin (of ``kind``), from package metadata, deduplicated.

        Entries that differ only by the path they were found on (editable installs, stray
        egg-info, lib64 symlinks) count once.
        """
        if not self.autoload:
            return []
        if self._installed is None:
            self._installed = entrypoints.installed()
        return [i for i in self._installed if kind is None or i.kind == kind]

    def names(self, kind: Kind) -> list[str]:
        """The names users may write for ``kind``: installed ones allowed by the switches, plus
        those registered by hand."""
        found = {i.name for i in self.installed(kind) if self.is_enabled(i)}
        return sorted(found | set(self._registrations[kind]))

    def _conflicts(self, kind: Kind, name: str) -> list[PluginInfo]:
        return [i for i in self.installed(kind) if i.name == name]

    # -- loading --------------------------------------------------------------------------------

    def register_plugin(self, plugin: object, *, kind: Kind, name: str | None = None) -> list[RegisteredFactory]:
        """Register a hookimpl module or object by hand and collect what it registers.

        This is how tests and embedding applications add a plugin that is not installed.
        """
        label = str(name or getattr(plugin, "__name__", type(plugin).__name__))
        info = PluginInfo(kind, label, str(getattr(plugin, "__name__", repr(plugin))))
        return self._register(plugin, info)

    def _register(self, plugin: object, info: PluginInfo) -> list[RegisteredFactory]:
        """Register ``plugin`` with pluggy and collect what its registration hook registers.

        On any failure the plugin and what it registered are removed again, so that it alone is
        blamed and the plugins loaded after it are unaffected.
        """
        added = not self.pm.is_registered(plugin)
        collected: list[RegisteredFactory] = []
        new_names: list[str] = []
        try:
            if added:
                self._add(plugin, info)
            hook_name = REGISTER_HOOKS.get(info.kind)
            if hook_name is not None:
                self._call_register_hook(plugin, info, hook_name, collected, new_names)
        except BaseException:
            for reg_name in new_names:
                self._registrations[info.kind].pop(reg_name, None)
            if added and self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            raise
        self._loaded[(info.kind, info.name)] = info
        return collected

    def _add(self, plugin: object, info: PluginInfo) -> None:
        try:
            self.pm.register(plugin, name=f"{info.kind}:{info.name}:{info.value}")
        except pluggy.PluginValidationError as exc:
            # pluggy's text: "Plugin 'x' for hook 'h'\nhookimpl definition: h(a, b)\nArgument(s) ..."
            detail = "; ".join(str(exc).splitlines()[1:]) or str(exc)
            raise self._author_error(
                info,
                f"cannot be registered ({detail})",
                f"fix the hook's arguments in {info.value} (docs/hooks.md gives each hook's signature)",
            ) from None
        # pytest's check_pending, for this plugin alone: a misspelled @hookimpl fails loudly here
        # instead of silently never running, and is blamed on this plugin only.
        unknown = sorted(
            {
                caller.name
                for caller in self.pm.get_hookcallers(plugin) or []
                if not caller.has_spec()
                and any(impl.plugin is plugin and not impl.optionalhook for impl in caller.get_hookimpls())
            }
        )
        if unknown:
            self.pm.unregister(plugin)
            specs = [name for name, caller in vars(self.pm.hook).items() if caller.has_spec()]
            hints = []
            for hook in unknown:
                close = difflib.get_close_matches(hook, specs, n=1)
                hints.append(f"'{hook}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
            raise self._author_error(
                info,
                f"implements {', '.join(hints)}, which {'is' if len(unknown) == 1 else 'are'} not a mcpconnect hook",
                f"fix the name in {info.value} (docs/hooks.md lists every hook)",
            )

    def _call_register_hook(
        self,
        plugin: object,
        info: PluginInfo,
        hook_name: str,
        collected: list[RegisteredFactory],
        new_names: list[str],
    ) -> None:
        def register(
            name: str,
            factory: Callable[..., Any],
            *,
            description: str = "",
            requires: Literal["command", "url"] | None = None,
        ) -> None:
            previous = self._registrations[info.kind].get(name)
            if previous is not None and previous.factory is factory:
                collected.append(previous)
                return
            if previous is not None:
                owner = previous.plugin.describe() if previous.plugin else "another plugin"
                raise PluginConflictError(
                    f"two plugins register the {KIND_LABELS[info.kind]} '{name}': {owner} and "
                    f"{info.describe()}; uninstall one of them or disable it with "
                    f"{ENV_DISABLE}=<distribution>"
                )
            reg = RegisteredFactory(info.kind, name, factory, description, requires, info)
            self._registrations[info.kind][name] = reg
            new_names.append(name)
            collected.append(reg)

        others = [p for p in self.pm.get_plugins() if p is not plugin]
        caller = self.pm.subset_hook_caller(hook_name, remove_plugins=others)
        caller(register=register)

    def load(self, kind: Kind, name: str) -> RegisteredFactory:
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
            collected = self._register(module, info)
        except PluginConflictError:
            raise
        except PluginLoadError as exc:
            self._failed[(kind, name)] = exc
            raise
        except Exception as exc:  # a broken plugin must be reported, never crash the host
            error = self._load_error(info, exc)
            self._failed[(kind, name)] = error
            raise error from exc
        reg = self._registrations[kind].get(name)
        if reg is None:
            error = self._wrong_name(info, module, collected)
            self._drop(module, collected)
            self._failed[(kind, name)] = error
            raise error
        return reg

    def _drop(self, plugin: object, registrations: Sequence[RegisteredFactory]) -> None:
        for reg in registrations:
            if self._registrations[reg.kind].get(reg.name) is reg:
                del self._registrations[reg.kind][reg.name]
        if self.pm.is_registered(plugin):
            self.pm.unregister(plugin)

    def _find(self, kind: Kind, name: str) -> PluginInfo:
        if not self.autoload:
            raise self._not_found(kind, name)
        # stevedore answers from its on-disk cache of the entry-point scan; the full metadata
        # scan (which names distributions) is made only when a switch or an error needs it.
        eps = [ep for ep in entrypoints.group_entries(kind) if ep.name == name]
        if not eps:
            raise self._not_found(kind, name)
        if len({ep.value for ep in eps}) > 1:
            raise self._conflict(kind, name, [ep.value for ep in eps])
        info = PluginInfo(kind, name, eps[0].value)
        if self._load is not None or self._disable:
            info = self._with_distribution(info)
        if not self.is_enabled(info):
            raise PluginNotFoundError(
                f"{KIND_LABELS[kind]} {info.describe()} is installed but disabled by "
                f"{ENV_LOAD} or {ENV_DISABLE}; change those switches to use it"
            )
        return info

    def _conflict(self, kind: Kind, name: str, values: Sequence[str]) -> PluginConflictError:
        claimants = self._conflicts(kind, name)
        names = " and ".join(c.describe() for c in claimants) or ", ".join(values)
        return PluginConflictError(
            f"two installed plugins claim the {KIND_LABELS[kind]} '{name}': {names}; "
            f"uninstall one, or disable one with {ENV_DISABLE}=<distribution>"
        )

    def _with_distribution(self, info: PluginInfo) -> PluginInfo:
        if info.distribution is not None:
            return info
        for found in self.installed(info.kind):
            if (found.name, found.value) == (info.name, info.value):
                return found
        return info

    def _import(self, info: PluginInfo) -> object:
        def resolve(group: str, name: str, eps: Sequence[metadata.EntryPoint]) -> metadata.EntryPoint:
            # The same entry point found on two path entries (an editable install and a stray
            # copy of its metadata) is one plugin; two different ones are a conflict.
            if len({ep.value for ep in eps}) > 1:
                raise self._conflict(info.kind, name, [ep.value for ep in eps])
            return eps[0]

        return entrypoints.load_driver(info.kind, info.name, resolve)

    # -- messages -------------------------------------------------------------------------------

    def _who(self, info: PluginInfo) -> str:
        return f"{KIND_LABELS[info.kind]} plugin {self._with_distribution(info).describe()}"

    def _disable_hint(self, info: PluginInfo) -> str:
        info = self._with_distribution(info)
        return f"{ENV_DISABLE}={info.distribution or info.name}"

    def _author_error(self, info: PluginInfo, problem: str, fix: str) -> PluginLoadError:
        """A plugin's own mistake: what it did, and what its authors (or the user) can do."""
        info = self._with_distribution(info)
        return PluginLoadError(
            f"{self._who(info)} {problem}; {fix}. Until it is fixed, upgrade it or disable it with "
            f"{self._disable_hint(info)}",
            name=info.name,
            kind=info.kind,
            distribution=info.distribution,
        )

    def _load_error(self, info: PluginInfo, exc: BaseException) -> PluginLoadError:
        info = self._with_distribution(info)
        who = info.distribution or info.value
        if isinstance(exc, ImportError) and exc.name and not exc.name.startswith(info.value.split(".")[0]):
            cause = (
                f"it needs the Python module '{exc.name}', which is not installed. Install it "
                f"(pip install {exc.name.split('.')[0]}), reinstall {who} with its dependencies"
            )
        else:
            cause = f"{type(exc).__name__}: {scrub(str(exc))}. Reinstall or upgrade {who}"
        return PluginLoadError(
            f"{self._who(info)} failed to load: {cause}, or disable it with {self._disable_hint(info)}",
            name=info.name,
            kind=info.kind,
            distribution=info.distribution,
        )

    def _wrong_name(self, info: PluginInfo, module: object, registered: Sequence[RegisteredFactory]) -> PluginLoadError:
        label = KIND_LABELS[info.kind]
        hook_name = REGISTER_HOOKS[info.kind]
        if registered:
            names = ", ".join(f"'{r.name}'" for r in registered)
            return self._author_error(
                info,
                f"registered the {label} {names}, but its entry point is named '{info.name}'",
                "the two names must match: its authors must rename the entry point under "
                f'[project.entry-points."{info.group}"] or the name given to register()',
            )
        implemented = {caller.name for caller in self.pm.get_hookcallers(module) or []}
        elsewhere = [kind for kind, hook in REGISTER_HOOKS.items() if hook in implemented and kind != info.kind]
        if elsewhere:
            other = elsewhere[0]
            return self._author_error(
                info,
                f"is declared in the entry-point group '{info.group}' ({label}s) but implements "
                f"{REGISTER_HOOKS[other]} ({KIND_LABELS[other]}s)",
                f'its authors must move the entry point to [project.entry-points."{GROUPS[other]}"]',
            )
        if hook_name in implemented:
            problem = f"registered no {label}: its {hook_name} hook never called register()"
            fix = f"it must call register('{info.name}', factory)"
        else:
            problem = f"does not implement {hook_name}"
            fix = f"its entry point ({info.value}) must name the module with its @hookimpl {hook_name}"
        return self._author_error(info, problem, fix)

    def _not_found(self, kind: Kind, name: str) -> PluginNotFoundError:
        installed = self.names(kind)
        available = ", ".join(installed) or "none"
        label = KIND_LABELS[kind]
        misplaced = self._misplaced(kind, name) if self.autoload else None
        if misplaced:
            return PluginNotFoundError(
                f"no {label} named '{name}' is installed (installed: {available}), but {misplaced}"
            )
        close = difflib.get_close_matches(name, [*installed, *_OFFICIAL.get(kind, ())], n=1, cutoff=0.75)
        if close and close[0] != name:
            # A typo: never suggest installing a package named after it (typosquatting).
            return PluginNotFoundError(
                f"no {label} named '{name}' is installed (installed: {available}); did you mean '{close[0]}'?"
            )
        if name in _OFFICIAL.get(kind, ()):
            hint = _INSTALL_HINTS[kind].format(name=name)
            return PluginNotFoundError(
                f"no {label} named '{name}' is installed (installed: {available}); install it with 'pip install {hint}'"
            )
        return PluginNotFoundError(
            f"no {label} named '{name}' is installed (installed: {available}); fix the name, or install the "
            "plugin that provides it (its documentation names the package)"
        )

    def _misplaced(self, kind: Kind, name: str) -> str | None:
        """Why an installed entry point named ``name`` was not found as a ``kind``, if one exists."""
        group = GROUPS[kind]
        for found in entrypoints.declared():
            if found.name != name or (isinstance(found, PluginInfo) and found.kind == kind):
                continue
            dist = f"{found.distribution} {found.version}" if found.distribution else found.value
            if isinstance(found, PluginInfo):
                where = f"as a {KIND_LABELS[found.kind]} (entry-point group '{found.group}')"
                fix = f"fix the name, or, if it is a {KIND_LABELS[kind]}, its authors"
            else:
                where = f"in the entry-point group '{found.group}', which mcpconnect does not read"
                fix = "its authors"
            return (
                f"{dist} declares '{name}' {where}; {KIND_LABELS[kind]}s are found in the group '{group}': "
                f'{fix} must declare it under [project.entry-points."{group}"] and reinstall it'
            )
        return None

    # -- factories ------------------------------------------------------------------------------

    def build(self, kind: Kind, name: str, *args: Any, returns: type | None = None, **kwargs: Any) -> Any:
        """Call the factory registered as ``name`` of ``kind`` (loading its plugin first).

        What goes wrong in a plugin's factory is reported as a :class:`PluginError` naming the
        plugin, the cause and what to do: a call that does not fit the factory's signature, a
        missing optional dependency, any other exception, a result that is not a ``returns``.
        mcpconnect's own errors raised by the factory (a :class:`ConfigError` about an option)
        pass through unchanged.
        """
        reg = self.load(kind, name)
        info = reg.plugin or PluginInfo(kind, name, getattr(reg.factory, "__module__", "?"))
        try:
            signature: inspect.Signature | None = inspect.signature(reg.factory)
        except (TypeError, ValueError):  # some builtins and C types have none
            signature = None
        if signature is not None:
            try:
                signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise self._signature_error(info, reg, signature, exc, kwargs) from None
        try:
            built = reg.factory(*args, **kwargs)
        except MCPConnectError:
            raise
        except ImportError as exc:
            module = exc.name or str(exc)
            raise self._author_error(
                info,
                f"cannot build '{name}': it needs the Python module '{module}', which is not installed",
                f"install it (pip install {module.split('.')[0]}) or reinstall "
                f"{self._with_distribution(info).distribution or 'the plugin'} with its dependencies",
            ) from None
        except (TypeError, ValueError) as exc:
            if kind == "store":
                # The keyword arguments are [storage]'s options: a value of the wrong type ("x"
                # for a number) is the user's to fix, not a bug of the plugin.
                from mcpconnect._redact import redact_value

                raise StoreOptionError(
                    plugin=self._who(info),
                    cause=f"{type(exc).__name__}: {scrub(str(exc))}",
                    options={k: redact_value(k, v) for k, v in kwargs.items()},
                ) from None
            raise self._author_error(
                info,
                f"failed to build '{name}': {type(exc).__name__}: {scrub(str(exc))}",
                "this is a bug in the plugin: report it to its authors",
            ) from None
        except Exception as exc:
            raise self._author_error(
                info,
                f"failed to build '{name}': {type(exc).__name__}: {scrub(str(exc))}",
                "this is a bug in the plugin: report it to its authors",
            ) from None
        if returns is not None and not isinstance(built, returns):
            if inspect.iscoroutine(built):
                built.close()  # never awaited: close it rather than leave a warning behind
            raise self._author_error(
                info,
                f"returned {type(built).__name__} from its factory for '{name}', not {_FACTORY_RETURNS[kind]}",
                f"its factory must return {_FACTORY_RETURNS[kind]} (see {REGISTER_HOOKS[kind]} in docs/hooks.md)",
            )
        return built

    def _signature_error(
        self,
        info: PluginInfo,
        reg: RegisteredFactory,
        signature: inspect.Signature,
        exc: TypeError,
        given: Mapping[str, Any],
    ) -> MCPConnectError:
        if reg.kind == "store":
            # The keyword arguments are [storage]'s options: most likely the user's to fix.
            from mcpconnect._redact import redact_value

            params = signature.parameters
            takes = [p.name for p in params.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
            open_ended = any(p.kind is p.VAR_KEYWORD for p in params.values())
            unknown = [] if open_ended else [k for k in given if k not in takes]
            problem = f"unknown option{'s' if len(unknown) > 1 else ''}" if unknown else str(exc)
            shown = {k: redact_value(k, v) for k, v in given.items() if not unknown or k in unknown}
            return StoreOptionError(
                plugin=self._who(info),
                cause=f"{problem}; the options it takes: {', '.join(takes) or 'none'}",
                options=shown,
            )
        return self._author_error(
            info,
            f"cannot build '{reg.name}': its factory {getattr(reg.factory, '__qualname__', reg.factory)!s}"
            f"{signature} cannot be called as {_FACTORY_CALLS[reg.kind]} ({exc})",
            f"its authors must give the factory that signature (see {REGISTER_HOOKS[reg.kind]} in docs/hooks.md)",
        )

    # -- observers and listings -----------------------------------------------------------------

    def load_observers(self) -> list[PluginStatus]:
        """Load the observer plugins (``mcpconnect.plugins`` group), once per host.

        Called before the first event is delivered, so observers see every event wherever it
        fires (the CLI, :func:`mcpconnect.connect`, an application's own :class:`Runtime`). A
        broken one is reported in the result and logged, never raised.
        """
        if self._observers_loaded:
            return []
        self._observers_loaded = True
        if not self.autoload:
            return []
        statuses = []
        for name in sorted({ep.name for ep in entrypoints.group_entries("plugin")}):
            status = self._status_after_load(self._observer_info(name))
            if status.error:
                log.warning("%s", status.error)  # nobody else shows it: events fire anywhere
            statuses.append(status)
        return statuses

    def _observer_info(self, name: str) -> PluginInfo:
        eps = [ep for ep in entrypoints.group_entries("plugin") if ep.name == name]
        info = PluginInfo("plugin", name, eps[0].value)
        return self._with_distribution(info) if self._load is not None or self._disable else info

    def _status_after_load(self, info: PluginInfo) -> PluginStatus:
        def row(status: str, error: str | None = None, provides: Sequence[str] = ()) -> PluginStatus:
            shown = self._with_distribution(info) if info.distribution is None and status != "ok" else info
            return PluginStatus(info.name, info.kind, shown.distribution, shown.version, status, error, tuple(provides))

        if not self.is_enabled(info):
            return row("disabled")
        if info.kind == "plugin":
            key: tuple[Kind, str] = ("plugin", info.name)
            if key in self._failed:
                return row("error", str(self._failed[key]))
            if key in self._loaded:
                return row("ok")
            try:
                self._register(self._import(info), info)
            except PluginConflictError as exc:
                return row("conflict", str(exc))
            except PluginLoadError as exc:
                error = exc
            except Exception as exc:
                error = self._load_error(info, exc)
            else:
                return row("ok")
            self._failed[key] = error
            return row("error", str(error))
        if len({c.value for c in self._conflicts(info.kind, info.name)}) > 1:
            others = " and ".join(c.describe() for c in self._conflicts(info.kind, info.name))
            return row("conflict", f"two installed plugins claim '{info.name}': {others}")
        try:
            reg = self.load(info.kind, info.name)
        except PluginLoadError as exc:
            return row("error", str(exc))
        except PluginConflictError as exc:
            return row("conflict", str(exc))
        return row("ok", provides=[reg.name])

    def load_all(self) -> list[PluginStatus]:
        """Load every installed plugin and report each one's state (``plugins list``), including
        entry points declared in a group mcpconnect does not read."""
        self._observers_loaded = True
        rows = [self._status_after_load(info) for info in self.installed()]
        listed = {(r.kind, r.name) for r in rows}
        for kind, regs in self._registrations.items():
            for reg_name in regs:
                if (kind, reg_name) not in listed:
                    rows.append(PluginStatus(reg_name, kind, None, None, "ok", None, (reg_name,)))
        if self.autoload:
            rows.extend(self._misplaced_rows())
        return rows

    def _misplaced_rows(self) -> list[PluginStatus]:
        rows = []
        for found in entrypoints.declared():
            if isinstance(found, PluginInfo):
                continue
            close = difflib.get_close_matches(found.group, list(GROUPS.values()), n=1, cutoff=0.6)
            kind: Kind = next((k for k, g in GROUPS.items() if close and g == close[0]), "plugin")
            meant = f" (did you mean '{close[0]}'?)" if close else ""
            groups = ", ".join(GROUPS.values())
            rows.append(
                PluginStatus(
                    found.name,
                    kind,
                    found.distribution,
                    found.version,
                    "error",
                    f"'{found.name}' ({found.distribution} {found.version}) is declared in the entry-point group "
                    f"'{found.group}'{meant}, which mcpconnect does not read (it reads {groups}); its authors "
                    "must move it and reinstall",
                )
            )
        return rows

    def registration(self, kind: Kind, name: str) -> RegisteredFactory | None:
        """An already-loaded registration, or ``None`` (never imports anything)."""
        return self._registrations[kind].get(name)

    def requirement(self, kind: Kind, name: str) -> Literal["command", "url"] | None:
        """What a transport needs (``command`` or ``url``), loading its plugin."""
        return self.load(kind, name).requires

    # -- events: a typed facade over the hook relay --------------------------------------------

    def _notify(self, hook_name: str, **kwargs: Any) -> None:
        self.load_observers()
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

    def token_obtained(self, provider: str, account: str, token: Token) -> None:
        self._notify("on_token_obtained", provider=provider, account=account, token=token)

    def token_refreshed(self, provider: str, account: str, token: Token) -> None:
        self._notify("on_token_refreshed", provider=provider, account=account, token=token)

    def token_refresh_failed(self, provider: str, account: str, error: BaseException, will_retry: bool) -> None:
        self._notify("on_token_refresh_failed", provider=provider, account=account, error=error, will_retry=will_retry)

    def token_revoked(self, provider: str, account: str, remote: bool) -> None:
        self._notify("on_token_revoked", provider=provider, account=account, remote=remote)

    def server_connected(self, server: str, transport: str, protocol_version: str | None) -> None:
        self._notify("on_server_connected", server=server, transport=transport, protocol_version=protocol_version)

    def server_failed(self, server: str, error: TransportError) -> None:
        self._notify("on_server_failed", server=server, error=error)

    def server_restarted(self, server: str, attempt: int) -> None:
        self._notify("on_server_restarted", server=server, attempt=attempt)

    # -- the gateway's questions ----------------------------------------------------------------

    def implements(self, hook_name: str) -> bool:
        """Whether a loaded plugin (observers loaded first) implements ``hook_name``."""
        self.load_observers()
        return bool(getattr(self.pm.hook, hook_name).get_hookimpls())

    def gateway_metrics(self, tokens: Sequence[Token]) -> Callable[[str], tuple[bytes, str]] | None:
        """The renderer of ``GET /metrics`` a plugin offers (see :func:`hookspecs.gateway_metrics`),
        or ``None``; a plugin that raises is logged and counts as none."""
        self.load_observers()
        try:
            renderer: Callable[[str], tuple[bytes, str]] | None = self.pm.hook.gateway_metrics(tokens=list(tokens))
        except Exception:
            log.exception("a plugin raised in gateway_metrics; /metrics is not served")
            return None
        return renderer

    # -- operations: spans for observers (see mcpconnect._operations) ---------------------------

    def start_operation(self, kind: OperationKind, **fields: Any) -> Operation | None:
        """Tell observers that an operation began; ``None`` (and nothing built) when none listens."""
        hook = self.pm.hook
        if not (
            hook.on_operation_started.get_hookimpls() or hook.on_operation_finished.get_hookimpls() or self._tracing
        ):
            return None
        from mcpconnect._operations import Operation

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
