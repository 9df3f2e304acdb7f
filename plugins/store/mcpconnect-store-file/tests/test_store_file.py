"""The file store: the contract, permissions, crash safety, damaged files, encryption."""

from __future__ import annotations

import json
import os
import random
import stat
from pathlib import Path
from typing import Any

import pytest
from mcpconnect_store_file import FORMAT, FileBackend
from storeservices import kill_writer_mid_write

from mcpconnect._config.model import StorageConfig
from mcpconnect._plugins import PluginHost
from mcpconnect.errors import StoreError
from mcpconnect.storage._factory import open_store
from mcpconnect.storage._local import data_dir
from mcpconnect.testing import StorageBackendContract
from mcpconnect.tokens import Token


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class TestFileContract(StorageBackendContract):
    takes_over_expired_leases = True

    @pytest.fixture
    async def backend(self, tmp_path: Path) -> Any:
        return FileBackend(path=tmp_path / "store" / "tokens.json")

    @pytest.fixture
    async def second_backend(self, tmp_path: Path) -> Any:
        return FileBackend(path=tmp_path / "store" / "tokens.json")


async def test_default_location_and_permissions() -> None:
    store = open_store(StorageConfig.model_validate({"backend": "file"}), PluginHost())
    await store.put(Token(provider="acme", account="a", access_token="access-token-abcdefgh"))
    path = data_dir() / "tokens.json"
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert mode(data_dir() / "storage.key") == 0o600
    assert b"access-token-abcdefgh" not in path.read_bytes()  # encrypted by default
    assert {mode(p) for p in (data_dir() / "tokens.json.locks").glob("*")} <= {0o600}
    await store.close()


async def test_a_file_made_readable_by_others_is_tightened(tmp_path: Path) -> None:
    backend = FileBackend(path=tmp_path / "tokens.json")
    await backend.put("token", "k", b"1")
    os.chmod(backend.path, 0o644)
    await backend.put("token", "k", b"2")
    assert mode(backend.path) == 0o600


async def test_a_damaged_file_is_kept_aside_with_a_clear_error(tmp_path: Path) -> None:
    backend = FileBackend(path=tmp_path / "tokens.json")
    await backend.put("token", "k", b"x")
    backend.path.write_bytes(b'{"format": 1, "records": {"tok')
    with pytest.raises(StoreError) as info:
        await backend.get("token", "k")
    message = str(info.value)
    assert str(backend.path) in message and "damaged" in message
    aside = list(tmp_path.glob("tokens.json.corrupt-*"))
    assert len(aside) == 1 and str(aside[0]) in message
    assert aside[0].read_bytes() == b'{"format": 1, "records": {"tok'
    # The store goes on, empty, and the damaged copy stays.
    assert await backend.get("token", "k") is None
    await backend.put("token", "k", b"new")
    assert aside[0].exists()


async def test_a_file_from_a_newer_format_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"format": FORMAT + 1, "records": {}}))
    with pytest.raises(StoreError, match="format 2, from a newer mcpconnect-store-file"):
        await FileBackend(path=path).get("token", "k")
    assert json.loads(path.read_text())["format"] == FORMAT + 1


async def test_writer_killed_mid_write_leaves_a_complete_token(tmp_path: Path) -> None:
    storage = {"backend": "file", "path": str(tmp_path / "tokens.json")}
    rng = random.Random(7)
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
        last = n
    assert not list(tmp_path.glob("*.corrupt-*"))
    await store.put(got.token)  # the next write clears what killed writers left behind
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize("damage", ["flipped", "not-base64", "no-version", "not-an-object"])
async def test_one_damaged_entry_affects_that_login_only(tmp_path: Path, damage: str) -> None:
    import base64

    import damaged

    path = tmp_path / "tokens.json"
    store = open_store(StorageConfig.model_validate({"backend": "file", "path": str(path)}), PluginHost())
    assert store.cipher is not None  # the file store encrypts by default

    async def corrupt(key: str) -> None:
        doc = json.loads(path.read_text())
        entry = doc["records"]["token"][key]
        if damage == "flipped":
            entry["data"] = base64.b64encode(damaged.flip(base64.b64decode(entry["data"]))).decode()
        elif damage == "not-base64":
            entry["data"] = "%%% not base64 %%%"
        elif damage == "no-version":
            del entry["version"]
        else:
            doc["records"]["token"][key] = ["a", "list"]
        path.write_text(json.dumps(doc))

    await damaged.check(store, corrupt)


async def test_one_damaged_registration_is_skipped(tmp_path: Path) -> None:
    import damaged

    path = tmp_path / "tokens.json"
    store = open_store(StorageConfig.model_validate({"backend": "file", "path": str(path)}), PluginHost())

    async def corrupt(key: str) -> None:
        doc = json.loads(path.read_text())
        doc["records"]["registration"][key]["data"] = "%%%"
        path.write_text(json.dumps(doc))

    await damaged.check_registration(store, corrupt)
