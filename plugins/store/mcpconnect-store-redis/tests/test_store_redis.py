"""The redis store on the real Redis at 127.0.0.1: the contract, shared use, bad servers."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mcpconnect_store_redis import RedisBackend
from pydantic import SecretStr
from storeservices import (
    CountingTokenServer,
    backend_options,
    kill_writer_mid_write,
    run_single_flight,
)

from mcpconnect._config.model import StorageConfig
from mcpconnect._plugins import PluginHost
from mcpconnect.errors import StoreError
from mcpconnect.storage._factory import open_store
from mcpconnect.testing import StorageBackendContract
from mcpconnect.tokens import Token

pytestmark = pytest.mark.redis


class TestRedisContract(StorageBackendContract):
    takes_over_expired_leases = True

    @pytest.fixture
    async def backend(self, redis_storage: dict[str, Any]) -> Any:
        backend = RedisBackend(**backend_options(redis_storage))
        yield backend
        await backend.close()

    @pytest.fixture
    async def second_backend(self, redis_storage: dict[str, Any]) -> Any:
        backend = RedisBackend(**backend_options(redis_storage))
        yield backend
        await backend.close()


async def test_prefixes_keep_stores_apart(redis_storage: dict[str, Any]) -> None:
    options = backend_options(redis_storage)
    other = {**options, "prefix": options["prefix"] + "other:"}
    async with RedisBackend(**options) as one, RedisBackend(**other) as two:
        await one.put("token", "k", b"one")
        assert await two.get("token", "k") is None


async def test_unreachable_redis_names_the_url_without_its_password() -> None:
    backend = RedisBackend(url="redis://app:s3cr3t-pass@127.0.0.1:1/0", connect_timeout=1)
    with pytest.raises(StoreError) as info:
        await backend.get("token", "k")
    message = str(info.value)
    assert "redis://app:***@127.0.0.1:1/0" in message
    assert "cannot reach Redis" in message
    assert "s3cr3t-pass" not in message and "s3cr3t-pass" not in repr(backend)
    await backend.close()


async def test_wrong_password_is_a_clear_error(redis_storage: dict[str, Any]) -> None:
    url = redis_storage["url"].replace("redis://", "redis://nobody-here:wrong-secret-pw@", 1)
    backend = RedisBackend(url=url, prefix=redis_storage["prefix"])
    with pytest.raises(StoreError) as info:
        await backend.put("token", "k", b"x")
    message = str(info.value)
    assert "refused the user name or password" in message
    assert "wrong-secret-pw" not in message and "nobody-here:***@" in message
    await backend.close()


async def test_encryption_is_optional_and_off_by_default(redis_storage: dict[str, Any], tmp_path: Any) -> None:
    token = Token(provider="acme", account="a", access_token="plain-access-token-123456")
    plain = open_store(StorageConfig.model_validate(redis_storage), PluginHost())
    assert plain.cipher is None
    await plain.put(token)
    raw = await plain.backend.get("token", "acme/a")
    assert raw is not None and b"plain-access-token-123456" in raw.data
    await plain.close()

    options = {**redis_storage, "encryption": "on", "key_file": str(tmp_path / "k.key")}
    sealed = open_store(StorageConfig.model_validate(options), PluginHost())
    assert sealed.cipher is not None
    await sealed.put(token.model_copy(update={"account": "b"}))
    raw = await sealed.backend.get("token", "acme/b")
    assert raw is not None and b"plain-access-token" not in raw.data
    got = await sealed.get("acme", "b")
    assert got is not None and got.token.access_token.get_secret_value() == "plain-access-token-123456"
    await sealed.close()


async def test_eight_processes_refresh_one_expired_token_once(redis_storage: dict[str, Any]) -> None:
    store = open_store(StorageConfig.model_validate(redis_storage), PluginHost())
    expired = Token(
        provider="acme",
        account="alice",
        access_token="expired-access-token-0000",
        refresh_token=SecretStr("refresh-token-of-alice-0000"),
        expires_at=datetime.now(UTC) - timedelta(minutes=5),
    )
    await store.put(expired)
    await store.close()
    with CountingTokenServer() as server:
        results = run_single_flight(redis_storage, processes=8, refresh_url=server.url)
    assert server.refreshes == 1
    assert sum(r["refreshed"] for r in results) == 1
    assert len({r["access_sha256"] for r in results}) == 1
    assert all(r["version"] == 2 and not r["expired"] for r in results)
    assert "refresh_token=refresh-token-of-alice-0000" in server.bodies[0]


async def test_writer_killed_mid_write_leaves_a_complete_token(redis_storage: dict[str, Any]) -> None:
    rng = random.Random(5)
    last = 0
    for _ in range(3):
        kill_writer_mid_write(redis_storage, start=last, after=rng.uniform(0.0, 0.15))
        store = open_store(StorageConfig.model_validate(redis_storage), PluginHost())
        got = await store.get("acme", "alice")
        await store.close()
        assert got is not None
        n = got.token.extra["n"]
        assert n > last
        assert got.token.access_token.get_secret_value() == f"access-{n:08d}-" + "y" * 16
        assert len(got.token.extra["payload"]) == 200_000
        last = n


@pytest.mark.parametrize("damage", ["flipped", "version", "no-data"])
async def test_one_damaged_record_affects_that_login_only(redis_storage: dict[str, Any], damage: str) -> None:
    import damaged
    import redis

    store = open_store(StorageConfig.model_validate({**redis_storage, "encryption": "on"}), PluginHost())
    prefix = redis_storage["prefix"]

    async def corrupt(key: str) -> None:
        client = redis.Redis.from_url(redis_storage["url"])
        try:
            data_key, ver_key = f"{prefix}{{token}}:data", f"{prefix}{{token}}:ver"
            if damage == "flipped":
                client.hset(data_key, key, damaged.flip(client.hget(data_key, key)))
            elif damage == "version":
                client.hset(ver_key, key, "seven")
            else:
                client.hdel(data_key, key)
        finally:
            client.close()

    try:
        await damaged.check(store, corrupt)
    finally:
        await store.close()
