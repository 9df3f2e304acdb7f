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
    "StoreError",
    "TransportError",
    "__version__",
    "connect",
    "error_kind",
    "hookimpl",
    "load_config",
]

if TYPE_CHECKING:
    from mcpconnect.config import load_config
    from mcpconnect.hub import Hub, connect
    from mcpconnect.operations import Operation, error_kind


def __getattr__(name: str) -> Any:
    # Lazy: importing mcpconnect must not import pydantic, httpx or the MCP SDK.
    if name == "load_config":
        from mcpconnect.config import load_config

        return load_config
    if name in {"Operation", "error_kind"}:
        # What observers' on_operation_* hooks receive (mcpconnect.operations).
        from mcpconnect import operations

        return getattr(operations, name)
    if name in {"connect", "Hub"}:
        from mcpconnect import hub

        return getattr(hub, name)
    raise AttributeError(f"module 'mcpconnect' has no attribute {name!r}")
