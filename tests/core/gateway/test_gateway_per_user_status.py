"""Per-user servers (``tokens = "per_user"``) in what the gateway reports: ``/healthz``, ``/ui``,
observers' operations and ``mcpconnect check``. Real parts: oidc-provider as both authorization
servers, the SDK's server as the protected upstream, a SQLite store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mcpconnect import hookimpl
from tests.core.gateway.test_gateway_per_user import (
    Browser,
    connect_link,
    connect_upstream,
    running,
    session,
    user_key,
)
from tests.core.gateway.test_gateway_resource import claims


class Operations:
    """An observer: every finished operation."""

    def __init__(self) -> None:
        self.finished: list[Any] = []

    @hookimpl
    def on_operation_finished(self, operation: Any) -> None:
        self.finished.append(operation)


@pytest.mark.node
async def test_healthz_ui_and_observers_see_per_user_servers(oidc_server):
    from mcpconnect.storage._store import user_principal

    observed = Operations()
    async with running(oidc_server, observer=observed, dashboard=True) as gw:
        async with httpx.AsyncClient() as http:
            health = await http.get(f"{gw.base}/healthz")
            # Before: "starting" and 503 for ever (a readiness probe never let traffic in).
            assert health.status_code == 200
            assert health.json() == {"status": "ok", "servers": 1, "ready": 1, "per_user": 1}

        alice = await connect_upstream(gw, oidc_server, "alice")
        async with session(gw, oidc_server, "alice") as client:
            assert not (await client.call_tool("up__echo", {"message": "hi"})).is_error
            token = oidc_server.sign(claims(oidc_server, gw.mcp, sub="alice"))
            async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http:
                status = await http.get(f"{gw.base}/ui/status.json")
            assert status.status_code == 200, status.text
            rows = {row["name"]: row for row in status.json()["servers"]}
            assert rows["up"]["state"] == "per user" and rows["up"]["ok"] is True
            assert rows["up"]["users"] == 1  # alice's connection is open
            assert "1 user(s) connected now" in status.json()["html"]["servers"]
            assert alice not in status.text  # the token's fingerprint, let alone the token: nowhere

        # bob's call: a link, nowhere on the page.
        async with session(gw, oidc_server, "bob") as client:
            link = connect_link((await client.call_tool("up__echo", {"message": "x"})).content[0].text)
            bob_token = oidc_server.sign(claims(oidc_server, gw.mcp, sub="bob"))
            async with httpx.AsyncClient(headers={"Authorization": f"Bearer {bob_token}"}) as http:
                page = (await http.get(f"{gw.base}/ui/status.json")).text
            assert link.split("ticket=")[1] not in page

        async with Browser(oidc_server.issuer, "bob") as browser:
            assert (await browser.open(link)).status_code == 200

    requests = [op for op in observed.finished if op.kind == "request" and op.server == "up"]
    assert requests, "no request operation reached the observer"
    alice_digest = user_principal(user_key(oidc_server, "alice"))
    assert {(op.method, op.target, op.outcome, op.user) for op in requests} >= {
        ("tools/call", "echo", "ok", alice_digest)
    }
    logins = [op for op in observed.finished if op.kind == "login" and op.provider == "up"]
    bob_digest = user_principal(user_key(oidc_server, "bob"))
    assert [(op.user, op.account, op.outcome) for op in logins if op.user == bob_digest] == [(bob_digest, "bob", "ok")]
    for op in observed.finished:
        assert "alice" not in repr(op) or op.account == "alice"  # the sub is never the user field
        assert op.user in (None, alice_digest, bob_digest)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_check_reports_a_per_user_server_without_a_shared_login(
    mcpconnect_isolated: Path, streamable_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import anyio

    from mcpconnect._cli import main
    from mcpconnect._runtime import Runtime
    from mcpconnect.tokens import Token

    db = mcpconnect_isolated / "tokens.db"
    base = f"""
[storage]
backend = "sqlite"
path = "{db}"

[providers.up]
type = "oidc"
issuer = "https://as.example.test"
client_id = "x"

