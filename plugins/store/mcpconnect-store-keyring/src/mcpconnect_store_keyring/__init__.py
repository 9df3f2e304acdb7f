"""The ``keyring`` token store: each record in the operating system's keychain.

macOS Keychain, Windows Credential Locker, the freedesktop Secret Service (GNOME Keyring,
KWallet), or any backend of the ``keyring`` package (``keyring_backend`` names one). Each record
is the entry ``NAMESPACE:KEY`` of the service ``service`` (default ``mcpconnect``); keychains
cannot list their entries, so an index entry per namespace names the keys. Keychains have no
compare-and-swap either: readers and writers on this machine serialize through a file lock in
mcpconnect's data folder, as do refresh locks. Records are not encrypted again by default: the keychain
already encrypts them.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from mcpconnect import hookimpl
from mcpconnect.errors import StoreError, VersionConflict
from mcpconnect.storage import ANY_VERSION, FileLeaseLocking, Record, StorageBackend, data_dir, held_flock

if TYPE_CHECKING:
    from mcpconnect.hookspecs import RegisterTokenStore

__all__ = ["KeyringBackend"]

T = TypeVar("T")

NO_BACKEND = (
    "keyring store: this system has no usable OS keychain ({found}); start or install one "
    "(the Secret Service via gnome-keyring or KWallet on Linux), install a keyring backend such "
    "as keyrings.alt and name it in [storage] keyring_backend, or choose another store: "
    '[storage] backend = "sqlite" (the default) or "file"'
)


class KeyringBackend(FileLeaseLocking, StorageBackend):
    """Records as keychain entries of one service."""

    name = "keyring"

    def __init__(self, service: str = "mcpconnect", keyring_backend: str | None = None) -> None:
        self.service = service
        self.keyring_backend = keyring_backend
        self._keyring: Any = None
        self.lock_directory = data_dir() / f"keyring-{service}.locks"
        self._write_lock = data_dir() / f"keyring-{service}.lock"

    def describe(self) -> str:
        return f"keyring store (service {self.service!r})"

    def check_available(self) -> None:
        """Whether a usable keychain (or the named ``keyring_backend``) is there: ``keyring`` is
        imported here, not when the plugin loads."""
        self._backend()

    def _backend(self) -> Any:
        if self._keyring is None:
            import keyring
            import keyring.backends.fail
            import keyring.core

            try:
                name = self.keyring_backend
                kr = keyring.core.load_keyring(name) if name else keyring.get_keyring()
            except Exception as exc:
                raise StoreError(
                    f"keyring store: cannot load keyring backend {self.keyring_backend!r} ({exc}); "
                    "check [storage] keyring_backend"
                ) from None
            backends = getattr(kr, "backends", None)
            if isinstance(kr, keyring.backends.fail.Keyring) or backends == []:
                raise StoreError(NO_BACKEND.format(found=type(kr).__name__))
            self._keyring = kr
        return self._keyring

    def _call(self, fn: Callable[[Any], T]) -> T:
        import keyring.errors

        kr = self._backend()
        try:
            return fn(kr)
        except keyring.errors.NoKeyringError:
            raise StoreError(NO_BACKEND.format(found="none")) from None
        except keyring.errors.KeyringError as exc:
            raise StoreError(
                f"{self.describe()}: the keychain failed ({type(exc).__name__}: {exc}); unlock it, "
                'or choose [storage] backend = "sqlite"'
            ) from None

    # -- entries --------------------------------------------------------------------------------

    def _read(self, kr: Any, namespace: str, key: str) -> Record | None:
        raw = kr.get_password(self.service, f"{namespace}:{key}")
        if raw is None:
            return None
        try:
            entry = json.loads(raw)
            return Record(base64.b64decode(entry["d"], validate=True), int(entry["v"]))
        except (ValueError, KeyError, TypeError) as exc:
            return Record.damaged(f"the keychain entry {namespace}:{key} is not a record ({type(exc).__name__})")

    def _index(self, kr: Any, namespace: str) -> list[str]:
        raw = kr.get_password(self.service, f"__index__:{namespace}")
        keys = json.loads(raw) if raw else []
        return [str(k) for k in keys] if isinstance(keys, list) else []

    def _check(self, kr: Any, namespace: str, key: str, expected: int) -> int:
        current = self._read(kr, namespace, key)
        version = current.version if current else 0
        if expected != ANY_VERSION and expected != version:
            raise VersionConflict(
                f"{self.describe()}: {namespace} '{key}' is at version {version}, not {expected}; "
                "read it again and retry"
            )
        return version

    async def get(self, namespace: str, key: str) -> Record | None:
        def op(kr: Any) -> Record | None:
            # Readers take the lock too: some backends (keyrings.alt's files) rewrite in place.
            with held_flock(self._write_lock):
                return self._read(kr, namespace, key)

        return await asyncio.to_thread(self._call, op)

    async def put(self, namespace: str, key: str, data: bytes, *, expected_version: int = ANY_VERSION) -> int:
        def op(kr: Any) -> int:
            with held_flock(self._write_lock):
                version = self._check(kr, namespace, key, expected_version) + 1
                entry = {"v": version, "d": base64.b64encode(data).decode()}
                index = self._index(kr, namespace)
                if key not in index:
                    # The index first: a crash between the two leaves a listed key without an entry
                    # (skipped by list), never an entry that list cannot see.
                    kr.set_password(self.service, f"__index__:{namespace}", json.dumps([*index, key]))
                kr.set_password(self.service, f"{namespace}:{key}", json.dumps(entry))
                return version

        return await asyncio.to_thread(self._call, op)

    async def delete(self, namespace: str, key: str, *, expected_version: int = ANY_VERSION) -> bool:
        import keyring.errors

        def op(kr: Any) -> bool:
            with held_flock(self._write_lock):
                self._check(kr, namespace, key, expected_version)
                existed = self._read(kr, namespace, key) is not None  # a damaged entry too
                if existed:
                    try:
                        kr.delete_password(self.service, f"{namespace}:{key}")
                    except keyring.errors.PasswordDeleteError:
                        existed = False
                index = self._index(kr, namespace)
                if key in index:
                    index.remove(key)
                    kr.set_password(self.service, f"__index__:{namespace}", json.dumps(index))
                return existed

        return await asyncio.to_thread(self._call, op)

    async def list(self, namespace: str) -> dict[str, Record]:
        def op(kr: Any) -> dict[str, Record]:
            out = {}
            with held_flock(self._write_lock):
                keys = self._index(kr, namespace)
                records = [(key, self._read(kr, namespace, key)) for key in keys]
            for key, record in records:
                if record is not None:
                    out[key] = record
            return out

        return await asyncio.to_thread(self._call, op)


@hookimpl
def register_token_stores(register: RegisterTokenStore) -> None:
    register("keyring", KeyringBackend, description="The operating system's keychain")
