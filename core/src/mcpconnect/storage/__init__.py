"""Token storage: the backend contract plugins implement, and the token store built on it."""

from mcpconnect.storage.base import ANY_VERSION, LockLease, Record, StorageBackend
from mcpconnect.storage.store import TokenStore

__all__ = ["ANY_VERSION", "LockLease", "Record", "StorageBackend", "TokenStore"]
