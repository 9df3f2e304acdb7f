"""The kinds of plugin (their entry-point groups, registration hooks and labels), an installed
plugin as its metadata names it (:class:`PluginInfo`), and a factory a plugin registered
(:class:`RegisteredFactory`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["auth", "store", "transport", "plugin"]

#: The entry point group of each kind. The names in a group are what users write in config.
GROUPS: dict[Kind, str] = {
    "auth": "mcpconnect.auth",
    "store": "mcpconnect.store",
    "transport": "mcpconnect.transport",
    "plugin": "mcpconnect.plugins",
}

#: The registration hook each kind's entry module implements.
REGISTER_HOOKS: dict[Kind, str] = {
    "auth": "register_auth_providers",
    "store": "register_token_stores",
    "transport": "register_transports",
}

#: What each kind's names are called in messages and in the configuration.
KIND_LABELS: dict[Kind, str] = {
    "auth": "auth provider",
    "store": "token store",
    "transport": "transport",
    "plugin": "observer",
}


@dataclass(frozen=True)
class PluginInfo:
    """An installed plugin as its metadata describes it, before anything is imported."""

    kind: Kind
    name: str
    value: str
    distribution: str | None = None
    version: str | None = None

    @property
    def group(self) -> str:
        return GROUPS[self.kind]

    def describe(self) -> str:
        """``'github' (mcpconnect-auth-github 0.1.0)``: how messages name a plugin."""
        dist = f"{self.distribution} {self.version}" if self.distribution else self.value
        return f"'{self.name}' ({dist})"


@dataclass(frozen=True)
class RegisteredFactory:
    """One named factory registered by a plugin."""

    kind: Kind
    name: str
    factory: Callable[..., Any]
    description: str = ""
    requires: Literal["command", "url"] | None = None
    plugin: PluginInfo | None = field(default=None, compare=False)
