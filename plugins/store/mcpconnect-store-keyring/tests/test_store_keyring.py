"""The keyring store, on keyrings.alt's file keyring (a real keyring backend that runs here),
and the error where a system has no keychain."""

from __future__ import annotations

from typing import Any

import pytest
from mcpconnect_store_keyring import KeyringBackend

from mcpconnect._config.model import StorageConfig
from mcpconnect._plugins import PluginHost
from mcpconnect.errors import StoreError
from mcpconnect.storage._factory import open_store
from mcpconnect.testing import StorageBackendContract
from mcpconnect.tokens import Token

FILE_KEYRING = "keyrings.alt.file.PlaintextKeyring"


class TestKeyringContract(StorageBackendContract):
    takes_over_expired_leases = True

    @pytest.fixture
    async def backend(self) -> Any:
        return KeyringBackend(keyring_backend=FILE_KEYRING)

    @pytest.fixture
    async def second_backend(self) -> Any:
        return KeyringBackend(keyring_backend=FILE_KEYRING)


async def test_tokens_land_in_the_keyring_not_encrypted_twice() -> None:
    import keyring.core

    store = open_store(
        StorageConfig.model_validate({"backend": "keyring", "keyring_backend": FILE_KEYRING}), PluginHost()
    )
    assert store.cipher is None  # the keychain protects its entries
    await store.put(Token(provider="acme", account="a", access_token="access-token-abcdefgh"))
    got = await store.get("acme", "a")
    assert got is not None and got.token.access_token.get_secret_value() == "access-token-abcdefgh"
    entry = keyring.core.load_keyring(FILE_KEYRING).get_password("mcpconnect", "token:acme/a")
    assert entry is not None and "access-token-abcdefgh" not in entry  # base64 of the token JSON


async def test_services_keep_stores_apart() -> None:
    one = KeyringBackend(service="mcpconnect-one", keyring_backend=FILE_KEYRING)
    two = KeyringBackend(service="mcpconnect-two", keyring_backend=FILE_KEYRING)
    await one.put("token", "k", b"x")
    assert await two.get("token", "k") is None
    assert list(await two.list("token")) == []


async def test_no_keychain_names_the_alternatives() -> None:
    backend = KeyringBackend(keyring_backend="keyring.backends.fail.Keyring")
    with pytest.raises(StoreError) as info:
        await backend.get("token", "k")
    message = str(info.value)
    assert "no usable OS keychain" in message
    assert 'backend = "sqlite"' in message and "keyrings.alt" in message


async def test_an_unknown_keyring_backend_is_named() -> None:
    backend = KeyringBackend(keyring_backend="no.such.Keyring")
    with pytest.raises(StoreError, match=r"cannot load keyring backend 'no.such.Keyring'"):
        await backend.list("token")


@pytest.fixture
def file_keyring() -> Any:
    """keyrings.alt's file keyring as the process-wide keyring, as an OS keychain would be."""
    import keyring
    import keyring.core

    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.core.load_keyring(FILE_KEYRING))
    yield keyring.get_keyring()
    keyring.set_keyring(previous)


async def test_the_storage_key_can_live_in_the_keyring_and_be_rotated(file_keyring: Any, tmp_path: Any) -> None:
    from mcpconnect.storage._crypto import EncryptionOptions, key_id, parse_key, resolve_key, rotate_key
    from mcpconnect.storage._factory import open_backend

    storage = {
        "backend": "sqlite",
        "path": str(tmp_path / "tokens.db"),
        "key_keyring": "mcpconnect-test/storage-key",
    }
    config = StorageConfig.model_validate(storage)
    store = open_store(config, PluginHost())
    assert store.cipher is not None and store.cipher.source is not None
    assert store.cipher.source.kind == "keyring"
    await store.put(Token(provider="acme", account="a", access_token="access-token-abcdefgh"))
    await store.close()
    old = parse_key(file_keyring.get_password("mcpconnect-test", "storage-key"), "test")
    assert resolve_key(EncryptionOptions(key_keyring="mcpconnect-test/storage-key"), environ={})[0] == old

    backend = open_backend(config, PluginHost())
    report = await rotate_key(backend, EncryptionOptions(key_keyring="mcpconnect-test/storage-key"), environ={})
    await backend.close()
    new = parse_key(file_keyring.get_password("mcpconnect-test", "storage-key"), "test")
    assert new != old and report.new_key_id == key_id(new) and report.reencrypted == 1
    assert file_keyring.get_password("mcpconnect-test", "storage-key.next") is None
    store = open_store(config, PluginHost())
    got = await store.get("acme", "a")
    assert got is not None and got.token.access_token.get_secret_value() == "access-token-abcdefgh"
    await store.close()


@pytest.mark.parametrize("damage", ["not-json", "not-base64"])
async def test_one_damaged_entry_affects_that_login_only(damage: str) -> None:
    import damaged
    import keyring.core

    store = open_store(
        StorageConfig.model_validate({"backend": "keyring", "keyring_backend": FILE_KEYRING}), PluginHost()
    )
    backend = store.backend

    async def corrupt(key: str) -> None:
        ring = keyring.core.load_keyring(FILE_KEYRING)
        value = "{not json" if damage == "not-json" else '{"v": 1, "d": "%%%"}'
        ring.set_password(backend.service, f"token:{key}", value)

    await damaged.check(store, corrupt)


@pytest.fixture
def no_keychain() -> Any:
    """The process-wide keyring is keyring's "fail" backend: what a machine without a keychain has."""
    import keyring
    import keyring.backends.fail

    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    yield
    keyring.set_keyring(previous)


def test_config_validate_and_check_report_a_missing_keychain(
    no_keychain: None, mcpconnect_isolated: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from mcpconnect._cli import main

    (mcpconnect_isolated / "mcpconnect.toml").write_text(
        '[storage]\nbackend = "keyring"\n\n[servers.x]\nurl = "https://x.example/mcp"\n'
    )
    for argv in (["config", "validate"], ["check"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        out, err = capsys.readouterr()
        assert info.value.code == 2, (argv, out, err)
        assert "mcpconnect.toml" in err and "storage.backend" in err
        assert "no usable OS keychain" in err and 'backend = "sqlite"' in err


def test_the_plugin_imports_keyring_only_when_used() -> None:
    import subprocess
    import sys

    script = "import sys, mcpconnect_store_keyring; print('keyring' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
