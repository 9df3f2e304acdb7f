"""The contract every token storage backend implements.

A backend is a small versioned key-value store with a lease lock. It keeps opaque bytes: the
core's :class:`~mcpconnect.storage.TokenStore` does serialization and encryption on top, so each
backend only has to be correct about versions, atomicity and locking.

Records live in namespaces (``"token"``, ``"registration"``) under string keys. Every write bumps
the record's version; a write that names ``expected_version`` fails with
:class:`~mcpconnect.errors.VersionConflict` when the stored version differs, so that a stale
writer can never overwrite a newer token. ``expected_version=0`` means "must not exist yet".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Final

__all__ = ["ANY_VERSION", "LockLease", "Record", "StorageBackend"]

#: ``expected_version`` default: write whatever is stored (last writer wins).
ANY_VERSION: Final = -1


@dataclass(frozen=True)
class Record:
    """Stored bytes and their version (1 for the first write, then +1 on each write).

    A backend that finds a record it cannot read (a version that is no number, data that does
    not decode) returns it with ``problem`` saying what is wrong, instead of failing the whole
    :meth:`StorageBackend.list`: one damaged record must not hide the others.
    """

    data: bytes
    version: int
    problem: str | None = None

    @classmethod
    def damaged(cls, problem: str) -> Record:
        """A record that is there but cannot be read."""
        return cls(b"", 0, problem)

    def __repr__(self) -> str:
        # The data may be a token: never show it.
        if self.problem:
            return f"Record(damaged: {self.problem})"
        return f"Record(version={self.version}, {len(self.data)} bytes)"


@dataclass(frozen=True)
class LockLease:
    """A held refresh lock.

    ``fencing_token`` grows with every acquisition of the same lock, so a holder whose lease
    expired can be told apart from the current one.
    """

    name: str
    fencing_token: int
    expires_at: float


class StorageBackend(ABC):
    """What a ``mcpconnect.store`` plugin's factory returns. All methods are coroutines."""

    #: The registered name (``"sqlite"``), used in messages.
    name: str = "backend"

    #: Whether ``[storage] encryption = "auto"`` (the default) encrypts this backend's records:
    #: true for stores that write to local files, false where the store protects its data itself
    #: (the OS keychain) or is a server with its own access control (Redis, PostgreSQL).
    encrypt_by_default: bool = False

    def describe(self) -> str:
        """Where the data lives, for messages: a path, or a URL without its password."""
        return self.name

    def check_available(self) -> None:  # noqa: B027 - optional, as close() is
        """Raise :class:`~mcpconnect.errors.StoreError` when this backend cannot work on this
        machine at all (a keyring store with no keychain), saying what to do.

        Cheap and synchronous: ``config validate`` and ``check`` call it. It must not connect to
        a server (a Redis or PostgreSQL that is down is found on first use). The default does
        nothing.
        """

    @abstractmethod
    async def get(self, namespace: str, key: str) -> Record | None:
        """The record at ``key``, or ``None``."""

    @abstractmethod
    async def put(self, namespace: str, key: str, data: bytes, *, expected_version: int = ANY_VERSION) -> int:
        """Store ``data`` atomically and return the new version.

        Raises :class:`~mcpconnect.errors.VersionConflict` when ``expected_version`` is given and
        differs from the stored version (0: the record must not exist).
        """

    @abstractmethod
    async def delete(self, namespace: str, key: str, *, expected_version: int = ANY_VERSION) -> bool:
        """Delete ``key``; ``False`` when it was not there. Honours ``expected_version`` like put."""

    @abstractmethod
    async def list(self, namespace: str) -> dict[str, Record]:
        """Every record of ``namespace``, by key. A record that cannot be read is listed as
        :meth:`Record.damaged`, never raised: the others must stay readable."""

    @abstractmethod
    def lock(self, name: str, *, lease: float, wait: float) -> AbstractAsyncContextManager[LockLease]:
        """Hold the lock ``name`` for at most ``lease`` seconds, waiting up to ``wait`` seconds.

        Across tasks, and for shared backends across processes and hosts, one holder at a time.
        Raises :class:`TimeoutError` when ``wait`` runs out.
        """

    async def close(self) -> None:  # noqa: B027 - optional for backends without connections
        """Release connections and files."""

    async def __aenter__(self) -> StorageBackend:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
