"""Per-user upstream tokens (a protected gateway's users): keyed by user as well as provider and
account, on real backends; one user's token is never returned for another, nor for the shared
lookup, nor the shared one for a user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpconnect._config import StorageConfig
from mcpconnect._plugins import PluginHost
from mcpconnect.errors import StoreError
from mcpconnect.storage._factory import open_store
from mcpconnect.storage._store import TokenStore
from mcpconnect.tokens import Token

from ...plugins.store_shared.storeservices import postgres_storage  # noqa: F401 - a fixture

ALICE = "https://login.example.test#alice"
BOB = "https://login.example.test#bob"
ALICE_ELSEWHERE = "https://other.example.test#alice"  # the same sub at another issuer: another user


def token(secret: str, provider: str = "github", account: str = "octo") -> Token:
    return Token(provider=provider, account=account, access_token=secret)


@pytest.fixture(params=["memory", "sqlite", "redis", "postgres"])
async def store(request, tmp_path) -> AsyncIterator[TokenStore]:
    if request.param == "memory":
        options: dict[str, Any] = {"backend": "memory"}
    elif request.param == "sqlite":
        options = {"backend": "sqlite", "path": str(tmp_path / "tokens.db"), "encryption": "off"}
    else:
        options = request.getfixturevalue(f"{request.param}_storage")
    opened = open_store(StorageConfig.model_validate(options), PluginHost())
    try:
        yield opened
    finally:
        await opened.close()


async def test_a_users_token_is_theirs_alone(store):
    await store.put_for_user(ALICE, token("alice-secret"))
    assert (await store.get_for_user(ALICE, "github", "octo")).token.access_token.get_secret_value() == "alice-secret"
    assert await store.get_for_user(BOB, "github", "octo") is None
    assert await store.get_for_user(ALICE_ELSEWHERE, "github", "octo") is None
    assert await store.get("github", "octo") is None  # not the shared token either
    assert await store.list() == []  # nor in any listing of shared tokens

    await store.put(token("shared-secret"))
    assert await store.get_for_user(BOB, "github", "octo") is None  # no fallback to the shared one
    await store.put_for_user(BOB, token("bob-secret"))
    secrets = {
        user: (await store.get_for_user(user, "github", "octo")).token.access_token.get_secret_value()
        for user in (ALICE, BOB)
    }
    assert secrets == {ALICE: "alice-secret", BOB: "bob-secret"}
    assert (await store.get("github", "octo")).token.access_token.get_secret_value() == "shared-secret"
    assert [s.token.access_token.get_secret_value() for s in await store.list_for_user(BOB)] == ["bob-secret"]

    assert await store.delete_for_user(ALICE, "github", "octo")
    assert await store.get_for_user(ALICE, "github", "octo") is None
    assert await store.get_for_user(BOB, "github", "octo") is not None
    assert await store.get("github", "octo") is not None


async def test_compare_and_swap_is_per_user(store):
    from mcpconnect.errors import VersionConflict

    version = await store.put_for_user(ALICE, token("a1"))
    await store.put_for_user(BOB, token("b1"))
    await store.put_for_user(ALICE, token("a2"), expected_version=version)
    with pytest.raises(VersionConflict):
        await store.put_for_user(ALICE, token("a3"), expected_version=version)
    assert (await store.get_for_user(ALICE, "github", "octo")).token.access_token.get_secret_value() == "a2"


async def test_one_users_refresh_never_holds_up_another(store):
    async with store.refresh_lock_for_user(ALICE, "github", "octo", lease=30, wait=30):
        with anyio.fail_after(20):  # a deadlock guard only: Bob's lock is free
            async with store.refresh_lock_for_user(BOB, "github", "octo", lease=30, wait=30):
                pass


def test_a_user_is_required():
    from mcpconnect.storage._store import user_principal

    with pytest.raises(ValueError, match="would be shared"):
        user_principal("")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    users=st.lists(st.text(min_size=1, max_size=40), min_size=2, max_size=4, unique=True),
    provider=st.text(min_size=1, max_size=12),
    account=st.text(min_size=1, max_size=12),
)
def test_no_user_ever_reads_another_users_token(users, provider, account):
    """Whatever the issuer, sub, provider and account hold (``/``, ``%``, ``#``, unicode)."""

    async def check() -> None:
        store = open_store(StorageConfig(backend="memory"), PluginHost(load=[]))
        for user in users:
            await store.put_for_user(user, Token(provider=provider, account=account, access_token=f"t:{user}"))
        for user in users:
            found = await store.get_for_user(user, provider, account)
            assert found is not None and found.token.access_token.get_secret_value() == f"t:{user}"
            assert [s.token.access_token.get_secret_value() for s in await store.list_for_user(user)] == [f"t:{user}"]
        assert await store.get(provider, account) is None

    anyio.run(check)


async def test_a_record_under_another_users_key_is_never_handed_out(store):
    """A record copied under Bob's key (a bug, a restore gone wrong) whose own names disagree with
    the key is damaged, not Bob's token."""
    from mcpconnect.storage._store import USER_TOKENS, user_token_key

    await store.put_for_user(ALICE, token("alice-secret", account="alice-account"))
    record = await store.backend.get(USER_TOKENS, user_token_key(ALICE, "github", "alice-account"))
    await store.backend.put(USER_TOKENS, user_token_key(BOB, "github", "octo"), record.data)
    with pytest.raises(StoreError, match="does not match its key"):
        await store.get_for_user(BOB, "github", "octo")
    assert await store.list_for_user(BOB) == []
