"""The postgres store on the real PostgreSQL at 127.0.0.1: the contract, schema versions, shared
use, bad servers."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from mcpconnect_store_postgres import SCHEMA_VERSION, PostgresBackend
from psycopg import sql
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

pytestmark = pytest.mark.postgres


class TestPostgresContract(StorageBackendContract):
    takes_over_expired_leases = True

    @pytest.fixture
    async def backend(self, postgres_storage: dict[str, Any]) -> Any:
        backend = PostgresBackend(**backend_options(postgres_storage))
        yield backend
        await backend.close()

    @pytest.fixture
    async def second_backend(self, postgres_storage: dict[str, Any]) -> Any:
        backend = PostgresBackend(**backend_options(postgres_storage))
        yield backend
        await backend.close()


async def test_schema_is_created_at_the_current_version(postgres_storage: dict[str, Any]) -> None:
    async with PostgresBackend(**backend_options(postgres_storage)) as backend:
        await backend.put("token", "k", b"x")
    with psycopg.connect(postgres_storage["url"]) as conn:
        query = sql.SQL("SELECT version FROM {}.schema_version").format(sql.Identifier(postgres_storage["schema"]))
        row = conn.execute(query).fetchall()
    assert row == [(SCHEMA_VERSION,)]


async def test_a_newer_schema_is_refused(postgres_storage: dict[str, Any]) -> None:
    async with PostgresBackend(**backend_options(postgres_storage)) as backend:
        await backend.put("token", "k", b"x")
    with psycopg.connect(postgres_storage["url"], autocommit=True) as conn:
        query = sql.SQL("UPDATE {}.schema_version SET version = %s").format(sql.Identifier(postgres_storage["schema"]))
        conn.execute(query, (SCHEMA_VERSION + 1,))
    backend = PostgresBackend(**backend_options(postgres_storage))
    with pytest.raises(StoreError, match=r"schema has version 2, from a newer mcpconnect-store-postgres"):
        await backend.get("token", "k")
    await backend.close()


async def test_unreachable_postgres_names_the_url_without_its_password() -> None:
    backend = PostgresBackend(url="postgresql://app:s3cr3t-pass@127.0.0.1:1/db", connect_timeout=1)
    with pytest.raises(StoreError) as info:
        await backend.get("token", "k")
    message = str(info.value)
    assert "postgresql://app:***@127.0.0.1:1/db" in message and "cannot connect" in message
    assert "s3cr3t-pass" not in message and "s3cr3t-pass" not in repr(backend)


async def test_unknown_user_is_a_clear_error(postgres_storage: dict[str, Any]) -> None:
    # The test server trusts local users, so a wrong password alone is accepted there: an unknown
    # role is how it refuses credentials.
    url = postgres_storage["url"].replace("postgres@", "nobody_here:wrong-secret-pw@", 1)
    backend = PostgresBackend(url=url, schema=postgres_storage["schema"])
    with pytest.raises(StoreError) as info:
        await backend.get("token", "k")
    message = str(info.value)
    assert 'role "nobody_here" does not exist' in message
    assert "wrong-secret-pw" not in message and "nobody_here:***@" in message


def test_url_is_required() -> None:
    with pytest.raises(StoreError, match=r"set \[storage\] url"):
        PostgresBackend()


async def test_eight_processes_refresh_one_expired_token_once(postgres_storage: dict[str, Any]) -> None:
    store = open_store(StorageConfig.model_validate(postgres_storage), PluginHost())
    await store.put(
        Token(
            provider="acme",
            account="alice",
            access_token="expired-access-token-0000",
            refresh_token=SecretStr("refresh-token-of-alice-0000"),
            expires_at=datetime.now(UTC) - timedelta(minutes=5),
        )
    )
    await store.close()
    with CountingTokenServer() as server:
        results = run_single_flight(postgres_storage, processes=8, refresh_url=server.url)
    assert server.refreshes == 1
    assert sum(r["refreshed"] for r in results) == 1
    assert len({r["access_sha256"] for r in results}) == 1
    assert all(r["version"] == 2 and not r["expired"] for r in results)


async def test_writer_killed_mid_write_leaves_a_complete_token(postgres_storage: dict[str, Any]) -> None:
    rng = random.Random(5)
    last = 0
    for _ in range(3):
        kill_writer_mid_write(postgres_storage, start=last, after=rng.uniform(0.0, 0.15))
        store = open_store(StorageConfig.model_validate(postgres_storage), PluginHost())
        got = await store.get("acme", "alice")
        await store.close()
        assert got is not None
        n = got.token.extra["n"]
        assert n > last
        assert got.token.access_token.get_secret_value() == f"access-{n:08d}-" + "y" * 16
        assert len(got.token.extra["payload"]) == 200_000
        last = n


@pytest.mark.parametrize("damage", ["flipped", "truncated"])
async def test_one_damaged_row_affects_that_login_only(postgres_storage: dict[str, Any], damage: str) -> None:
    import damaged

    store = open_store(StorageConfig.model_validate({**postgres_storage, "encryption": "on"}), PluginHost())
    schema = postgres_storage["schema"]

    async def corrupt(key: str) -> None:
        with psycopg.connect(postgres_storage["url"], autocommit=True) as conn:
            table = sql.Identifier(schema, "records")
            row = conn.execute(sql.SQL("SELECT data FROM {} WHERE key = %s").format(table), (key,)).fetchone()
            assert row is not None
            data = bytes(row[0])
            changed = damaged.flip(data) if damage == "flipped" else data[: len(data) // 2]
            conn.execute(sql.SQL("UPDATE {} SET data = %s WHERE key = %s").format(table), (changed, key))

    try:
        await damaged.check(store, corrupt)
    finally:
        await store.close()
