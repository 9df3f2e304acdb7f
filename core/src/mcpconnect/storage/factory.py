"""Open the token store the configuration selects."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcpconnect.errors import StoreError
from mcpconnect.storage.base import StorageBackend
from mcpconnect.storage.store import TokenStore

if TYPE_CHECKING:
    from mcpconnect.config.model import StorageConfig
    from mcpconnect.plugins import PluginHost

__all__ = ["open_backend", "open_store"]


def open_backend(storage: StorageConfig, host: PluginHost) -> StorageBackend:
    """Load only the selected backend's plugin and build it from ``[storage]``'s options."""
    registration = host.load("store", storage.backend)
    try:
        backend = registration.factory(**storage.options())
    except TypeError as exc:
        raise StoreError(
            f"storage backend '{storage.backend}': bad options in [storage] ({exc}); see its docs page"
        ) from None
    if not isinstance(backend, StorageBackend):
        raise StoreError(
            f"storage backend '{storage.backend}' returned {type(backend).__name__}, not a StorageBackend; "
            "report this to the plugin's authors"
        )
    return backend


def open_store(storage: StorageConfig, host: PluginHost) -> TokenStore:
    """The :class:`TokenStore` over the selected backend (encryption is added by the backend's
    options where it supports it)."""
    return TokenStore(open_backend(storage, host))
