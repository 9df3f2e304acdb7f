"""Encryption at rest for token stores: AES-256-GCM with a key from the environment, a key file
or the OS keychain.

Every sealed record is ``MAGIC | key id (8 bytes) | nonce (12 bytes) | ciphertext+tag``. The key
id (a hash of the key, not the key) lets a wrong key be named as such instead of yielding
garbage, and lets a store hold records under two keys while ``mcpconnect tokens rekey`` runs.

Where the key comes from, first match wins:

1. ``key_env``: an environment variable (default ``MCPCONNECT_STORAGE_KEY``) holding the key;
2. ``key_keyring``: ``"service/username"`` of an entry in the OS keychain;
3. ``key_file``: a file holding the key (default ``storage.key`` in mcpconnect's data folder),
   created with a fresh random key (mode 0600) the first time a store needs one.

A key is 32 random bytes written as URL-safe base64 (44 characters).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from mcpconnect._fsutil import atomic_write
from mcpconnect.errors import ConfigError, StoreError
from mcpconnect.storage._base import Record, StorageBackend
from mcpconnect.storage._local import PRIVATE_FILE, data_dir, ensure_private_dir, tighten_file_mode

__all__ = [
    "DEFAULT_KEY_ENV",
    "EncryptionOptions",
    "KeySource",
    "StoreCipher",
    "generate_key",
    "key_id",
    "looks_encrypted",
    "open_cipher",
    "reencrypt",
    "resolve_key",
    "rotate_key",
    "write_new_key_file",
]

MAGIC: Final = b"MCX1"
_KEY_ID_LEN: Final = 8
_NONCE_LEN: Final = 12
KEY_LEN: Final = 32
DEFAULT_KEY_ENV: Final = "MCPCONNECT_STORAGE_KEY"
DEFAULT_KEY_FILE_NAME: Final = "storage.key"
#: The ``[storage]`` options that belong to encryption, not to the backend.
OPTION_NAMES: Final = ("encryption", "key_env", "key_file", "key_keyring")


class RecordIntegrityError(StoreError):
    """One record failed its integrity check: that record is damaged, not the key or the store."""


def generate_key() -> bytes:
    """32 random bytes."""
    return secrets.token_bytes(KEY_LEN)


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


def key_id(key: bytes) -> str:
    """A short public name of ``key`` (hex), safe to show: it reveals nothing of the key."""
    return hashlib.sha256(b"mcpconnect storage key id\0" + key).digest()[:_KEY_ID_LEN].hex()


def looks_encrypted(data: bytes) -> bool:
    """Whether ``data`` was sealed by a :class:`StoreCipher`."""
    return data.startswith(MAGIC)


def parse_key(text: str, where: str) -> bytes:
    """A key from its base64 text; ``where`` names its source in the error."""
    try:
        key = base64.urlsafe_b64decode(text.strip().encode())
    except (ValueError, TypeError):
        key = b""
    if len(key) != KEY_LEN:
        raise StoreError(
            f"{where} does not hold a storage key (32 bytes in URL-safe base64, 44 characters); "
            'generate one with: python -c "import base64,os; '
            'print(base64.urlsafe_b64encode(os.urandom(32)).decode())"'
        )
    return key


@dataclass(frozen=True)
class KeySource:
    """Where a key came from, for messages (never the key itself)."""

    kind: Literal["env", "keyring", "file"]
    where: str

    def describe(self) -> str:
        return {
            "env": f"environment variable {self.where}",
            "keyring": f"keyring entry {self.where}",
            "file": f"key file {self.where}",
        }[self.kind]


class StoreCipher:
    """AES-256-GCM over records. The first key encrypts; every key given can decrypt.

    ``accept_plaintext`` lets records written before encryption was turned on be read (used by
    ``mcpconnect tokens rekey`` to encrypt them).
    """

    def __init__(
        self, keys: Sequence[bytes], *, source: KeySource | None = None, accept_plaintext: bool = False
    ) -> None:
        try:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        except ImportError:
            raise StoreError(
                "encryption at rest needs the cryptography package: pip install cryptography, "
                'or set [storage] encryption = "off"'
            ) from None
        if not keys:
            raise ValueError("StoreCipher needs at least one key")
        self._by_id = {bytes.fromhex(key_id(k)): AESGCM(k) for k in keys}
        self._current = bytes.fromhex(key_id(keys[0]))
        self.source = source
        self.accept_plaintext = accept_plaintext

    def __repr__(self) -> str:
        return f"StoreCipher(key_id={self.key_id!r})"

    @property
    def key_id(self) -> str:
        """The public id of the key that encrypts."""
        return self._current.hex()

    def _where(self) -> str:
        return self.source.describe() if self.source else "the configured key"

    def encrypt(self, data: bytes) -> bytes:
        nonce = os.urandom(_NONCE_LEN)
        return MAGIC + self._current + nonce + self._by_id[self._current].encrypt(nonce, data, MAGIC)

    def decrypt(self, data: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag

        if not looks_encrypted(data):
            if self.accept_plaintext:
                return data
            raise StoreError(
                "a stored record is not encrypted although encryption is on; "
                "run 'mcpconnect tokens rekey' to encrypt the store"
            )
        head = len(MAGIC)
        kid = data[head : head + _KEY_ID_LEN]
        nonce = data[head + _KEY_ID_LEN : head + _KEY_ID_LEN + _NONCE_LEN]
        aead = self._by_id.get(kid)
        if aead is None:
            raise StoreError(
                f"a stored record was encrypted with another key (id {kid.hex()}) than {self._where()} "
                f"(id {self.key_id}); set the key it was written with ([storage] key_env, key_file "
                "or key_keyring); if that key is lost, remove the store and log in again"
            )
        try:
            return aead.decrypt(nonce, data[head + _KEY_ID_LEN + _NONCE_LEN :], MAGIC)
        except InvalidTag:
            raise RecordIntegrityError(
                f"a stored record failed its integrity check with {self._where()} (id {kid.hex()}): "
                "it was damaged or altered; log in again to replace it"
            ) from None


# -- where the key comes from ------------------------------------------------------------------


def default_key_file() -> Path:
    return data_dir() / DEFAULT_KEY_FILE_NAME


def read_key_file(path: Path) -> bytes:
    tighten_file_mode(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise StoreError(f"cannot read the storage key file {path} ({exc.strerror})") from None
    return parse_key(text, f"key file {path}")


def write_new_key_file(path: Path, key: bytes) -> bool:
    """Create ``path`` holding ``key`` (0600, in a 0700 folder it creates) unless it exists.

    Returns ``False`` when another process created it first: its key is then the one to use.
    The file appears complete or not at all (written aside, then hard-linked into place).
    """
    ensure_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.new")
    atomic_write(tmp, (encode_key(key) + "\n").encode(), mode=PRIVATE_FILE)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _keyring_entry(spec: str) -> tuple[str, str]:
    service, sep, user = spec.partition("/")
    if not sep or not service or not user:
        raise ConfigError(f"key_keyring = {spec!r}: write 'service/username'", key="storage.key_keyring")
    return service, user


def read_keyring_key(spec: str, *, create: bool) -> bytes:
    """The key in the keychain entry ``spec`` ("service/username"), created when missing."""
    service, user = _keyring_entry(spec)
    try:
        import keyring
        import keyring.errors
    except ImportError:
        raise StoreError("key_keyring needs the keyring package: pip install 'mcpconnect[keyring]'") from None
    try:
        text = keyring.get_password(service, user)
        if text is None and create:
            keyring.set_password(service, user, encode_key(generate_key()))
            text = keyring.get_password(service, user)
    except keyring.errors.KeyringError as exc:
        raise StoreError(
            f"keyring entry {spec}: the OS keychain failed ({type(exc).__name__}); use key_file or key_env"
        ) from None
    if text is None:
        raise StoreError(f"keyring entry {spec} holds no storage key")
    return parse_key(text, f"keyring entry {spec}")


@dataclass(frozen=True)
class EncryptionOptions:
    """The encryption part of ``[storage]``."""

    encryption: Literal["auto", "on", "off"] = "auto"
    key_env: str = DEFAULT_KEY_ENV
    key_file: Path | None = None
    key_keyring: str | None = None

    @classmethod
    def pop_from(cls, options: dict[str, Any]) -> EncryptionOptions:
        """Take the encryption options out of ``options`` (what is left goes to the backend)."""
        raw = {name: options.pop(name) for name in OPTION_NAMES if name in options}
        mode = raw.get("encryption", "auto")
        if mode is True:
            mode = "on"
        elif mode is False:
            mode = "off"
        if mode not in ("auto", "on", "off"):
            raise ConfigError(f'encryption = {mode!r}: use "auto", "on" or "off"', key="storage.encryption")
        key_file = raw.get("key_file")
        for name in ("key_env", "key_file", "key_keyring"):
            if raw.get(name) is not None and not isinstance(raw[name], str):
                raise ConfigError(
                    f"{name} = {raw[name]!r}: write it as a string (a variable name, a path or a keyring entry)",
                    key=f"storage.{name}",
                )
        return cls(
            encryption=mode,
            key_env=str(raw.get("key_env") or DEFAULT_KEY_ENV),
            key_file=Path(key_file).expanduser() if key_file else None,
            key_keyring=str(raw["key_keyring"]) if raw.get("key_keyring") else None,
        )

    def enabled_for(self, encrypt_by_default: bool) -> bool:
        return self.encryption == "on" or (self.encryption == "auto" and encrypt_by_default)

    @property
    def key_file_path(self) -> Path:
        return self.key_file or default_key_file()


def resolve_key(
    options: EncryptionOptions, *, create: bool = True, environ: Mapping[str, str] | None = None
) -> tuple[bytes, KeySource]:
    """The storage key and where it came from; generates the key file when it may."""
    env = os.environ if environ is None else environ
    if env.get(options.key_env):
        return parse_key(env[options.key_env], f"environment variable {options.key_env}"), KeySource(
            "env", options.key_env
        )
    if options.key_keyring:
        return read_keyring_key(options.key_keyring, create=create), KeySource("keyring", options.key_keyring)
    path = options.key_file_path
    if not path.exists():
        if not create:
            raise StoreError(f"no storage key: key file {path} does not exist and {options.key_env} is not set")
        write_new_key_file(path, generate_key())
    return read_key_file(path), KeySource("file", str(path))


def open_cipher(options: EncryptionOptions, *, create: bool = True) -> StoreCipher:
    """The cipher ``options`` describe, with the pending key of an unfinished rekey (if any) able
    to decrypt too, so that a store stays readable whatever moment a rekey was stopped at."""
    key, source = resolve_key(options, create=create)
    keys = [key]
    if source.kind != "env":
        pending = _PendingKey(source, options).read()
        if pending is not None:
            keys.append(pending)
    return StoreCipher(keys, source=source)


def pending_key_path(options: EncryptionOptions) -> Path:
    """Where ``rekey`` keeps the new key until every record is re-encrypted with it."""
    path = options.key_file_path
    return path.with_name(path.name + ".next")


# -- rotating the key ----------------------------------------------------------------------------


def sealed_key_id(data: bytes) -> str | None:
    """The id of the key ``data`` was sealed with, or ``None`` for plaintext."""
    if not looks_encrypted(data):
        return None
    return data[len(MAGIC) : len(MAGIC) + _KEY_ID_LEN].hex()


@dataclass(frozen=True)
class RekeyReport:
    """What :func:`rotate_key` did."""

    old_key_id: str
    new_key_id: str
    reencrypted: int
    records: int
    source: KeySource
    #: For an environment key: the variable that now holds the key the store is encrypted with.
    new_key_env: str | None = None


async def reencrypt(backend: StorageBackend, reader: StoreCipher, writer: StoreCipher) -> tuple[int, int]:
    """Re-encrypt every record not sealed by ``writer``'s key; compare-and-swap, so a record
    written meanwhile is read again rather than overwritten. Returns (re-encrypted, records)."""
    from mcpconnect.errors import VersionConflict
    from mcpconnect.storage._store import NAMESPACES

    changed = total = 0
    for namespace in NAMESPACES:
        for key, record in (await backend.list(namespace)).items():
            total += 1
            current: Record | None = record
            while current is not None and sealed_key_id(current.data) != writer.key_id:
                try:
                    plain = reader.decrypt(current.data)
                except StoreError as exc:
                    raise StoreError(f"{backend.describe()}: {namespace} '{key}': {exc}") from None
                try:
                    await backend.put(namespace, key, writer.encrypt(plain), expected_version=current.version)
                    changed += 1
                    break
                except VersionConflict:
                    current = await backend.get(namespace, key)
    return changed, total


async def verify_sealed(backend: StorageBackend, cipher: StoreCipher) -> int:
    """Decrypt every record with ``cipher`` alone; raises on the first that fails."""
    from mcpconnect.storage._store import NAMESPACES

    count = 0
    for namespace in NAMESPACES:
        for key, record in (await backend.list(namespace)).items():
            try:
                cipher.decrypt(record.data)
            except StoreError as exc:
                raise StoreError(f"{backend.describe()}: {namespace} '{key}' did not verify: {exc}") from None
            count += 1
    return count


async def rotate_key(
    backend: StorageBackend,
    options: EncryptionOptions,
    *,
    new_key_env: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> RekeyReport:
    """Re-encrypt every record of ``backend`` with a new key, losing nothing wherever it stops.

    For a key file (or keyring entry), the new key is first saved beside the old one as pending
    (``storage.key.next``); every record is re-encrypted with compare-and-swap; all are checked
    to decrypt with the new key alone; only then does the new key replace the old one, and a last
    pass catches records that another process wrote with the old key meanwhile. Until then the
    store opens with both keys (see :func:`open_cipher`), and running ``rekey`` again resumes
    with the same pending key. For a key in an environment variable, the new key is read from
    ``new_key_env``; the user then points ``key_env`` at it.
    """
    env = os.environ if environ is None else environ
    old_key, source = resolve_key(options, create=True, environ=env)  # first-time encryption too
    old_keys = [old_key]
    if source.kind == "env":
        if not new_key_env or not env.get(new_key_env):
            raise StoreError(
                f"the storage key comes from {source.describe()}: put a new key in another variable "
                "and run 'mcpconnect tokens rekey --new-key-env THAT_VARIABLE'"
            )
        new_key = parse_key(env[new_key_env], f"environment variable {new_key_env}")
        if new_key == old_key:
            raise StoreError(f"{new_key_env} holds the same key as {options.key_env}; generate a new one")
        holder: _PendingKey | None = None
    else:
        holder = _PendingKey(source, options)
        pending = holder.read()
        if pending is not None and pending == old_key:  # a rekey stopped after promoting its key
            holder.clear()
            pending = None
        if pending is None:
            holder.write(generate_key())
            pending = holder.read()
            assert pending is not None
        new_key = pending
    reader = StoreCipher([new_key, *old_keys], source=source, accept_plaintext=True)
    writer = StoreCipher([new_key], source=source)
    changed, total = await reencrypt(backend, reader, writer)
    await verify_sealed(backend, writer)
    if holder is not None:
        holder.promote(new_key)
        more, total = await reencrypt(backend, reader, writer)  # late writers with the old key
        changed += more
        await verify_sealed(backend, writer)
        holder.clear()
    return RekeyReport(
        old_key_id=key_id(old_key),
        new_key_id=key_id(new_key),
        reencrypted=changed,
        records=total,
        source=source,
        new_key_env=new_key_env if source.kind == "env" else None,
    )


class _PendingKey:
    """The new key of an unfinished rekey, kept where the current key is."""

    def __init__(self, source: KeySource, options: EncryptionOptions) -> None:
        self.source = source
        self.options = options

    def _keyring_entry(self) -> tuple[str, str]:
        service, user = _keyring_entry(self.source.where)
        return service, user + ".next"

    def read(self) -> bytes | None:
        if self.source.kind == "keyring":
            import keyring

            service, user = self._keyring_entry()
            text = keyring.get_password(service, user)
            return parse_key(text, f"keyring entry {service}/{user}") if text else None
        path = pending_key_path(self.options)
        return read_key_file(path) if path.exists() else None

    def write(self, key: bytes) -> None:
        if self.source.kind == "keyring":
            import keyring

            keyring.set_password(*self._keyring_entry(), encode_key(key))
        else:
            write_new_key_file(pending_key_path(self.options), key)

    def promote(self, key: bytes) -> None:
        if self.source.kind == "keyring":
            import keyring

            service, user = _keyring_entry(self.source.where)
            keyring.set_password(service, user, encode_key(key))
        else:
            atomic_write(Path(self.source.where), (encode_key(key) + "\n").encode(), mode=PRIVATE_FILE)

    def clear(self) -> None:
        if self.source.kind == "keyring":
            import keyring
            import keyring.errors

            with contextlib.suppress(keyring.errors.PasswordDeleteError):
                keyring.delete_password(*self._keyring_entry())
        else:
            with contextlib.suppress(FileNotFoundError):
                pending_key_path(self.options).unlink()
