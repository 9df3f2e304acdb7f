"""A configurable, deliberately misbehaving MCP server + authorization server on 127.0.0.1.

Each test sets ``behaviour`` switches; every request is recorded (path and Authorization
header), so a test can assert that no token went where it does not belong.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Seen:
    method: str
    path: str
    authorization: str | None
    form: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)


@dataclass
class Hostile:
    """One server on one port acting as MCP server and authorization server."""

    port: int
    behaviour: dict[str, Any] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mcp_url(self) -> str:
        return f"{self.base}/mcp"

    def paths(self) -> list[str]:
        return [s.path for s in self.seen]

    def count(self, path: str) -> int:
        return sum(1 for s in self.seen if s.path == path)

    def app(self) -> Starlette:
        b = self.behaviour

        async def record(request: Request) -> Seen:
            form = (
                dict(await request.form())
                if request.method == "POST" and "form" in (request.headers.get("content-type") or "")
                else {}
            )
            seen = Seen(
                request.method, request.url.path, request.headers.get("authorization"), form, dict(request.query_params)
            )
            self.seen.append(seen)
            return seen

        async def mcp(request: Request) -> Response:
            seen = await record(request)
            auth = seen.authorization or ""
            token = auth.split(" ", 1)[-1] if auth else None
            challenge = (
                b.get("challenge") or f'Bearer resource_metadata="{self.base}/.well-known/oauth-protected-resource/mcp"'
            )
            if token is None or token not in self.issued or b.get("always_401"):
                return JSONResponse(
                    {"error": "invalid_token"}, status_code=401, headers={"WWW-Authenticate": challenge}
                )
            rest = challenge.split(" ", 1)[1]
            if b.get("always_403"):
                return JSONResponse(
                    {"error": "insufficient_scope"},
                    status_code=403,
                    headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="admin", {rest}'},
                )
            return JSONResponse({"jsonrpc": "2.0", "id": 1, "result": {"ok": True}})

        async def prm(request: Request) -> Response:
            await record(request)
            return JSONResponse(
                {"resource": b.get("resource", self.mcp_url), "authorization_servers": [b.get("issuer", self.base)]}
            )

        async def as_metadata(request: Request) -> Response:
            await record(request)
            return JSONResponse(
                {
                    "issuer": b.get("metadata_issuer", self.base),
                    "authorization_endpoint": f"{self.base}/authorize",
                    "token_endpoint": f"{self.base}/token",
                    **({} if b.get("no_registration") else {"registration_endpoint": f"{self.base}/register"}),
                    "code_challenge_methods_supported": ["S256"],
                    "token_endpoint_auth_methods_supported": ["none"],
                    "scopes_supported": ["read", "admin"],
                }
            )

        async def register(request: Request) -> Response:
            await record(request)
            garbage = b.get("registration_garbage")
            if garbage == "html":
                return PlainTextResponse("<html>welcome!</html>", media_type="text/html")
            if garbage == "no_client_id":
                return JSONResponse({"client_name": "x"}, status_code=201)
            body = await request.json()
            return JSONResponse(
                {"client_id": "hostile-client", "redirect_uris": body.get("redirect_uris", [])}, status_code=201
            )

        async def authorize(request: Request) -> Response:
            await record(request)
            q = request.query_params
            target = f"{q['redirect_uri']}?{urlencode({'code': 'c0de-' + str(time.time_ns()), 'state': q['state']})}"
            return RedirectResponse(target, status_code=302)

        async def token(request: Request) -> Response:
            await record(request)
            value = f"hostile-token-{len(self.issued)}-{time.time_ns()}"
            self.issued.append(value)
            return JSONResponse({"access_token": value, "token_type": "Bearer", "expires_in": 3600})

        return Starlette(
            routes=[
                Route("/mcp", mcp, methods=["POST", "GET"]),
                Route("/.well-known/oauth-protected-resource/mcp", prm),
                Route("/.well-known/oauth-authorization-server", as_metadata),
                Route("/register", register, methods=["POST"]),
                Route("/authorize", authorize),
                Route("/token", token, methods=["POST"]),
            ]
        )


@pytest.fixture
async def hostile_pair() -> AsyncIterator[tuple[Hostile, Hostile]]:
    """Two such servers on two ports (two origins): the second plays "somewhere else"."""
    import uvicorn

    pair = (Hostile(_port()), Hostile(_port()))
    servers = [
        uvicorn.Server(uvicorn.Config(h.app(), host="127.0.0.1", port=h.port, log_level="warning", lifespan="off"))
        for h in pair
    ]
    for server in servers:
        server.install_signal_handlers = lambda: None
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    while not all(s.started for s in servers):
        await asyncio.sleep(0.01)
    try:
        yield pair
    finally:
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
async def hostile(hostile_pair: tuple[Hostile, Hostile]) -> Hostile:
    return hostile_pair[0]


@pytest.fixture
def make_runtime():
    from mcpconnect.plugins import PluginHost
    from mcpconnect.runtime import Runtime

    def make(servers: dict) -> Runtime:
        return Runtime.build({"storage": {"backend": "memory"}, "servers": servers}, host=PluginHost(load=[]))

    return make
