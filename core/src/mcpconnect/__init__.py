"""mcpconnect: connect applications and AI agents to MCP servers, with their authentication handled.

Only the public API lives here, and nothing heavy is imported until it is used::

    import mcpconnect

    async with mcpconnect.connect("mcpconnect.toml") as hub:
        print(await hub.call_tool("docs", "search", {"query": "oauth"}))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcpconnect.errors import (
    AuthError,
    ConfigError,
    MCPConnectError,
    PluginError,
    StoreError,
    TransportError,
)
from mcpconnect.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = [
    "AuthError",
    "ConfigError",
    "Hub",
    "MCPConnectError",
    "Operation",
    "PluginError",
    "ProviderConfig",
    "Runtime",
    "ServerConfig",
    "StoreError",
    "TransportError",
    "__version__",
    "connect",
    "error_kind",
    "hookimpl",
    "load_config",
]

if TYPE_CHECKING:
    from mcpconnect._config import ProviderConfig, ServerConfig, load_config
    from mcpconnect._hub import Hub, connect
    from mcpconnect._operations import Operation, error_kind
    from mcpconnect._runtime import Runtime


def __getattr__(name: str) -> Any:
    # Lazy: importing mcpconnect must not import pydantic, httpx or the MCP SDK.
    if name in {"load_config", "ProviderConfig", "ServerConfig"}:
        # ProviderConfig and ServerConfig: what provider and transport factories receive.
        from mcpconnect import _config as config

        return getattr(config, name)
    if name == "Runtime":
        from mcpconnect._runtime import Runtime

        return Runtime
    if name in {"Operation", "error_kind"}:
        # What observers' on_operation_* hooks receive (mcpconnect._operations).
        from mcpconnect import _operations as operations

        return getattr(operations, name)
    if name in {"connect", "Hub"}:
        from mcpconnect import _hub as hub

        return getattr(hub, name)
    raise AttributeError(f"module 'mcpconnect' has no attribute {name!r}")
