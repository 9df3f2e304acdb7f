"""The ``sse`` transport: a remote MCP server over the HTTP+SSE transport of MCP 2024-11-05.

The MCP SDK's client speaks the protocol (a GET event stream announcing the POST endpoint); every
HTTP request goes out through an httpx client carrying the server's headers and its
``httpx.Auth``, see :mod:`mcpconnect.transport._http`. When the event stream drops, the
connection ends and mcpconnect's hub reconnects (this transport has no resumption).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from mcpconnect import hookimpl

if TYPE_CHECKING:
    from mcpconnect.hookspecs import RegisterTransport
    from mcpconnect.transport import TransportContext

log = logging.getLogger("mcpconnect.transport.sse")


class ClosingNoise(logging.Filter):
    """Drops the SDK's "Error in sse_reader" traceback for a message that arrived while the client
    was closing (``anyio.BrokenResourceError``/``ClosedResourceError``: its reader had gone).
    Nothing is wrong then, and ``mcpconnect check`` must not print a traceback for it; it is
    logged at DEBUG instead. Any other error is let through."""

    def filter(self, record: logging.LogRecord) -> bool:
        import anyio

        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, anyio.BrokenResourceError | anyio.ClosedResourceError):
            log.debug("SSE reader: a message arrived after the client closed (%s); dropped", type(exc).__name__)
            return False
        return True


def _quiet_closing_noise() -> None:
    sdk = logging.getLogger("mcp.client.sse")
    if not any(isinstance(f, ClosingNoise) for f in sdk.filters):
        sdk.addFilter(ClosingNoise())


@hookimpl
def register_transports(register: RegisterTransport) -> None:
    register(
        "sse",
        sse_transport,
        requires="url",
        description="a remote server over HTTP+SSE (MCP 2024-11-05)",
    )


@asynccontextmanager
async def sse_transport(name: str, server: Any, context: TransportContext) -> AsyncIterator[Any]:
    """Connect to ``server.url`` (the event stream) and yield the ``(read_stream, write_stream)`` pair."""
    import httpx2
    from mcp.client.sse import sse_client

    from mcpconnect.transport import SSE_READ_TIMEOUT, httpx_client, sdk_http_client

    _quiet_closing_noise()
    client = httpx_client(name, server, context)

    def factory(headers: Any = None, timeout: Any = None, auth: Any = None) -> httpx2.AsyncClient:
        return sdk_http_client(client, headers=headers, timeout=timeout)

    import anyio

    closing = False
    try:
        async with (
            client,
            sse_client(
                server.url, timeout=server.timeout, sse_read_timeout=SSE_READ_TIMEOUT, httpx_client_factory=factory
            ) as streams,
        ):
            try:
                yield streams
            finally:
                closing = True
    except BaseExceptionGroup as group:
        # On close, the SDK's reader may still hold a message for the stream we closed: its
        # BrokenResourceError is the end of the connection, not a failure (anything else is).
        _, rest = group.split((anyio.BrokenResourceError, anyio.ClosedResourceError))
        if rest is not None or not closing:
            raise
        log.debug("server %s: SSE reader stopped with a message nobody read (closing)", name)
