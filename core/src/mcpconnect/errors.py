"""The exceptions mcpconnect raises.

Every message says what happened, to which server, provider, plugin or file, and what to do
next. None of them ever carries a secret: build messages from names, paths and redacted values,
with the helpers exported here: :func:`safe_url` (a URL without what may hold a secret),
:func:`register_secret` (a value that must never show) and :func:`scrub` (a text with every
registered value taken out), :func:`secret_values` (the secrets among configured values).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from mcpconnect._logs import register_secret, scrub
from mcpconnect._redact import redact_args, safe_url, secret_values

__all__ = [
    "AuthError",
    "ConfigError",
    "MCPConnectError",
    "PluginConflictError",
    "PluginError",
    "PluginLoadError",
    "PluginNotFoundError",
    "StoreError",
    "StoreOptionError",
    "TransportError",
    "TransportTimeoutError",
    "VersionConflict",
    "redact_args",
    "register_secret",
    "safe_url",
    "scrub",
    "secret_values",
]


class MCPConnectError(Exception):
    """Base class of every error mcpconnect raises on purpose.

    ``exit_code`` is what the CLI exits with when this error ends a command:
    1 for a failed check, 2 for usage or configuration errors.
    """

    exit_code: int = 1


class ConfigError(MCPConnectError):
    """The configuration is invalid: names the file, the key path and the problem."""

    exit_code = 2

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None) -> None:
        self.source = source
        self.key = key
        self.problem = message
        parts = [p for p in (source, key) if p]
        super().__init__(f"{': '.join(parts)}: {message}" if parts else message)


class StoreOptionError(ConfigError):
    """A ``[storage]`` option that the store plugin's factory refused (a value of the wrong type).

    ``options`` holds what the factory was given, values already redacted; :meth:`located` says
    where each one was set (a file, an ``MCPCONNECT_`` variable, ``--set``).
    """

    def __init__(
        self,
        *,
        plugin: str,
        cause: str,
        options: Mapping[str, object],
        sources: Mapping[str, str] | None = None,
    ) -> None:
        self.plugin = plugin
        self.cause = cause
        self.options = dict(options)
        self.sources = dict(sources or {})

        places = sorted({s for s in self.sources.values() if s})

        def where(name: str) -> str:
            source = self.sources.get(name)
            return f" (set in {source})" if source and len(places) > 1 else ""

        shown = ", ".join(f"{k} = {v!r}{where(k)}" for k, v in sorted(self.options.items())) or "no options"
        only = next(iter(self.options)) if len(self.options) == 1 else None
        fix = "fix it where it is set" if places else "fix it in [storage]"
        super().__init__(
            f"the {plugin} cannot use {shown} ({cause}); {fix} (see the store's documentation)",
            source=", ".join(places) or None,
            key=f"storage.{only}" if only else "storage",
        )

    def located(self, source_of: Callable[[str], str]) -> StoreOptionError:
        """The same error naming where each option was set: ``source_of(option)`` gives its
        layer (the configuration's ``LoadedConfig.source_of("storage", option)``)."""
        return StoreOptionError(
            plugin=self.plugin,
            cause=self.cause,
            options=self.options,
            sources={name: source_of(name) for name in self.options},
        )


class PluginError(MCPConnectError):
    """A plugin could not be found, loaded or used."""

    exit_code = 2


class PluginNotFoundError(PluginError):
    """No installed plugin provides the requested name."""


class PluginLoadError(PluginError):
    """A plugin's entry point raised while it was imported or registered."""

    def __init__(self, message: str, *, name: str, kind: str, distribution: str | None) -> None:
        self.name = name
        self.kind = kind
        self.distribution = distribution
        super().__init__(message)


class PluginConflictError(PluginError):
    """Two installed distributions claim the same plugin name."""


class StoreError(MCPConnectError):
    """A token store failed: names the backend and its location (never its password)."""


class VersionConflict(StoreError):
    """A compare-and-swap write lost: someone else stored a newer version first."""


class AuthError(MCPConnectError):
    """Authentication failed or is needed: names the provider or server and what to run."""


class TransportError(MCPConnectError):
    """A server could not be started, reached or spoken to: names the server."""


class TransportTimeoutError(TransportError):
    """A server did not answer in time: the MCP handshake or a request outlasted its timeout."""