[servers.up]
url = "{streamable_url}"
auth = "provider:up"
tokens = "per_user"

[servers.gone]
url = "http://127.0.0.1:9/mcp"
auth = "provider:up"
tokens = "per_user"
"""
    gateway = """
[gateway]
public_url = "https://mcp.example.test"
authorization_server = "https://as.example.test"
sign_in_provider = "up"
"""
    config = _write(mcpconnect_isolated / "mcpconnect.toml", base + gateway)

    async def two_users() -> None:
        runtime = Runtime.build({"storage": {"backend": "sqlite", "path": str(db)}})
        try:
            for user in ("https://as.example.test#alice", "https://as.example.test#bob"):
                token = Token(provider="up", account=user.rsplit("#")[1], access_token="secret-of-" + user[-3:])
                await runtime.store().put_for_user(user, token)
        finally:
            await runtime.aclose()

    anyio.run(two_users)
    with pytest.raises(SystemExit) as info:
        main(["--config", str(config), "check", "up", "gone", "--json"])
    out = capsys.readouterr().out
    result = json.loads(out)
    rows = {row["name"]: row for row in result["servers"]}
    # Reachable and configured as serve needs it: ok, with no shared login and no user's token.
    assert rows["up"]["ok"] is True and rows["up"]["tokens"] == "per_user" and rows["up"]["users"] == 2
    assert rows["gone"]["ok"] is False and "does not answer" in rows["gone"]["error"]
    assert info.value.code == 1  # gone is down
    assert "secret-of" not in out

    # What serve would refuse, check reports (naming the key).
    _write(config, base + gateway.replace('sign_in_provider = "up"\n', ""))
    with pytest.raises(SystemExit):
        main(["--config", str(config), "check", "up", "--json"])
    row = json.loads(capsys.readouterr().out)["servers"][0]
    assert row["ok"] is False and "sign_in_provider" in row["error"]


@pytest.mark.node
async def test_a_subscription_to_a_per_user_resource_is_refused_clearly(oidc_server):
    import warnings

    from mcp.shared.exceptions import MCPError

    async with running(oidc_server) as gw:
        await connect_upstream(gw, oidc_server, "alice")
        async with session(gw, oidc_server, "alice", mode="legacy") as client:  # the handshake's subscribe
            uris = [r.uri for r in (await client.list_resources()).resources]
            assert uris == ["mcpconnect://up/mem://note"]
            assert (await client.read_resource(uris[0])).contents[0].text == "a note"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with pytest.raises(MCPError, match=r"per_user.*not available"):
                    await client.subscribe_resource(uris[0])


@pytest.mark.node
async def test_a_static_key_user_connects_with_the_ticket_alone(oidc_server):
    """A client key is a user no sign-in can prove: the link (shorter, one use, bound to the browser
    that opens it) goes straight to the upstream's login, and the token is the key user's."""
    import hashlib

    from mcpconnect._gateway.resource import API_KEY_ISSUER, User

    key = "gateway-client-key-0123456789abcdef"
    async with running(oidc_server, keys=[key]) as gw:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"})
        async with http, Client(streamable_http_client(gw.mcp, http_client=http)) as client:
            text = (await client.call_tool("up__echo", {"message": "x"})).content[0].text
            assert "for 5 minutes" in text
            link = connect_link(text)
            async with Browser(oidc_server.issuer, "carol") as browser:
                page = await browser.open(link)
                assert page.status_code == 200, page.text
                authorizations = [u for u in browser.visited if u.startswith(oidc_server.issuer) and "client_id=" in u]
                assert len(authorizations) == 1 and "nonce=" not in authorizations[0]  # no sign-in step
                assert (await browser.open(link)).status_code == 400
            result = await client.call_tool("up__echo", {"message": "now"})
            assert not result.is_error and result.content[0].text == "now"
        me = User(API_KEY_ISSUER, "key-" + hashlib.sha256(key.encode()).hexdigest()[:16]).key
        stored = await gw.runtime.store().list_for_user(me)
        assert [(s.token.provider, s.token.account) for s in stored] == [("up", "carol")]
