"""The HTTP client of the remote transports: httpx underneath the MCP SDK's protocol logic.

The SDK's streamable HTTP and SSE clients are written against ``httpx2`` (a fork of httpx with
SSE support), while mcpconnect's OAuth engine is an :class:`httpx.Auth`. Rather than re-write the
SDK's session handling (Mcp-Session-Id, SSE resumption, cancellation, redirects), the SDK gets an
``httpx2.AsyncClient`` whose transport hands every request to an :class:`httpx.AsyncClient`: httpx
sends it (running the auth flow, 401 retries included) and its response streams back unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

# Imported at the top: only the HTTP transports import this module, inside their factories.
import httpx
import httpx2

from mcpconnect._logs import register_secret
from mcpconnect._redact import safe_url, secret_values

if TYPE_CHECKING:
    from mcpconnect._config import ServerConfig
    from mcpconnect.transport import TransportContext

__all__ = ["SSE_READ_TIMEOUT", "httpx_client", "sdk_http_client"]

#: How long a server-sent event stream may stay silent before it counts as dropped.
SSE_READ_TIMEOUT = 300.0


def httpx_client(name: str, server: ServerConfig, context: TransportContext) -> httpx.AsyncClient:
    """The httpx client for server ``name``: its headers, its auth, its timeout."""
    if server.url:
        context.check_url(server.url)
    headers = server.resolved_headers(name, context.environ)
    for value in secret_values(headers):
        register_secret(value)

    async def on_request(request: httpx.Request) -> None:
        # Every request, not only the configured URL: a redirect or an SSE endpoint event may
        # point elsewhere, and the credentials would follow.
        context.check_url(str(request.url))

    async def on_response(response: httpx.Response) -> None:
        if response.status_code >= 400:
            request = response.request
            url = safe_url(request.url)  # no user info, no query: they may hold secrets
            context.note(f"HTTP {response.status_code} {response.reason_phrase} from {request.method} {url}")

    return httpx.AsyncClient(
        auth=context.auth,
        event_hooks={"request": [on_request], "response": [on_response]},
        headers=headers,
        timeout=httpx.Timeout(server.timeout, read=SSE_READ_TIMEOUT),
        follow_redirects=False,  # the SDK decides which redirects to follow
    )


def sdk_http_client(client: httpx.AsyncClient, **kwargs: Any) -> httpx2.AsyncClient:
    """An ``httpx2.AsyncClient`` (what the SDK's transports take) that sends as ``client`` would.

    With an :class:`httpx.Auth` on ``client``, every request is bridged through ``client``, so the
    auth flow (401 retries, refresh) runs in httpx. Without one there is nothing httpx would add,
    and the bridge costs a second client stack on every request (see docs/benchmarks.md): the SDK
    then gets a plain ``httpx2`` client with the same headers and response hooks.

    ``kwargs`` are passed to ``httpx2.AsyncClient`` (the SDK's ``headers``/``timeout``); the
    httpx client's own headers and auth still apply.
    """
    kwargs.pop("auth", None)  # auth is the httpx client's business
    if client.auth is None:
        headers = {k: v for k, v in client.headers.items() if k.lower() != "user-agent"}
        headers.update(kwargs.pop("headers", None) or {})
        return httpx2.AsyncClient(
            headers=headers,
            event_hooks={
                "request": list(client.event_hooks.get("request", [])),
                "response": list(client.event_hooks.get("response", [])),
            },
            follow_redirects=False,
            **kwargs,
        )
    return httpx2.AsyncClient(transport=_Bridge(client), **kwargs)


class _Body(httpx2.AsyncByteStream):
    """An httpx response's raw bytes as an httpx2 response body."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_raw():
                yield chunk
        except httpx.TransportError as exc:
            raise _as_httpx2(exc) from exc

    async def aclose(self) -> None:
        await self._response.aclose()


def _as_httpx2(exc: httpx.TransportError) -> Exception:
    # Same class names in both libraries; the SDK catches httpx2's.
    cls = getattr(httpx2, type(exc).__name__, httpx2.TransportError)
    return cls(str(exc))


class _Bridge(httpx2.AsyncBaseTransport):
    """An httpx2 transport that sends each request with an :class:`httpx.AsyncClient`."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        out = self._client.build_request(
            request.method, str(request.url), headers=request.headers.multi_items(), content=body
        )
        timeout = request.extensions.get("timeout")
        if timeout:
            out.extensions["timeout"] = timeout
        try:
            response = await self._client.send(out, stream=True)
        except httpx.TransportError as exc:
            raise _as_httpx2(exc) from exc
        return httpx2.Response(
            response.status_code,
            headers=response.headers.multi_items(),
            stream=_Body(response),
            request=request,
        )

    async def aclose(self) -> None:
        await self._client.aclose()
