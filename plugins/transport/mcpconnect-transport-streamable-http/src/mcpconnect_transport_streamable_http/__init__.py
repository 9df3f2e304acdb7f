"""The ``streamable-http`` transport: a remote MCP server over streamable HTTP.

The MCP SDK's client speaks the protocol (``Mcp-Session-Id``, SSE response streams resumed with
``Last-Event-ID`` after the server's ``retry:`` delay, the 2026-07-28 stateless requests); every
HTTP request goes out through an httpx client carrying the server's headers and its
``httpx.Auth`` (OAuth or API token), see :mod:`mcpconnect.transport._http`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from mcpconnect import hookimpl

if TYPE_CHECKING:
    from mcpconnect.hookspecs import RegisterTransport
    from mcpconnect.transport import TransportContext


@hookimpl
def register_transports(register: RegisterTransport) -> None:
    register(
        "streamable-http",
        streamable_http_transport,
        requires="url",
        description="a remote server over streamable HTTP (MCP 2025-03-26 and later)",
    )


@asynccontextmanager
async def streamable_http_transport(name: str, server: Any, context: TransportContext) -> AsyncIterator[Any]:
    """Connect to ``server.url`` and yield the ``(read_stream, write_stream)`` pair."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    from mcpconnect.transport import SSE_READ_TIMEOUT, httpx_client, sdk_http_client

    client = httpx_client(name, server, context)
    timeout = httpx2.Timeout(server.timeout, read=SSE_READ_TIMEOUT)
    async with (
        client,
        sdk_http_client(client, timeout=timeout) as sdk_client,
        streamable_http_client(server.url, http_client=sdk_client) as streams,
    ):
        yield streams
