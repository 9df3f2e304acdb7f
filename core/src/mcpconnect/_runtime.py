"""The assembled pieces one process works with: configuration, plugins, the token store and the
token manager."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcpconnect._config import Config, LoadedConfig
    from mcpconnect._plugins import PluginHost
    from mcpconnect.auth._manager import TokenManager
    from mcpconnect.storage import TokenStore

__all__ = ["Runtime"]


@dataclass
class Runtime:
    """Configuration-driven assembly: what :func:`mcpconnect.connect` and the CLI build on.

    The token store is opened on first use, so commands that need no token never load a store
    plugin. The runtime owns one :class:`~mcpconnect.auth.TokenManager`, made on first use, so
    that every part of the process (the hub's connections, the CLI, MCP authorization) shares
    its single-flight refresh locks and circuit breakers.
    """

    loaded: LoadedConfig
    host: PluginHost
    _store: TokenStore | None = field(default=None, repr=False)
    _token_manager: TokenManager | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # Observers (the mcpconnect.plugins group) see every runtime's events.
        self.host.load_observers()

    @property
    def config(self) -> Config:
        return self.loaded.config

    @classmethod
    def build(
        cls,
        config: str | os.PathLike[str] | Config | LoadedConfig | dict[str, Any] | None = None,
        *,
        host: PluginHost | None = None,
    ) -> Runtime:
        """Assemble from a path (layered like the CLI), a ``Config``, a dict, or nothing."""
        from mcpconnect._config import Config, LoadedConfig, load_config
        from mcpconnect._plugins import PluginHost

        if isinstance(config, LoadedConfig):
            loaded = config
        elif isinstance(config, Config):
            loaded = LoadedConfig(config)
        elif isinstance(config, dict):
            loaded = LoadedConfig(Config.model_validate(config))
        else:
            loaded = load_config(Path(config) if config is not None else None)
        return cls(loaded, host or PluginHost.from_env())

    def store(self) -> TokenStore:
        """The configured token store, opened once."""
        if self._store is None:
            from mcpconnect.storage._factory import open_store

            loaded = self.loaded
            self._store = open_store(self.config.storage, self.host, lambda option: loaded.source_of("storage", option))
        return self._store

    def token_manager(self) -> TokenManager:
        """The token manager of this runtime, made once (also :func:`mcpconnect.auth.token_manager`)."""
        if self._token_manager is None:
            # The manager pulls in the token model and the login flows; commands that use no
            # OAuth provider never import them.
            from mcpconnect.auth._manager import TokenManager

            self._token_manager = TokenManager(self)
        return self._token_manager

    async def aclose(self) -> None:
        """Close the token store if it was opened."""
        if self._store is not None:
            await self._store.close()
            self._store = None
