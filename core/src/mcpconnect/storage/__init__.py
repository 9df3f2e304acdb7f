"""Token storage: the backend contract plugins implement, and the token store built on it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcpconnect.storage.base import ANY_VERSION, LockLease, Record, StorageBackend

if TYPE_CHECKING:
    from mcpconnect.storage.store import TokenStore

__all__ = ["ANY_VERSION", "LockLease", "Record", "StorageBackend", "TokenStore"]


def __getattr__(name: str) -> Any:
    # TokenStore pulls in pydantic (through the token model); store plugins' entry modules import
    # this package and must stay cheap.
    if name == "TokenStore":
        from mcpconnect.storage.store import TokenStore

        return TokenStore
    raise AttributeError(f"module 'mcpconnect.storage' has no attribute {name!r}")
