"""The token manager's per-user operations against oidc-provider: a gateway user's upstream login
is stored, read and refreshed in that user's namespace only, single flight per user, and never
falls back to the shared token or to another user's."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from mcpconnect_oidc_server import CONFIDENTIAL_SECRET

from mcpconnect.auth import NeedsLoginError, TokenManager
from mcpconnect.auth._headless import follow_authorization
from mcpconnect.errors import AuthError

pytestmark = pytest.mark.node

ALICE = "https://as.example.test#alice"
BOB = "https://as.example.test#bob"


def confidential(server) -> dict:
    return {"type": "oidc", "issuer": server.issuer, "client_id": "confidential", "client_secret": CONFIDENTIAL_SECRET}


@pytest.fixture
async def manager(oidc_server, make_runtime):
    runtime = make_runtime({"local": confidential(oidc_server)})
    return TokenManager(runtime, backoff=0.01)


async def expire(manager: TokenManager, user: str) -> None:
    stored = await manager.stored("local", user=user)
    now = datetime.now(UTC)
    aged = {"expires_at": now - timedelta(seconds=60), "obtained_at": now - timedelta(hours=1)}
    await manager.store.put_for_user(user, stored.token.model_copy(update=aged), expected_version=stored.version)


async def test_a_users_login_is_theirs_alone(oidc_server, manager):
    token = await manager.login("local", on_url=follow_authorization, user=ALICE)
    assert (await manager.get_token("local", user=ALICE)).access_token == token.access_token
    # Not shared, and not bob's.
    assert await manager.store.list("local") == []
    with pytest.raises(NeedsLoginError) as info:
        await manager.get_token("local")
    with pytest.raises(NeedsLoginError) as info:
        await manager.get_token("local", user=BOB)
    assert "mcpconnect login" not in str(info.value) and "connect" in str(info.value)


async def test_no_fallback_to_the_shared_token(oidc_server, manager):
    shared = await manager.login("local", on_url=follow_authorization)
    with pytest.raises(NeedsLoginError):
        await manager.get_token("local", user=ALICE)
    mine = await manager.login("local", on_url=follow_authorization, user=ALICE)
    assert mine.access_token != shared.access_token
    assert (await manager.get_token("local")).access_token == shared.access_token
    assert (await manager.get_token("local", user=ALICE)).access_token == mine.access_token


async def test_concurrent_callers_of_one_user_refresh_once_and_users_do_not_share(oidc_server, manager):
    await manager.login("local", on_url=follow_authorization, user=ALICE)
    await manager.login("local", on_url=follow_authorization, user=BOB)
    bob_before = (await manager.get_token("local", user=BOB)).access_token
    await expire(manager, ALICE)
    oidc_server.set(reset=1)
    other = TokenManager(manager.runtime)  # a second process on the same store
    tokens = await asyncio.gather(*(m.get_token("local", user=ALICE) for m in (manager, other) for _ in range(100)))
    assert len({t.access_token.get_secret_value() for t in tokens}) == 1
    assert oidc_server.stats()["refreshGrants"] == 1
    assert (await manager.store.get_for_user(ALICE, "local", tokens[0].account)).token.access_token == tokens[
        0
    ].access_token
    # Bob's token was not touched by alice's refresh.
    assert (await manager.get_token("local", user=BOB)).access_token == bob_before


async def test_forced_refresh_and_a_rejected_token_stay_in_the_users_namespace(oidc_server, manager):
    first = await manager.login("local", on_url=follow_authorization, user=ALICE)
    refreshed = await manager.refresh("local", user=ALICE)
    assert refreshed.access_token != first.access_token
    again = await manager.refresh_rejected("local", refreshed, user=ALICE)
    assert again.access_token != refreshed.access_token
    assert await manager.store.list("local") == []
    with pytest.raises(NeedsLoginError):
        await manager.refresh_rejected("local", again, user=BOB)


async def test_client_credentials_are_no_users_login(manager):
    with pytest.raises(AuthError, match="not a user's login"):
        await manager.login("local", method="client_credentials", user=ALICE)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs a user"):
        await manager.get_token("local", user="")
