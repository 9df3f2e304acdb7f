"""``mcpconnect tokens migrate`` and ``tokens rekey`` on real stores."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest

from mcpconnect._cli import main
from mcpconnect._config.model import StorageConfig
from mcpconnect._plugins import PluginHost
from mcpconnect.errors import StoreError
from mcpconnect.storage import TokenStore
from mcpconnect.storage._crypto import StoreCipher, generate_key, key_id, read_key_file, rotate_key
from mcpconnect.storage._factory import encryption_options, open_backend, open_store
from mcpconnect.storage._local import data_dir
from mcpconnect.tokens import Token

SECRET = "access-token-must-not-leak-1234"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


def settings(storage: dict[str, Any]) -> list[str]:
    return [arg for key, value in storage.items() for arg in ("--set", f"storage.{key}={json.dumps(value)}")]


def tokens(n: int) -> list[Token]:
    return [
        Token(
            provider="acme" if i % 2 else "github",
            account=f"user/{i}",
            access_token=f"{SECRET}-{i}",
            refresh_token=f"refresh-token-secret-{i}-000",
            scopes=("read", "write"),
        )
        for i in range(n)
    ]


def seed(storage: dict[str, Any], items: list[Token], registrations: dict[str, dict[str, Any]]) -> None:
    async def go() -> None:
        store = open_store(StorageConfig.model_validate(storage), PluginHost())
        for token in items:
            await store.put(token)
        for issuer, registration in registrations.items():
            await store.put_registration(issuer, registration)
        await store.close()

    asyncio.run(go())


def read_all(storage: dict[str, Any]) -> tuple[dict[str, bytes], dict[str, dict[str, Any]]]:
    async def go() -> tuple[dict[str, bytes], dict[str, dict[str, Any]]]:
        store = open_store(StorageConfig.model_validate(storage), PluginHost())
        try:
            found = {f"{s.token.provider}/{s.token.account}": s.token.to_json() for s in await store.list()}
            return found, await store.list_registrations()
        finally:
            await store.close()

    return asyncio.run(go())


REGISTRATIONS = {
    "https://auth.example": {"client_id": "abc", "client_secret": "client-secret-value-123"},
    "https://other.example/tenant": {"client_id": "xyz"},
}


@pytest.fixture
def sqlite_storage(tmp_path: Path) -> dict[str, Any]:
    return {"backend": "sqlite", "path": str(tmp_path / "src" / "tokens.db")}


def test_migrate_copies_and_verifies_then_the_cli_uses_the_new_store(
    capsys: pytest.CaptureFixture[str], sqlite_storage: dict[str, Any], tmp_path: Path
) -> None:
    items = tokens(5)
    seed(sqlite_storage, items, REGISTRATIONS)
    target = {"backend": "file", "path": str(tmp_path / "dst" / "tokens.json")}
    code, out, err = run(
        capsys, *settings(sqlite_storage), "tokens", "migrate", "--to", "file", "-o", f"path={target['path']}"
    )
    assert code == 0, err
    assert "Copied 5 token(s) and 2 client registration(s)" in out and "verified" in out
    assert SECRET not in out + err and "client-secret-value" not in out + err
    copied, regs = read_all(target)
    assert copied == {f"{t.provider}/{t.account}": t.to_json() for t in items}
    assert regs == REGISTRATIONS
    assert read_all(sqlite_storage)[0] == copied  # the source is left as it was
    assert SECRET.encode() not in Path(target["path"]).read_bytes()  # encrypted at rest
    # The rest of the CLI works on the new store.
    code, out, err = run(capsys, *settings(target), "tokens", "list", "--json")
    assert code == 0, err
    assert sorted(row["account"] for row in json.loads(out)) == sorted(t.account for t in items)
    assert SECRET not in out


def test_migrate_of_an_empty_store_says_there_was_nothing_to_copy(
    capsys: pytest.CaptureFixture[str], sqlite_storage: dict[str, Any], tmp_path: Path
) -> None:
    seed(sqlite_storage, [], {})
    target = tmp_path / "dst" / "tokens.json"
    code, out, err = run(capsys, *settings(sqlite_storage), "tokens", "migrate", "--to", "file", "-o", f"path={target}")
    assert code == 0, err
    assert "Nothing to copy" in out and "Copied" not in out and "mcpconnect login" in out
    assert not target.exists()  # nothing claimed that was not written


@pytest.mark.redis
def test_migrate_to_redis_json_report(
    capsys: pytest.CaptureFixture[str], sqlite_storage: dict[str, Any], redis_storage: dict[str, Any]
) -> None:
    items = tokens(3)
    seed(sqlite_storage, items, REGISTRATIONS)
    options = [arg for k, v in redis_storage.items() if k != "backend" for arg in ("-o", f"{k}={json.dumps(v)}")]
    code, out, err = run(capsys, *settings(sqlite_storage), "tokens", "migrate", "--to", "redis", *options, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["tokens"] == 3 and report["registrations"] == 2 and report["verified"] is True
    assert "does not encrypt at rest" in err
    copied, regs = read_all(redis_storage)
    assert copied == {f"{t.provider}/{t.account}": t.to_json() for t in items} and regs == REGISTRATIONS


def test_migrate_refuses_to_overwrite_other_values(
    capsys: pytest.CaptureFixture[str], sqlite_storage: dict[str, Any], tmp_path: Path
) -> None:
    items = tokens(2)
    seed(sqlite_storage, items, {})
    target = {"backend": "file", "path": str(tmp_path / "dst.json")}
    other = items[0].model_copy(update={"scopes": ("admin",)})
    seed(target, [other], {})
    argv = [*settings(sqlite_storage), "tokens", "migrate", "--to", "file", "-o", f"path={target['path']}"]
    code, _, err = run(capsys, *argv)
    assert code == 1 and "already holds other values for" in err and "--overwrite" in err
    assert len(read_all(target)[0]) == 1  # nothing was copied
    code, _, err = run(capsys, *argv, "--overwrite")
    assert code == 0, err
    assert len(read_all(target)[0]) == 2


def test_migrate_to_the_same_store_is_refused(
    capsys: pytest.CaptureFixture[str], sqlite_storage: dict[str, Any]
) -> None:
    code, _, err = run(
        capsys, *settings(sqlite_storage), "tokens", "migrate", "--to", "sqlite", "-o", f"path={sqlite_storage['path']}"
    )
    assert code == 1 and "already the configured store" in err


def test_rekey_rotates_the_key_file(capsys: pytest.CaptureFixture[str], sqlite_storage: dict[str, Any]) -> None:
    items = tokens(4)
    seed(sqlite_storage, items, REGISTRATIONS)
    key_file = data_dir() / "storage.key"
    old = read_key_file(key_file)
    code, out, err = run(capsys, *settings(sqlite_storage), "tokens", "rekey")
    assert code == 0, err
    new = read_key_file(key_file)
    assert new != old and f"with key {key_id(new)} (was {key_id(old)})" in out
    assert "Re-encrypted 6 of 6 record(s)" in out
    assert base64.urlsafe_b64encode(new).decode() not in out + err
    assert not (data_dir() / "storage.key.next").exists()
    assert read_all(sqlite_storage) == ({f"{t.provider}/{t.account}": t.to_json() for t in items}, REGISTRATIONS)

    async def with_old_key() -> None:
        backend = open_backend(StorageConfig.model_validate(sqlite_storage), PluginHost())
        with pytest.raises(StoreError, match="encrypted with another key"):
            await TokenStore(backend, cipher=StoreCipher([old])).list()
        await backend.close()

    asyncio.run(with_old_key())


async def test_rekey_interrupted_midway_loses_nothing_and_resumes(sqlite_storage: dict[str, Any]) -> None:
    items = tokens(6)
    config = StorageConfig.model_validate(sqlite_storage)
    store = open_store(config, PluginHost())
    for token in items:
        await store.put(token)
    await store.close()
    expected = {f"{t.provider}/{t.account}": t.to_json() for t in items}

    backend = open_backend(config, PluginHost())
    real_put, calls = backend.put, 0

    async def put_then_die(*args: Any, **kwargs: Any) -> int:
        nonlocal calls
        calls += 1
        if calls > 3:
            raise KeyboardInterrupt  # stopped after 3 of 6 records
        return await real_put(*args, **kwargs)

    backend.put = put_then_die  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        await rotate_key(backend, encryption_options(config))
    await backend.close()
    assert (data_dir() / "storage.key.next").exists()

    # Midway, with records under both keys, the store reads as usual.
    store = open_store(config, PluginHost())
    assert {f"{s.token.provider}/{s.token.account}": s.token.to_json() for s in await store.list()} == expected
    await store.close()

    backend = open_backend(config, PluginHost())
    pending = read_key_file(data_dir() / "storage.key.next")
    report = await rotate_key(backend, encryption_options(config))
    await backend.close()
    assert report.new_key_id == key_id(pending)  # resumed with the same new key
    assert report.reencrypted == 3
    assert read_key_file(data_dir() / "storage.key") == pending
    assert not (data_dir() / "storage.key.next").exists()
    store = open_store(config, PluginHost())
    assert {f"{s.token.provider}/{s.token.account}": s.token.to_json() for s in await store.list()} == expected
    await store.close()


def test_rekey_with_keys_in_the_environment(
    capsys: pytest.CaptureFixture[str], sqlite_storage: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = generate_key(), generate_key()
    monkeypatch.setenv("MCPCONNECT_STORAGE_KEY", base64.urlsafe_b64encode(old).decode())
    items = tokens(2)
    seed(sqlite_storage, items, {})
    code, _, err = run(capsys, *settings(sqlite_storage), "tokens", "rekey")
    assert code == 1 and "--new-key-env" in err
    monkeypatch.setenv("NEW_STORAGE_KEY", base64.urlsafe_b64encode(new).decode())
    code, out, err = run(capsys, *settings(sqlite_storage), "tokens", "rekey", "--new-key-env", "NEW_STORAGE_KEY")
    assert code == 0, err
    assert 'key_env = "NEW_STORAGE_KEY"' in out
    assert not (data_dir() / "storage.key").exists()
    with_new = {**sqlite_storage, "key_env": "NEW_STORAGE_KEY"}
    assert read_all(with_new)[0] == {f"{t.provider}/{t.account}": t.to_json() for t in items}
    with pytest.raises(StoreError, match="encrypted with another key"):
        read_all(sqlite_storage)


def test_rekey_of_an_unencrypted_store_says_how(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    storage = {"backend": "sqlite", "path": str(tmp_path / "t.db"), "encryption": "off"}
    code, _, err = run(capsys, *settings(storage), "tokens", "rekey")
    assert code == 1 and 'set encryption = "on" first' in err


def test_rekey_encrypts_a_store_that_was_plaintext(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plain = {"backend": "sqlite", "path": str(tmp_path / "t.db"), "encryption": "off"}
    items = tokens(2)
    seed(plain, items, {})
    sealed = {**plain, "encryption": "on"}
    with pytest.raises(StoreError, match="not encrypted although encryption is on"):
        read_all(sealed)
    code, _, err = run(capsys, *settings(sealed), "tokens", "rekey")
    assert code == 0, err
    assert read_all(sealed)[0] == {f"{t.provider}/{t.account}": t.to_json() for t in items}
    assert SECRET.encode() not in (tmp_path / "t.db").read_bytes()


def test_rekey_killed_at_random_moments_never_loses_a_token(sqlite_storage: dict[str, Any]) -> None:
    import random
    import subprocess
    import sys
    import time

    items = tokens(40)
    seed(sqlite_storage, items, REGISTRATIONS)
    expected = ({f"{t.provider}/{t.account}": t.to_json() for t in items}, REGISTRATIONS)
    argv = [
        sys.executable,
        "-c",
        "from mcpconnect._cli import main; main()",
        *settings(sqlite_storage),
        "tokens",
        "rekey",
    ]
    rng = random.Random(3)
    for _ in range(4):
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.2, 0.8))
        proc.kill()
        proc.wait()
        assert read_all(sqlite_storage) == expected
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert not (data_dir() / "storage.key.next").exists()
    assert read_all(sqlite_storage) == expected
    new = read_key_file(data_dir() / "storage.key")

    async def only_new_key() -> None:
        backend = open_backend(StorageConfig.model_validate(sqlite_storage), PluginHost())
        assert len(await TokenStore(backend, cipher=StoreCipher([new])).list()) == 40
        await backend.close()

    asyncio.run(only_new_key())
