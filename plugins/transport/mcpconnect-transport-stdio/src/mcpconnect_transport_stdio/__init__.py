"""The ``stdio`` transport: starts an MCP server as a local process and speaks over its pipes.

Configuration (``[servers.NAME]``): ``command``, ``args``, ``env``, ``cwd``, ``inherit_env``
(default ``true``: the process gets this environment plus ``env``; ``false``: only a minimal
safe set such as ``PATH`` and ``HOME``, plus ``env``), and under ``options``:
``max_message_bytes`` (default 16 MiB; a longer stdout line ends the connection) and
``stop_timeout`` (seconds to wait after closing stdin and after SIGTERM, default 2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcpconnect import hookimpl

if TYPE_CHECKING:
    from mcpconnect import ServerConfig
    from mcpconnect.hookspecs import RegisterTransport
    from mcpconnect.transport import TransportContext


@hookimpl
def register_transports(register: RegisterTransport) -> None:
    register(
        "stdio",
        stdio_transport,
        requires="command",
        description="a local server process, JSON-RPC over its stdin/stdout",
    )


def stdio_transport(name: str, server: ServerConfig, context: TransportContext) -> Any:
    """Start ``server.command`` and yield its ``(read_stream, write_stream)`` pair."""
    from mcpconnect_transport_stdio._process import open_stdio

    return open_stdio(name, server, context)
