"""The sqlite store, the embedded default: the contract, zero options, schema versions,
permissions, crash safety, damaged databases."""

from __future__ import annotations

import random
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mcpconnect_store_sqlite import SCHEMA_VERSION, SqliteBackend
from pydantic import SecretStr
from storeservices import CountingTokenServer, kill_writer_mid_write, run_single_flight

from mcpconnect._config.model import StorageConfig
from mcpconnect._plugins import PluginHost
from mcpconnect.errors import StoreError
from mcpconnect.storage._factory import open_store
from mcpconnect.storage._local import data_dir
from mcpconnect.testing import StorageBackendContract
from mcpconnect.tokens import Token


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class TestSqliteContract(StorageBackendContract):
    takes_over_expired_leases = True

    @pytest.fixture
    async def backend(self, tmp_path: Path) -> Any:
        backend = SqliteBackend(path=tmp_path / "db" / "tokens.db")
        yield backend
        await backend.close()

    @pytest.fixture
    async def second_backend(self, tmp_path: Path) -> Any:
        backend = SqliteBackend(path=tmp_path / "db" / "tokens.db")
        yield backend
        await backend.close()


async def test_zero_options_is_the_default_store_in_the_data_folder() -> None:
    config = StorageConfig()
    assert config.backend == "sqlite"
    store = open_store(config, PluginHost())
    await store.put(Token(provider="acme", account="a", access_token="access-token-abcdefgh"))
    got = await store.get("acme", "a")
    assert got is not None and got.token.access_token.get_secret_value() == "access-token-abcdefgh"
    await store.close()
    db = data_dir() / "tokens.db"
    assert mode(db) == 0o600 and mode(db.parent) == 0o700
    assert mode(data_dir() / "storage.key") == 0o600
    for companion in ("tokens.db-wal", "tokens.db-shm"):
        if (db.parent / companion).exists():
            assert mode(db.parent / companion) == 0o600
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        (data,) = conn.execute("SELECT data FROM records").fetchone()
    assert b"access-token-abcdefgh" not in data  # encrypted at rest by default


async def test_a_database_from_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    async with SqliteBackend(path=path) as backend:
        await backend.put("token", "k", b"x")
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    backend = SqliteBackend(path=path)
    with pytest.raises(StoreError) as info:
        await backend.get("token", "k")
    assert f"schema version {SCHEMA_VERSION + 1}, from a newer mcpconnect-store-sqlite" in str(info.value)
    assert str(path) in str(info.value)
    await backend.close()
    assert path.exists() and not list(tmp_path.glob("*.corrupt-*"))  # refused, not touched


async def test_an_older_schema_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    sqlite3.connect(path).close()  # an empty database: schema version 0
    async with SqliteBackend(path=path) as backend:
        assert await backend.put("token", "k", b"x") == 1
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


async def test_a_damaged_database_is_kept_aside_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    async with SqliteBackend(path=path) as backend:
        await backend.put("token", "k", b"x")
    garbage = b"this is not a database at all " * 200
    path.write_bytes(garbage)
    backend = SqliteBackend(path=path)
    with pytest.raises(StoreError) as info:
        await backend.get("token", "k")
    message = str(info.value)
    assert str(path) in message and "damaged" in message
    aside = list(tmp_path.glob("tokens.db.corrupt-*"))
    assert [p for p in aside if str(p) in message]
    assert any(p.read_bytes() == garbage for p in aside)
    assert await backend.get("token", "k") is None  # a new, empty store
    await backend.close()


async def test_writer_killed_mid_write_leaves_a_complete_token(tmp_path: Path) -> None:
    storage = {"backend": "sqlite", "path": str(tmp_path / "tokens.db")}
    rng = random.Random(11)
    last = 0
    for _ in range(6):
        kill_writer_mid_write(storage, start=last, after=rng.uniform(0.0, 0.15))
        store = open_store(StorageConfig.model_validate(storage), PluginHost())
        got = await store.get("acme", "alice")
        assert got is not None
        n = got.token.extra["n"]
        assert n > last
        assert got.token.access_token.get_secret_value() == f"access-{n:08d}-" + "y" * 16
        assert len(got.token.extra["payload"]) == 200_000
        await store.close()
        last = n
    assert not list(tmp_path.glob("*.corrupt-*"))


async def test_eight_processes_on_one_machine_refresh_once(tmp_path: Path) -> None:
    storage = {"backend": "sqlite", "path": str(tmp_path / "tokens.db")}
    store = open_store(StorageConfig.model_validate(storage), PluginHost())
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
        results = run_single_flight(storage, processes=8, refresh_url=server.url)
    assert server.refreshes == 1
    assert sum(r["refreshed"] for r in results) == 1
    assert len({r["access_sha256"] for r in results}) == 1 and all(r["version"] == 2 for r in results)


def _sqlite_store(tmp_path: Path, encryption: str) -> Any:
    config = {"backend": "sqlite", "path": str(tmp_path / "tokens.db"), "encryption": encryption}
    return open_store(StorageConfig.model_validate(config), PluginHost())


@pytest.mark.parametrize(
    ("encryption", "damage"),
    [
        ("on", "flipped"),  # encrypted at rest: the record fails its integrity check
        ("off", "flipped"),  # plain JSON that no longer parses
        ("off", "text"),  # a row edited by hand: text where bytes belong
        ("off", "version"),  # a version that is not a number
    ],
)
async def test_one_damaged_row_affects_that_login_only(tmp_path: Path, encryption: str, damage: str) -> None:
    import damaged

    store = _sqlite_store(tmp_path, encryption)

    async def corrupt(key: str) -> None:
        with sqlite3.connect(tmp_path / "tokens.db") as conn:
            (data,) = conn.execute("SELECT data FROM records WHERE namespace = 'token' AND key = ?", (key,)).fetchone()
            change = {
                "flipped": ("data = ?", damaged.flip(bytes(data))),
                "text": ("data = ?", "not bytes at all"),
                "version": ("version = ?", "seven"),
            }[damage]
            query = f"UPDATE records SET {change[0]} WHERE namespace = 'token' AND key = ?"  # noqa: S608 - fixed text
            conn.execute(query, (change[1], key))

    try:
        await damaged.check(store, corrupt)
    finally:
        await store.close()


async def test_one_damaged_registration_is_skipped(tmp_path: Path) -> None:
    import damaged

    store = _sqlite_store(tmp_path, "on")

    async def corrupt(key: str) -> None:
        with sqlite3.connect(tmp_path / "tokens.db") as conn:
            (data,) = conn.execute("SELECT data FROM records WHERE key = ?", (key,)).fetchone()
            conn.execute("UPDATE records SET data = ? WHERE key = ?", (damaged.flip(bytes(data)), key))

    try:
        await damaged.check_registration(store, corrupt)
    finally:
        await store.close()
