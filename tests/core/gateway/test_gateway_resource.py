"""The gateway as an OAuth protected resource: RFC 9728 metadata, JWT access tokens of a real
authorization server (oidc-provider, tests/oidc/server.mjs), introspection, static keys, and the
SDK's own OAuth client logging in end to end."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import httpx
import httpx2
import jwt
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mcpconnect.testing._transport_contract import free_port
from tests.core.gateway.conftest import UPSTREAM

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
KEY = "gw-static-key-aaaaaaaaaaaaaaaa"


class Running:
    def __init__(self, base: str, seen: list[Any], app: Any) -> None:
        self.base = base
        self.mcp = f"{base}/mcp"
        self.seen = seen
        self.app = app


@contextlib.asynccontextmanager
async def running_gateway(oidc: Any, **gateway: Any) -> AsyncIterator[Running]:
    """The gateway in this process (``serve --transport http``'s parts), on a port the OS chose,
    as a protected resource of ``oidc``; ``seen`` collects the user each upstream call ran as."""
    from mcpconnect._gateway import open_gateway
    from mcpconnect._gateway.http import HttpSettings, build_app, serve_app
    from mcpconnect._gateway.server import current_user
    from mcpconnect._runtime import Runtime

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    options = {"public_url": base, "authorization_server": oidc.issuer, "required_scopes": ["mcp:tools"], **gateway}
    config = {
        "storage": {"backend": "memory"},
        "servers": {"local": {"command": sys.executable, "args": [UPSTREAM]}},
        "gateway": options,
    }
    runtime = Runtime.build(config)
    settings = HttpSettings("127.0.0.1", port, runtime.config.gateway, keys=[KEY])
    oidc.add_resource(f"{base}/mcp", "opaque" if "introspection" in gateway else "jwt")
    seen: list[Any] = []
    stop = anyio.Event()
    async with open_gateway(runtime, ["local"]) as gw:
        original = gw._upstream

        async def spy(*args: Any, **kwargs: Any) -> Any:
            seen.append(current_user())
            return await original(*args, **kwargs)

        gw._upstream = spy  # type: ignore[method-assign]
        async with anyio.create_task_group() as tg:
            app = build_app(gw, settings)
            tg.start_soon(serve_app, app, sock, stop)
            yield Running(base, seen, app)
            stop.set()
    sock.close()


async def login(oidc: Any, resource: str, *, account: str = "alice", scope: str = "mcp:tools") -> str:
    """A real access token for ``resource``: the code flow with PKCE of the public client."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    redirect = "http://127.0.0.1:1/callback"
    query = urlencode(
        {
            "response_type": "code",
            "client_id": "public-cli",
            "redirect_uri": redirect,
            "scope": scope,
            "resource": resource,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "login_hint": account,
            "state": "s",
        }
    )
    code = await follow(f"{oidc.issuer}/auth?{query}", redirect)
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{oidc.issuer}/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect,
                "client_id": "public-cli",
                "code_verifier": verifier,
                "resource": resource,
            },
        )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def follow(url: str, redirect: str) -> str:
    """Follow the authorization server's redirects (it approves at once) to ``redirect``; the code."""
    async with httpx.AsyncClient() as browser:
        for _ in range(20):
            response = await browser.get(url)
            location = response.headers.get("location")
            assert location, f"no redirect from {url}: {response.status_code} {response.text[:300]}"
            url = str(httpx.URL(url).join(location))
            if url.startswith(redirect.rsplit(":", 1)[0]) and "/callback" in url:
                params = parse_qs(urlsplit(url).query)
                assert "code" in params, params
                return params["code"][0]
    raise AssertionError("the authorization server never redirected back")


async def post(url: str, token: str | None = None) -> httpx.Response:
    headers = dict(HEADERS)
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient() as client:
        return await client.post(url, json=INITIALIZE, headers=headers)


def challenge(response: httpx.Response) -> str:
    return response.headers.get("www-authenticate", "")


async def test_metadata_names_the_resource_and_its_authorization_server(oidc_server):
    async with running_gateway(oidc_server) as gw, httpx.AsyncClient() as client:
        for path in ("/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"):
            document = (await client.get(gw.base + path)).json()
            assert document["resource"] == gw.mcp
            assert document["authorization_servers"] == [oidc_server.issuer]
            assert document["scopes_supported"] == ["mcp:tools"]
        probe = await client.get(f"{gw.base}/healthz")  # probes need no token (503 while starting)
        assert probe.status_code in (200, 503) and probe.json()["status"] in ("ok", "starting")


async def test_no_token_is_a_401_pointing_at_the_metadata(oidc_server):
    async with running_gateway(oidc_server) as gw:
        response = await post(gw.mcp)
        assert response.status_code == 401
        header = challenge(response)
        assert header.startswith("Bearer ")
        assert f'resource_metadata="{gw.base}/.well-known/oauth-protected-resource/mcp"' in header
        assert "invalid_token" not in header and 'scope="mcp:tools"' in header


