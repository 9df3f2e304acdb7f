"""The ``sse`` transport: a remote MCP server over the HTTP+SSE transport of MCP 2024-11-05.

The MCP SDK's client speaks the protocol (a GET event stream announcing the POST endpoint); every
HTTP request goes out through an httpx client carrying the server's headers and its
``httpx.Auth``, see :mod:`mcpconnect.transport.http`. When the event stream drops, the
connection ends and mcpconnect's hub reconnects (this transport has no resumption).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import mcpconnect


@mcpconnect.hookimpl
def register_transports(register: Any) -> None:
    register(
        "sse",
        sse_transport,
        requires="url",
        description="a remote server over HTTP+SSE (MCP 2024-11-05)",
    )


@asynccontextmanager
async def sse_transport(name: str, server: Any, context: Any) -> AsyncIterator[Any]:
    """Connect to ``server.url`` (the event stream) and yield the ``(read_stream, write_stream)`` pair."""
    import httpx2
    from mcp.client.sse import sse_client

    from mcpconnect.transport.http import SSE_READ_TIMEOUT, httpx_client, sdk_http_client

    client = httpx_client(name, server, context)

    def factory(headers: Any = None, timeout: Any = None, auth: Any = None) -> httpx2.AsyncClient:
        return sdk_http_client(client, headers=headers, timeout=timeout)

    async with (
        client,
        sse_client(
            server.url, timeout=server.timeout, sse_read_timeout=SSE_READ_TIMEOUT, httpx_client_factory=factory
        ) as streams,
    ):
        yield streams
