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
    from mcpconnect.config import ProviderConfig, ServerConfig, load_config
    from mcpconnect.hub import Hub, connect
    from mcpconnect.operations import Operation, error_kind
    from mcpconnect.runtime import Runtime


def __getattr__(name: str) -> Any:
    # Lazy: importing mcpconnect must not import pydantic, httpx or the MCP SDK.
    if name in {"load_config", "ProviderConfig", "ServerConfig"}:
        # ProviderConfig and ServerConfig: what provider and transport factories receive.
        from mcpconnect import config

        return getattr(config, name)
    if name == "Runtime":
        from mcpconnect.runtime import Runtime

        return Runtime
    if name in {"Operation", "error_kind"}:
        # What observers' on_operation_* hooks receive (mcpconnect.operations).
        from mcpconnect import operations

        return getattr(operations, name)
    if name in {"connect", "Hub"}:
        from mcpconnect import hub

        return getattr(hub, name)
    raise AttributeError(f"module 'mcpconnect' has no attribute {name!r}")
