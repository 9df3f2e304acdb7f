"""Open the token store the configuration selects."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcpconnect.storage.base import StorageBackend
from mcpconnect.storage.crypto import OPTION_NAMES, EncryptionOptions
from mcpconnect.storage.store import TokenStore

if TYPE_CHECKING:
    from mcpconnect.config.model import StorageConfig
    from mcpconnect.plugins import PluginHost

__all__ = ["backend_options", "encryption_options", "open_backend", "open_store"]


def open_backend(storage: StorageConfig, host: PluginHost) -> StorageBackend:
    """Load only the selected backend's plugin and build it from ``[storage]``'s options (all
    but the encryption ones, which :func:`open_store` handles)."""
    return _open_backend(storage, host, backend_options(storage))


def backend_options(storage: StorageConfig) -> dict[str, Any]:
    """``[storage]``'s options for the backend's factory: every one but the encryption options."""
    options = storage.options()
    for name in OPTION_NAMES:
        options.pop(name, None)
    return options


def encryption_options(storage: StorageConfig) -> EncryptionOptions:
    """The encryption part of ``[storage]`` (``encryption``, ``key_env``, ``key_file``, ``key_keyring``)."""
    return EncryptionOptions.pop_from(storage.options())


def _open_backend(storage: StorageConfig, host: PluginHost, options: dict[str, Any]) -> StorageBackend:
    from mcpconnect.errors import ConfigError, PluginNotFoundError

    try:
        backend: StorageBackend = host.build("store", storage.backend, returns=StorageBackend, **options)
    except PluginNotFoundError as exc:
        # The name came from the configuration: say which key holds it.
        raise ConfigError(str(exc), key="storage.backend") from None
    return backend


def open_store(storage: StorageConfig, host: PluginHost) -> TokenStore:
    """The :class:`TokenStore` over the selected backend, encrypting records when ``[storage]
    encryption`` says so (``"auto"``: where the backend's ``encrypt_by_default`` is true)."""
    crypto = encryption_options(storage)
    backend = open_backend(storage, host)
    if not crypto.enabled_for(backend.encrypt_by_default):
        return TokenStore(backend)
    from mcpconnect.storage.crypto import open_cipher

    return TokenStore(backend, cipher=open_cipher(crypto))