async def test_a_valid_token_calls_a_tool_as_its_user(oidc_server):
    async with running_gateway(oidc_server) as gw:
        token = await login(oidc_server, gw.mcp, account="bob")
        client = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"})
        async with client, Client(streamable_http_client(gw.mcp, http_client=client)) as session:
            result = await session.call_tool("local__echo", {"message": "hi"})
            assert not result.is_error and result.content[0].text == "hi"
        users = [u for u in gw.seen if u is not None]
        assert users and all(u.subject == "bob" and u.issuer == oidc_server.issuer for u in users)
        assert "mcp:tools" in users[0].scopes
        assert None not in gw.seen


async def test_a_session_serves_only_the_user_who_opened_it(oidc_server):
    async with running_gateway(oidc_server) as gw:
        alice = oidc_server.sign(claims(oidc_server, gw.mcp, sub="alice"))
        bob = oidc_server.sign(claims(oidc_server, gw.mcp, sub="bob"))
        opened = await post(gw.mcp, alice)
        session = opened.headers["mcp-session-id"]
        listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}
        async with httpx.AsyncClient() as client:
            for token, status in ((bob, 404), (KEY, 404), (alice, 200)):
                response = await client.post(
                    gw.mcp,
                    json=listing,
                    headers={
                        **HEADERS,
                        "authorization": f"Bearer {token}",
                        "mcp-session-id": session,
                        "mcp-protocol-version": "2025-11-25",
                    },
                )
                assert response.status_code == status


