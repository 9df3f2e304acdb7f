"""Token endpoints that answer badly (real HTTP, from the test server's hostile routes): each gets a
clear error and the stored token stays as it was. Plus transport security of endpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from mcpconnect.auth import TokenManager, TransientAuthError
from mcpconnect.errors import AuthError
from mcpconnect.tokens import Token

pytestmark = pytest.mark.node


def hostile(server, mode: str, **extra: object) -> dict:
    return {
        "type": "oauth2",
        "authorize_url": f"{server.issuer}/auth",
        "token_url": f"{server.issuer}/test/hostile/{mode}",
        "client_id": "confidential",
        "client_secret": "confidential-client-secret-value-0123456789",
        **extra,
    }


async def seed(manager: TokenManager, provider: str) -> Token:
    token = Token(
        provider=provider,
        account="alice",
        access_token=SecretStr("seeded-access-token-value-0001"),
        refresh_token=SecretStr("seeded-refresh-token-value-0001"),
        expires_at=datetime.now(UTC) - timedelta(minutes=1),
    )
    await manager.store.put(token)
    return token


@pytest.mark.parametrize(
    ("mode", "error", "message"),
    [
        ("html", AuthError, "answered text/html \\(HTTP 200\\) where JSON was expected"),
        ("no-access-token", AuthError, "has no access_token"),
        ("expires-garbage", AuthError, "expires_in = 'an hour', which is not a number"),
        ("server-error", TransientAuthError, "failed \\(HTTP 503"),
    ],
)
async def test_bad_token_answers_on_refresh_leave_the_token(oidc_server, make_runtime, mode, error, message):
    manager = TokenManager(make_runtime({"bad": hostile(oidc_server, mode)}), backoff=0.0, retries=1)
    seeded = await seed(manager, "bad")
    with pytest.raises(error, match=message) as info:
        await manager.get_token("bad")
    assert "provider 'bad'" in str(info.value)
    stored = await manager.store.get("bad", "alice")
    assert stored is not None and stored.version == 1 and stored.token == seeded


@pytest.mark.parametrize("mode", ["html", "no-access-token", "expires-garbage", "invalid-grant"])
async def test_bad_token_answers_on_login_store_nothing(oidc_server, make_runtime, mode):
    manager = TokenManager(make_runtime({"bad": hostile(oidc_server, mode)}))
    with pytest.raises(AuthError):
        await manager.login("bad", method="client_credentials")
    assert await manager.store.list() == []


async def test_expires_in_as_a_numeric_string_is_understood(oidc_server, make_runtime):
    manager = TokenManager(make_runtime({"str": hostile(oidc_server, "expires-string")}))
    token = await manager.login("str", method="client_credentials")
    left = token.expires_in()
    assert left is not None and timedelta(minutes=59) < left <= timedelta(hours=1)
    assert token.refresh_token is not None


def test_plain_http_endpoints_are_refused_unless_loopback_or_allowed(make_runtime):
    cfg = {
        "type": "oauth2",
        "authorize_url": "http://auth.example.test/a",
        "token_url": "https://x.test/t",
        "client_id": "c",
    }
    manager = TokenManager(make_runtime({"p": cfg}))

    async def resolve() -> None:
        async with manager.http() as http:
            await manager.provider("p").endpoints(http)

    import asyncio

    with pytest.raises(AuthError, match=r"plain http://.*allow_insecure_http = true in \[providers.p\]"):
        asyncio.run(resolve())
    allowed = TokenManager(make_runtime({"p": cfg | {"allow_insecure_http": True}}))

    async def resolve_allowed() -> str | None:
        async with allowed.http() as http:
            return (await allowed.provider("p").endpoints(http)).authorize

    assert asyncio.run(resolve_allowed()) == "http://auth.example.test/a"


def test_check_secure_url_never_shows_query_or_password():
    from mcpconnect.auth import check_secure_url, is_loopback

    with pytest.raises(AuthError) as info:
        check_secure_url(
            "http://user:hunter2-password@h.test/t?token=abc123secret",
            what="token endpoint",
            owner="provider 'p'",
            allow_insecure=False,
            how="[providers.p]",
        )
    assert "hunter2" not in str(info.value) and "abc123secret" not in str(info.value)
    assert is_loopback("http://127.0.0.1:9/x") and is_loopback("http://[::1]/") and is_loopback("http://localhost/")
    assert not is_loopback("http://127.0.0.1.example.test/")


async def test_refresh_with_the_server_down_keeps_the_token(make_runtime):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cfg = {"type": "oauth2", "token_url": f"http://127.0.0.1:{port}/token", "client_id": "c"}
    manager = TokenManager(make_runtime({"down": cfg}), backoff=0.0, retries=2)
    seeded = await seed(manager, "down")
    with pytest.raises(TransientAuthError, match="cannot reach the token endpoint"):
        await manager.get_token("down")
    stored = await manager.store.get("down", "alice")
    assert stored.version == 1 and stored.token == seeded


async def test_issuer_without_discovery_document_is_a_clear_error(oidc_server, make_runtime):
    cfg = {"type": "oidc", "issuer": f"{oidc_server.issuer}/test/hostile/nothing", "client_id": "c"}
    manager = TokenManager(make_runtime({"nodisc": cfg}))
    with pytest.raises(AuthError, match=r"publishes no discovery document.*type = \"oauth2\""):
        await manager.login("nodisc", method="client_credentials")
