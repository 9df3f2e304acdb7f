"""Per-user upstream tokens (``tokens = "per_user"``) through the HTTP gateway, with real parts:
oidc-provider (tests/oidc) is the gateway's authorization server and the upstream's provider, and
a protected upstream (the SDK's server over streamable HTTP) checks every token at the provider's
userinfo endpoint and records whose token each request carried."""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from mcpconnect_oidc_server import CONFIDENTIAL_SECRET

from mcpconnect.auth._headless import follow_authorization
from tests.core.gateway.test_gateway_resource import claims

pytestmark = pytest.mark.node


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class Recorder:
    """The upstream's guard: 401 unless the provider's userinfo vouches for the bearer token; each
    admitted request is recorded as (token fingerprint, the provider's ``sub`` for it)."""

    def __init__(self, app: Any, issuer: str) -> None:
        self.app, self.issuer = app, issuer
        self.seen: list[tuple[str, str]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization", b"").decode()
        if header.lower().startswith("bearer "):
            async with httpx.AsyncClient() as http:
                me = await http.get(f"{self.issuer}/me", headers={"Authorization": header})
            if me.status_code == 200:
                self.seen.append((fingerprint(header[7:].strip()), me.json()["sub"]))
                await self.app(scope, receive, send)
                return
        body = json.dumps({"error": "invalid_token"}).encode()
        headers = [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def listening() -> tuple[socket.socket, str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}"


class Running:
    def __init__(self, base: str, gateway: Any, runtime: Any, upstream: Recorder) -> None:
        self.base, self.mcp = base, f"{base}/mcp"
        self.gateway, self.runtime, self.upstream = gateway, runtime, upstream


def per_user_config(oidc: Any, up_base: str, base: str, storage: dict[str, Any] | None = None) -> dict[str, Any]:
    """The upstream ``up`` per_user behind a gateway at ``base`` whose users are oidc's, who sign in
    at /connect with the provider ``gw`` (a client of the same issuer)."""
    client = {"type": "oidc", "issuer": oidc.issuer, "client_id": "confidential", "client_secret": CONFIDENTIAL_SECRET}
    return {
        "storage": storage or {"backend": "memory"},
        "providers": {"up": dict(client), "gw": dict(client)},
        "servers": {"up": {"url": f"{up_base}/mcp", "auth": "provider:up", "tokens": "per_user"}},
        "gateway": {
            "public_url": base,
            "authorization_server": oidc.issuer,
            "required_scopes": ["mcp:tools"],
            "sign_in_provider": "gw",
        },
    }


def upstream_app(oidc: Any) -> Recorder:
    upstream_server = MCPServer("per-user-upstream")

    @upstream_server.tool()
    def echo(message: str) -> str:
        """Echo the message back."""
        return message

    @upstream_server.resource("mem://note")
    def note() -> str:
        """A note."""
        return "a note"

    return Recorder(upstream_server.streamable_http_app(), oidc.issuer)


@contextlib.asynccontextmanager
async def running(
    oidc: Any,
    storage: dict[str, Any] | None = None,
    *,
    observer: Any = None,
    dashboard: bool = False,
    keys: list[str] | None = None,
) -> AsyncIterator[Running]:
    """The protected upstream and the gateway (as ``serve --transport http`` runs them) in this
    process, each on a port the OS chose; the upstream ``up`` is configured per_user. ``observer``:
    a plugin registered first; ``dashboard``: serve ``/ui`` too."""
    from mcpconnect._gateway.http import HttpSettings, build_app, serve_app
    from mcpconnect._runtime import Runtime
    from mcpconnect.gateway import open_gateway

    recorder = upstream_app(oidc)
    up_sock, up_base = listening()
    gw_sock, base = listening()
    config = per_user_config(oidc, up_base, base, storage)
    runtime = Runtime.build(config)
    if observer is not None:
        runtime.host.register_plugin(observer, kind="plugin", name="observer")
    settings = HttpSettings("127.0.0.1", gw_sock.getsockname()[1], runtime.config.gateway, keys=keys or [])
    oidc.add_resource(f"{base}/mcp", "jwt")
    stop = anyio.Event()
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(serve_app, recorder, up_sock, stop)
            async with open_gateway(runtime, ["up"]) as gw:
                tg.start_soon(serve_app, build_app(gw, settings, runtime if dashboard else None), gw_sock, stop)
                yield Running(base, gw, runtime, recorder)
                stop.set()
    finally:
        await runtime.aclose()
        up_sock.close()
        gw_sock.close()


def user_key(oidc: Any, sub: str) -> str:
    from mcpconnect._gateway.resource import User

    return User(oidc.issuer, sub).key


async def connect_upstream(gw: Running, oidc: Any, sub: str) -> str:
    """``sub`` logs in to the upstream's provider as themself; the fingerprint of their token."""
    from mcpconnect.auth import token_manager

    async def as_user(url: str) -> Any:
        return await follow_authorization(f"{url}&login_hint={sub}")

    manager = token_manager(gw.runtime)
    token = await manager.login("up", on_url=as_user, user=user_key(oidc, sub))
    assert token.account == sub
    return fingerprint(token.access_token.get_secret_value())


@contextlib.asynccontextmanager
async def session(gw: Running, oidc: Any, sub: str, mode: str = "auto") -> AsyncIterator[Any]:
    token = oidc.sign(claims(oidc, gw.mcp, sub=sub))
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"})
    async with http, Client(streamable_http_client(gw.mcp, http_client=http), mode=mode) as client:
        yield client


async def test_each_users_call_carries_that_users_token_only(oidc_server):
    async with running(oidc_server) as gw:
        alice = await connect_upstream(gw, oidc_server, "alice")
        bob = await connect_upstream(gw, oidc_server, "bob")
        assert alice != bob
        for sub, mine, other in (("alice", alice, bob), ("bob", bob, alice), ("alice", alice, bob)):
            before = len(gw.upstream.seen)
            async with session(gw, oidc_server, sub) as client:
                names = [t.name for t in (await client.list_tools()).tools]
                assert "up__echo" in names
                result = await client.call_tool("up__echo", {"message": f"hi {sub}"})
                assert not result.is_error and result.content[0].text == f"hi {sub}"
            during = gw.upstream.seen[before:]
            assert during, "the upstream saw no request"
            assert {fp for fp, _ in during} == {mine}, f"{sub}'s calls carried another token"
            assert {who for _, who in during} == {sub}
            assert other not in {fp for fp, _ in during}
        # Nothing shared was made or used: no shared login, no hub connection to the upstream.
        assert await gw.runtime.store().list() == []
        assert "up" not in gw.gateway.hub.servers


async def test_a_user_without_a_login_gets_the_connect_link_and_never_anothers_token(oidc_server):
    async with running(oidc_server) as gw:
        await connect_upstream(gw, oidc_server, "alice")
        async with session(gw, oidc_server, "alice") as client:
            assert not (await client.call_tool("up__echo", {"message": "x"})).is_error
        before = len(gw.upstream.seen)
        async with session(gw, oidc_server, "bob") as client:
            assert "up__echo" not in [t.name for t in (await client.list_tools()).tools]
            result = await client.call_tool("up__echo", {"message": "x"})
        assert result.is_error
        text = result.content[0].text
        assert f"{gw.base}/connect/up" in text and "not connected" in text
        assert gw.upstream.seen[before:] == [], "bob's call reached the upstream with someone's token"


async def test_idle_connections_close_and_are_made_again(oidc_server):
    async with running(oidc_server) as gw:
        await connect_upstream(gw, oidc_server, "alice")
        users = gw.gateway._users
        async with session(gw, oidc_server, "alice") as client:
            assert not (await client.call_tool("up__echo", {"message": "1"})).is_error
            assert len(users) == 1
            users.close_idle(now=anyio.current_time() + users.idle)
            assert len(users) == 0
            result = await client.call_tool("up__echo", {"message": "2"})
            assert not result.is_error and result.content[0].text == "2"
            assert len(users) == 1


async def test_a_revoked_login_gets_the_link_again(oidc_server):
    from mcpconnect.auth import token_manager

    async with running(oidc_server) as gw:
        await connect_upstream(gw, oidc_server, "alice")
        async with session(gw, oidc_server, "alice") as client:
            assert not (await client.call_tool("up__echo", {"message": "1"})).is_error
            manager = token_manager(gw.runtime)
            stored = await manager.stored("up", user=user_key(oidc_server, "alice"))
            await gw.runtime.store().delete_for_user(user_key(oidc_server, "alice"), "up", stored.token.account)
            gw.gateway._users.close_idle(now=anyio.current_time() + gw.gateway._users.idle)
            result = await client.call_tool("up__echo", {"message": "2"})
            assert result.is_error and f"{gw.base}/connect/up" in result.content[0].text


PROVIDER = '[providers.gh]\ntype = "oidc"\nissuer = "https://as.example.test"\nclient_id = "x"\n'
SERVER = '[servers.a]\nurl = "https://a.example.test/mcp"\nauth = "provider:gh"\ntokens = "per_user"\n'


@pytest.mark.parametrize(
    ("argv", "says"),
    [(["serve"], "--transport http"), (["serve", "--transport", "http", "--port", "0"], "authorization_server")],
)
def test_serve_refuses_a_per_user_server_without_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    from mcpconnect._cli import main

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "mcpconnect.toml"
    path.write_text(PROVIDER + SERVER)
    path.chmod(0o600)
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "servers.a.tokens" in err and says in err


class Browser:
    """A person's browser: one cookie jar, following redirects itself. At the authorization server
    it signs in as ``person`` (tests/oidc logs in whoever ``login_hint`` names, as a person typing
    their password would be). ``route`` may send a URL elsewhere (a load balancer's choice)."""

    def __init__(self, issuer: str, person: str, route: Any = None) -> None:
        self.issuer, self.person, self.route = issuer, person, route
        self.http = httpx.AsyncClient(follow_redirects=False, timeout=30)
        self.visited: list[str] = []

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def open(self, url: str, *, stop_at: str | None = None) -> Any:
        """The final page; or, with ``stop_at``, the first URL redirected to that starts so (not
        opened)."""
        from urllib.parse import urljoin

        for hop in range(30):
            if url.startswith(self.issuer) and "response_type=" in url:
                url += f"&login_hint={self.person}"
            if self.route is not None:
                url = self.route(url)
            if hop and stop_at is not None and url.startswith(stop_at):
                return url
            self.visited.append(url)
            response = await self.http.get(url)
            if response.status_code not in (301, 302, 303, 307):
                return response
            url = urljoin(url, response.headers["location"])
        raise AssertionError(f"too many redirects, last {url}")


def connect_link(text: str) -> str:
    import re

    found = re.search(r"(http://\S+/connect/up\?ticket=\S+?)(?=\s|$)", text)
    assert found, text
    return found.group(1)


async def test_the_connect_link_runs_the_code_flow_for_that_user_only(oidc_server):
    async with running(oidc_server) as gw, session(gw, oidc_server, "bob") as client:
        result = await client.call_tool("up__echo", {"message": "x"})
        assert result.is_error
        link = connect_link(result.content[0].text)
        # The browser carries no gateway token: the link's ticket, then bob's sign-in, stand for bob.
        async with Browser(oidc_server.issuer, "bob") as browser:
            forged = await browser.open(f"{gw.base}/connect/up?ticket=forged")
            assert forged.status_code == 400 and "not valid" in forged.text
            assert (await browser.open(f"{gw.base}/connect/callback?state=forged&code=x")).status_code == 400
        async with Browser(oidc_server.issuer, "bob") as browser:
            page = await browser.open(link)
            assert page.status_code == 200, page.text
            assert "connected" in page.text
            # Two logins at the authorization server: the gateway's sign-in, then the upstream's.
            authorizations = [u for u in browser.visited if u.startswith(oidc_server.issuer) and "client_id=" in u]
            assert len(authorizations) == 2 and "nonce=" in authorizations[0] and "openid" in authorizations[0]
            again = await browser.open(link)  # one use
            assert again.status_code == 400
        stored = await gw.runtime.store().list_for_user(user_key(oidc_server, "bob"))
        assert [s.token.provider for s in stored] == ["up"]
        assert stored[0].token.account == "bob"
        assert await gw.runtime.store().list() == []  # not shared
        assert await gw.runtime.store().list_for_user(user_key(oidc_server, "alice")) == []
        before = len(gw.upstream.seen)
        result = await client.call_tool("up__echo", {"message": "now"})
        assert not result.is_error and result.content[0].text == "now"
        bob_fp = fingerprint(stored[0].token.access_token.get_secret_value())
        assert {fp for fp, _ in gw.upstream.seen[before:]} == {bob_fp}


async def test_an_expiring_user_token_is_refreshed_once_for_that_user_only(oidc_server):
    import asyncio
    from datetime import UTC, datetime, timedelta

    async with running(oidc_server) as gw:
        await connect_upstream(gw, oidc_server, "alice")
        bob = await connect_upstream(gw, oidc_server, "bob")
        store, key = gw.runtime.store(), user_key(oidc_server, "alice")
        stored = (await store.list_for_user(key))[0]
        now = datetime.now(UTC)
        aged = {"expires_at": now - timedelta(seconds=60), "obtained_at": now - timedelta(hours=1)}
        await store.put_for_user(key, stored.token.model_copy(update=aged), expected_version=stored.version)
        oidc_server.set(reset=1)
        before = len(gw.upstream.seen)
        async with session(gw, oidc_server, "alice") as client:
            results = await asyncio.gather(*(client.call_tool("up__echo", {"message": str(i)}) for i in range(10)))
        assert all(not r.is_error for r in results)
        assert oidc_server.stats()["refreshGrants"] == 1
        fresh = (await store.list_for_user(key))[0].token
        assert fresh.access_token != stored.token.access_token
        seen = {fp for fp, _ in gw.upstream.seen[before:]}
        assert seen == {fingerprint(fresh.access_token.get_secret_value())}
        assert bob not in seen
        assert (await store.list_for_user(user_key(oidc_server, "bob")))[0].token.access_token != fresh.access_token
