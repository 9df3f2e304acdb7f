"""Encryption at rest: AES-GCM records, where the key comes from, wrong keys, and the factory's
``[storage] encryption`` options."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from mcpconnect._config.model import StorageConfig
from mcpconnect._plugins import PluginHost
from mcpconnect.errors import ConfigError, StoreError
from mcpconnect.storage import TokenStore
from mcpconnect.storage._crypto import (
    DEFAULT_KEY_ENV,
    EncryptionOptions,
    StoreCipher,
    generate_key,
    key_id,
    open_cipher,
    resolve_key,
    write_new_key_file,
)
from mcpconnect.storage._factory import backend_options, open_store
from mcpconnect.storage._local import data_dir
from mcpconnect.storage._memory import MemoryBackend
from mcpconnect.testing import StorageBackendContract
from mcpconnect.tokens import Token

TOKEN = Token(provider="acme", account="a", access_token="access-token-abcdefgh", scopes=("read",))


def encoded(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


class TestMemoryContract(StorageBackendContract):
    takes_over_expired_leases = True

    @pytest.fixture
    async def backend(self) -> MemoryBackend:
        return MemoryBackend()


def test_round_trip_and_fresh_nonces() -> None:
    cipher = StoreCipher([generate_key()])
    sealed = cipher.encrypt(b"secret bytes")
    assert b"secret bytes" not in sealed
    assert cipher.encrypt(b"secret bytes") != sealed
    assert cipher.decrypt(sealed) == b"secret bytes"


def test_wrong_key_is_a_clear_error_not_garbage() -> None:
    right, wrong = generate_key(), generate_key()
    sealed = StoreCipher([right]).encrypt(b"secret bytes")
    with pytest.raises(StoreError) as info:
        StoreCipher([wrong]).decrypt(sealed)
    message = str(info.value)
    assert f"another key (id {key_id(right)})" in message and key_id(wrong) in message
    assert encoded(right) not in message and encoded(wrong) not in message


def test_altered_record_fails_its_integrity_check() -> None:
    cipher = StoreCipher([generate_key()])
    sealed = bytearray(cipher.encrypt(b"secret bytes"))
    sealed[-1] ^= 1
    with pytest.raises(StoreError, match="integrity check"):
        cipher.decrypt(bytes(sealed))


def test_plaintext_record_with_encryption_on() -> None:
    with pytest.raises(StoreError, match="not encrypted although encryption is on"):
        StoreCipher([generate_key()]).decrypt(b'{"a": 1}')
    assert StoreCipher([generate_key()], accept_plaintext=True).decrypt(b'{"a": 1}') == b'{"a": 1}'


def test_any_listed_key_decrypts_and_the_first_encrypts() -> None:
    old, new = generate_key(), generate_key()
    by_old = StoreCipher([old]).encrypt(b"x")
    both = StoreCipher([new, old])
    assert both.decrypt(by_old) == b"x"
    assert StoreCipher([new]).decrypt(both.encrypt(b"y")) == b"y"


def test_key_file_is_generated_once_with_mode_600() -> None:
    options = EncryptionOptions()
    key, source = resolve_key(options, environ={})
    path = data_dir() / "storage.key"
    assert source.kind == "file" and source.where == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert resolve_key(options, environ={})[0] == key


def test_a_second_creator_never_replaces_the_key_file(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "k.key"
    first, second = generate_key(), generate_key()
    assert write_new_key_file(path, first) is True
    assert write_new_key_file(path, second) is False
    assert resolve_key(EncryptionOptions(key_file=path), environ={})[0] == first
    assert [p.name for p in path.parent.iterdir()] == ["k.key"]


def test_key_from_the_environment_wins() -> None:
    key = generate_key()
    got, source = resolve_key(EncryptionOptions(), environ={DEFAULT_KEY_ENV: encoded(key)})
    assert got == key and source.kind == "env"
    assert not (data_dir() / "storage.key").exists()


def test_malformed_key_names_its_source(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=f"environment variable {DEFAULT_KEY_ENV} does not hold a storage key"):
        resolve_key(EncryptionOptions(), environ={DEFAULT_KEY_ENV: "hunter2"})
    bad = tmp_path / "bad.key"
    bad.write_text("not a key")
    with pytest.raises(StoreError, match=f"key file {bad} does not hold a storage key"):
        resolve_key(EncryptionOptions(key_file=bad), environ={})


def test_a_key_file_readable_by_others_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    path.write_text(encoded(generate_key()))
    os.chmod(path, 0o644)
    resolve_key(EncryptionOptions(key_file=path), environ={})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_missing_key_when_it_may_not_be_created(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no storage key"):
        open_cipher(EncryptionOptions(key_file=tmp_path / "none.key"), create=False)


def test_encryption_options_are_validated_and_kept_from_the_backend() -> None:
    storage = StorageConfig.model_validate({"backend": "memory", "encryption": "on", "key_env": "MY_KEY"})
    assert backend_options(storage) == {}
    with pytest.raises(ConfigError, match="encryption = 'sometimes'"):
        EncryptionOptions.pop_from({"encryption": "sometimes"})
    assert EncryptionOptions.pop_from({"encryption": False}).encryption == "off"


async def test_factory_encrypts_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    key = generate_key()
    monkeypatch.setenv("MY_KEY", encoded(key))
    storage = StorageConfig.model_validate({"backend": "memory", "encryption": "on", "key_env": "MY_KEY"})
    store = open_store(storage, PluginHost())
    assert isinstance(store.cipher, StoreCipher) and store.cipher.key_id == key_id(key)
    await store.put(TOKEN)
    raw = await store.backend.get("token", "acme/a")
    assert raw is not None and b"access-token-abcdefgh" not in raw.data
    got = await store.get("acme", "a")
    assert got is not None and got.token.access_token.get_secret_value() == "access-token-abcdefgh"
    # "auto" leaves a backend that does not encrypt by default (memory) in plaintext.
    assert open_store(StorageConfig.model_validate({"backend": "memory"}), PluginHost()).cipher is None


async def test_token_store_with_the_wrong_key() -> None:
    backend = MemoryBackend()
    await TokenStore(backend, cipher=StoreCipher([generate_key()])).put(TOKEN)
    with pytest.raises(StoreError, match="encrypted with another key"):
        await TokenStore(backend, cipher=StoreCipher([generate_key()])).get("acme", "a")


async def test_encrypted_records_read_with_encryption_off() -> None:
    backend = MemoryBackend()
    await TokenStore(backend, cipher=StoreCipher([generate_key()])).put(TOKEN)
    with pytest.raises(StoreError, match="encrypted but \\[storage\\] encryption is off"):
        await TokenStore(backend).get("acme", "a")
