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


def verify_proof(proof: str | None, method: str, url: str, access_token: str | None = None) -> dict[str, Any]:
    """Check a DPoP proof as RFC 9449 4.3 says; its claims, and the key's thumbprint as ``jkt``."""
    import base64
    import hashlib
    import json

    import jwt

    assert proof, "no DPoP proof"
    header = jwt.get_unverified_header(proof)
    assert header["typ"] == "dpop+jwt" and "d" not in header["jwk"]
    claims = jwt.decode(proof, jwt.PyJWK(header["jwk"]).key, algorithms=[header["alg"]])
    assert claims["htm"] == method and claims["htu"] == url.split("?")[0]
    if access_token is not None:
        digest = base64.urlsafe_b64encode(hashlib.sha256(access_token.encode()).digest()).rstrip(b"=").decode()
        assert claims["ath"] == digest
    jwk = header["jwk"]
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    claims["jkt"] = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    return claims


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
    #: DPoP: the key thumbprint each issued token is bound to, and every proof ``jti`` seen.
    bound: dict[str, str] = field(default_factory=dict)
    jtis: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

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
            if b.get("legacy"):
                challenge = 'Bearer realm="mcp"'  # 2025-03-26: no resource metadata at all
            issuers = b.get("accept_tokens_of", [self])
            if token is None or not any(token in h.issued for h in issuers) or b.get("always_401"):
                return JSONResponse(
                    {"error": "invalid_token"}, status_code=401, headers={"WWW-Authenticate": challenge}
                )
            if b.get("dpop"):
                scheme = auth.split(" ", 1)[0]
                try:
                    claims = verify_proof(request.headers.get("dpop"), "POST", str(request.url), token)
                except AssertionError as exc:
                    self.problems.append(f"mcp proof: {exc}")
                    return JSONResponse({"error": "invalid_dpop_proof"}, status_code=401)
                if scheme != "DPoP" or self.bound.get(token) != claims["jkt"] or claims["jti"] in self.jtis:
                    self.problems.append(f"mcp: scheme {scheme}, bound {self.bound.get(token) == claims['jkt']}")
                    return JSONResponse({"error": "invalid_token"}, status_code=401)
                self.jtis.append(claims["jti"])
                nonce = b.get("dpop_rs_nonce")
                if nonce and claims.get("nonce") != nonce:
                    return JSONResponse(
                        {"error": "use_dpop_nonce"},
                        status_code=401,
                        headers={"WWW-Authenticate": 'DPoP error="use_dpop_nonce"', "DPoP-Nonce": nonce},
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
            if b.get("legacy"):
                return JSONResponse({"error": "not_found"}, status_code=404)
            return JSONResponse(
                {"resource": b.get("resource", self.mcp_url), "authorization_servers": [b.get("issuer", self.base)]}
            )

        async def as_metadata(request: Request) -> Response:
            await record(request)
            if b.get("legacy") == "no_metadata":
                return JSONResponse({"error": "not_found"}, status_code=404)
            return JSONResponse(
                {
                    "issuer": b.get("metadata_issuer", self.base),
                    "authorization_endpoint": f"{self.base}/authorize",
                    "token_endpoint": f"{self.base}/token",
                    **({} if b.get("no_registration") else {"registration_endpoint": f"{self.base}/register"}),
                    "code_challenge_methods_supported": ["S256"],
                    "token_endpoint_auth_methods_supported": b.get("auth_methods", ["none"]),
                    "scopes_supported": ["read", "admin"],
                    **({"dpop_signing_alg_values_supported": ["ES256"]} if b.get("dpop") else {}),
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
                {"client_id": f"client-of-{self.port}", "redirect_uris": body.get("redirect_uris", [])}, status_code=201
            )

        async def authorize(request: Request) -> Response:
            await record(request)
            if b.get("authorize_page"):
                return PlainTextResponse("<form>Sign in</form>", media_type="text/html")
            q = request.query_params
            target = f"{q['redirect_uri']}?{urlencode({'code': 'c0de-' + str(time.time_ns()), 'state': q['state']})}"
            return RedirectResponse(target, status_code=302)

        async def token(request: Request) -> Response:
            seen = await record(request)
            token_type, jkt = "Bearer", None
            if "client_public_key" in b:
                import jwt

                try:
                    claims = jwt.decode(
                        seen.form.get("client_assertion", ""),
                        b["client_public_key"],
                        algorithms=["ES256"],
                        audience=self.base,
                    )
                    assert claims["iss"] == claims["sub"] == seen.form.get("client_id")
                except (jwt.PyJWTError, AssertionError) as exc:
                    self.problems.append(f"client assertion: {exc!r}")
                    return JSONResponse({"error": "invalid_client"}, status_code=401)
            if b.get("dpop"):
                try:
                    claims = verify_proof(request.headers.get("dpop"), "POST", f"{self.base}/token")
                except AssertionError as exc:
                    self.problems.append(f"token proof: {exc}")
                    return JSONResponse({"error": "invalid_dpop_proof"}, status_code=400)
                nonce = b.get("dpop_as_nonce")
                if nonce and claims.get("nonce") != nonce:
                    return JSONResponse({"error": "use_dpop_nonce"}, status_code=400, headers={"DPoP-Nonce": nonce})
                token_type, jkt = "DPoP", claims["jkt"]
            value = f"hostile-token-{len(self.issued)}-{time.time_ns()}"
            self.issued.append(value)
            if jkt:
                self.bound[value] = jkt
            return JSONResponse({"access_token": value, "token_type": token_type, "expires_in": 3600})

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
    from mcpconnect._plugins import PluginHost
    from mcpconnect._runtime import Runtime

    def make(servers: dict) -> Runtime:
        return Runtime.build({"storage": {"backend": "memory"}, "servers": servers}, host=PluginHost(load=[]))

    return make