def claims(oidc: Any, resource: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": oidc.issuer, "aud": resource, "sub": "carol", "iat": now, "exp": now + 600, "scope": "mcp:tools"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


async def test_tokens_that_are_not_for_this_gateway_are_refused(oidc_server):
    async with running_gateway(oidc_server) as gw:
        good = oidc_server.sign(claims(oidc_server, gw.mcp))
        assert (await post(gw.mcp, good)).status_code == 200  # the control: the same key, right claims
        now = int(time.time())
        refused = {
            "wrong audience": oidc_server.sign(claims(oidc_server, "https://api.example.test/")),
            "expired": oidc_server.sign(claims(oidc_server, gw.mcp, iat=now - 7200, exp=now - 3600)),
            "not yet valid": oidc_server.sign(claims(oidc_server, gw.mcp, nbf=now + 3600)),
            "wrong issuer": oidc_server.sign(claims(oidc_server, gw.mcp, iss="https://evil.example.test")),
            "no subject": oidc_server.sign(claims(oidc_server, gw.mcp, sub=None)),
            "unknown kid": oidc_server.sign(claims(oidc_server, gw.mcp), {"kid": "no-such-key"}),
            "HS256": jwt.encode(claims(oidc_server, gw.mcp), "a-shared-secret-of-32-bytes-long!", algorithm="HS256"),
            "none": jwt.encode(claims(oidc_server, gw.mcp), None, algorithm="none"),
            "tampered": good[:-8] + ("A" * 8 if not good.endswith("A" * 8) else "B" * 8),
            "garbage": "not-a-jwt-at-all",
            "oversize": oidc_server.sign(claims(oidc_server, gw.mcp, pad="x" * 9000)),
            "a real token for another resource": await login(
                oidc_server, "https://api.example.test/", scope="api:read"
            ),
        }
        for what, token in refused.items():
            response = await post(gw.mcp, token)
            assert response.status_code == 401, what
            assert 'error="invalid_token"' in challenge(response), what
            assert "resource_metadata=" in challenge(response), what
            assert token not in response.text, what


async def test_the_jwks_is_cached_and_refetched_for_an_unknown_key_at_most_every_30_s(oidc_server):
    from mcpconnect._gateway.resource import TokenVerifier

    verifier = TokenVerifier(oidc_server.issuer, "http://127.0.0.1:1/mcp")
    oidc_server.reset()
    good = oidc_server.sign(claims(oidc_server, "http://127.0.0.1:1/mcp"))
    for _ in range(3):
        assert (await verifier.verify(good)).subject == "carol"
    assert oidc_server.stats()["jwksRequests"] == 1
    unknown = oidc_server.sign(claims(oidc_server, "http://127.0.0.1:1/mcp"), {"kid": "rotated-in-later"})
    for _ in range(5):  # a flood of unknown kids right after a fetch: no refetch
        with pytest.raises(Exception, match="no key 'rotated-in-later'"):
            await verifier.verify(unknown)
    assert oidc_server.stats()["jwksRequests"] == 1
    verifier._jwks_fetched -= 31  # as if 31 s had passed: one refetch, then quiet again
    for _ in range(5):
        with pytest.raises(Exception, match="no key"):
            await verifier.verify(unknown)
    assert oidc_server.stats()["jwksRequests"] == 2
    assert (await verifier.verify(good)).subject == "carol"


async def test_an_unreachable_authorization_server_is_a_503_not_a_bad_token(oidc_server):
    from mcpconnect._gateway.resource import TokenVerifier

    async with running_gateway(oidc_server) as gw:
        guard = gw.app
        guard.verifier = TokenVerifier("http://127.0.0.1:1", gw.mcp)  # nothing listens there
        for _ in range(3):  # the first request tries; the next ones, within 30 s, do not, and still say 503
            response = await post(gw.mcp, oidc_server.sign(claims(oidc_server, gw.mcp)))
            assert response.status_code == 503 and response.json()["error"] == "temporarily_unavailable"
            assert response.headers["retry-after"] == "5"


async def test_a_token_without_the_scope_is_a_403_naming_it(oidc_server):
    async with running_gateway(oidc_server) as gw:
        response = await post(gw.mcp, oidc_server.sign(claims(oidc_server, gw.mcp, scope="mcp:admin")))
        assert response.status_code == 403
        assert 'error="insufficient_scope"' in challenge(response) and 'scope="mcp:tools"' in challenge(response)
        # A real token the authorization server issued with another of the resource's scopes only.
        real = await login(oidc_server, gw.mcp, scope="mcp:admin")
        assert (await post(gw.mcp, real)).status_code == 403


async def test_static_keys_still_admit_small_setups(oidc_server):
    async with running_gateway(oidc_server) as gw:
        assert (await post(gw.mcp, KEY)).status_code == 200
        assert (await post(gw.mcp, KEY[:-1] + "b")).status_code == 401
        async with httpx.AsyncClient() as client:  # /metrics: a scraper with a key, nobody without
            assert (await client.get(f"{gw.base}/metrics")).status_code == 401
            keyed = await client.get(f"{gw.base}/metrics", headers={"authorization": f"Bearer {KEY}"})
            assert keyed.status_code in (200, 404)  # 404: no Prometheus exporter installed here


async def test_introspection_checks_tokens_at_the_issuer(oidc_server, monkeypatch):
    from mcpconnect_oidc_server import CONFIDENTIAL_SECRET

    monkeypatch.setenv("GW_INTROSPECT_ID", "confidential")
    monkeypatch.setenv("GW_INTROSPECT_SECRET", CONFIDENTIAL_SECRET)
    introspection = {"client_id_env": "GW_INTROSPECT_ID", "client_secret_env": "GW_INTROSPECT_SECRET"}
    async with running_gateway(oidc_server, introspection=introspection) as gw:
        token = await login(oidc_server, gw.mcp, account="bob")
        client = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"})
        async with client, Client(streamable_http_client(gw.mcp, http_client=client)) as session:
            assert (await session.call_tool("local__echo", {"message": "x"})).content[0].text == "x"
        assert [u.subject for u in gw.seen] == ["bob"] * len(gw.seen) and gw.seen
        # Each request of the session carried the token; the issuer was asked once, then the answer reused.
        assert oidc_server.stats()["introspections"] == 1
        # Signed by the issuer's key but never issued: introspection knows nothing of it.
        forged = oidc_server.sign(claims(oidc_server, gw.mcp))
        assert (await post(gw.mcp, forged)).status_code == 401
        # Issued, active, but for another resource; and revoked.
        other = await login(oidc_server, "https://api.example.test/", scope="api:read")
        assert (await post(gw.mcp, other)).status_code == 401
        assert (await post(gw.mcp, "an-opaque-token-nobody-issued")).status_code == 401


async def test_the_sdk_oauth_client_logs_in_through_the_gateway(oidc_server):
    from mcp.client.auth import OAuthClientProvider
    from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

    class Memory:
        def __init__(self) -> None:
            self.tokens: OAuthToken | None = None
            self.client = OAuthClientInformationFull(
                client_id="public-cli",
                redirect_uris=["http://127.0.0.1:1/callback"],
                token_endpoint_auth_method="none",
                grant_types=["authorization_code", "refresh_token"],
            )

        async def get_tokens(self) -> OAuthToken | None:
            return self.tokens

        async def set_tokens(self, tokens: OAuthToken) -> None:
            self.tokens = tokens

        async def get_client_info(self) -> OAuthClientInformationFull | None:
            return self.client

        async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
            self.client = client_info

    codes: list[str] = []
    visited: list[str] = []

    async def redirect_handler(url: str) -> None:
        visited.append(url)
        codes.append(await follow(url, "http://127.0.0.1:1/callback"))

    async def callback_handler() -> AuthorizationCodeResult:
        state = parse_qs(urlsplit(visited[-1]).query)["state"][0]
        return AuthorizationCodeResult(code=codes[-1], state=state, iss=oidc_server.issuer)

    async with running_gateway(oidc_server) as gw:
        storage = Memory()
        auth = OAuthClientProvider(
            gw.mcp,
            OAuthClientMetadata(redirect_uris=["http://127.0.0.1:1/callback"], token_endpoint_auth_method="none"),
            storage,
            redirect_handler=redirect_handler,
            callback_handler=callback_handler,
        )
        client = httpx2.AsyncClient(auth=auth)
        async with client, Client(streamable_http_client(gw.mcp, http_client=client)) as session:
            result = await session.call_tool("local__echo", {"message": "through oauth"})
            assert result.content[0].text == "through oauth"
        query = parse_qs(urlsplit(visited[0]).query)
        # Discovered from the 401 and the metadata it points at: this resource, the scope it needs.
        assert query["resource"] == [gw.mcp] and "mcp:tools" in query["scope"][0].split()
        assert storage.tokens is not None
        assert jwt.decode(storage.tokens.access_token, options={"verify_signature": False})["aud"] == gw.mcp
        assert gw.seen and all(u.subject == "alice" for u in gw.seen)


# -- configuration --------------------------------------------------------------------------------


def serve(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    from tests.core.gateway.conftest import serve_argv

    argv = serve_argv(config, "--transport", "http", "--port", str(free_port()), *args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})


@pytest.mark.parametrize(
    ("gateway", "key", "words"),
    [
        ('authorization_server = "https://auth.example.test"', "gateway", "needs public_url"),
        ('public_url = "http://mcp.example.test"', "gateway.public_url", "use https"),
        ('public_url = "mcp.example.test"', "gateway.public_url", "absolute"),
        ('required_scopes = ["two words"]', "gateway.required_scopes", "not a scope"),
        (
            'public_url = "https://mcp.example.test"\nauthorization_server = "https://a.example.test"\n'
            '[gateway.introspection]\nclient_id_env = "GW_UNSET_ID"\nclient_secret_env = "GW_UNSET_SECRET"',
            "gateway.introspection.client_id_env",
            "GW_UNSET_ID",
        ),
    ],
)
def test_bad_gateway_settings_exit_2_naming_the_key(tmp_path, gateway, key, words):
    config = tmp_path / "mcpconnect.toml"
    config.write_text(
        f'[storage]\nbackend = "memory"\n[servers.local]\ncommand = "{sys.executable}"\nargs = ["{UPSTREAM}"]\n'
        f"[gateway]\n{gateway}\n"
    )
    result = serve(config)
    assert result.returncode == 2, result.stderr
    assert key in result.stderr and words in result.stderr and "Traceback" not in result.stderr


def test_serve_over_http_is_a_protected_resource(tmp_path, oidc_server):
    """The CLI end to end: ``mcpconnect serve --transport http`` with ``authorization_server``."""
    from tests.core.gateway.conftest import _healthy, serve_argv, stop, wait_until

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    oidc_server.add_resource(f"{base}/mcp")
    config = tmp_path / "mcpconnect.toml"
    config.write_text(
        f'[storage]\nbackend = "memory"\n[servers.local]\ncommand = "{sys.executable}"\nargs = ["{UPSTREAM}"]\n'
        f'[gateway]\npublic_url = "{base}"\nauthorization_server = "{oidc_server.issuer}"\n'
    )
    process = subprocess.Popen(
        serve_argv(config, "--transport", "http", "--port", str(port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: _healthy(base, process), what=f"serve on port {port}")
        assert httpx.get(f"{base}/.well-known/oauth-protected-resource/mcp").json()["resource"] == f"{base}/mcp"
        refused = httpx.post(f"{base}/mcp", json=INITIALIZE, headers=HEADERS)
        assert refused.status_code == 401 and "resource_metadata=" in refused.headers["www-authenticate"]
        token = oidc_server.sign(claims(oidc_server, f"{base}/mcp"))
        admitted = httpx.post(f"{base}/mcp", json=INITIALIZE, headers={**HEADERS, "authorization": f"Bearer {token}"})
        assert admitted.status_code == 200
    finally:
        stop(process)


def test_an_authorization_server_allows_a_non_loopback_address(tmp_path):
    from mcpconnect._config import GatewayConfig
    from mcpconnect._gateway.http import HttpSettings

    config = GatewayConfig(public_url="https://mcp.example.test", authorization_server="https://auth.example.test")
    assert "https://auth.example.test" in repr(config)  # an issuer URL, shown as it is (not a secret)
    assert HttpSettings("0.0.0.0", 0, config).keys == []  # no ConfigError: tokens guard it
    with pytest.raises(Exception, match="api_keys_env"):
        HttpSettings("0.0.0.0", 0, GatewayConfig())
