"""Open the token store the configuration selects."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mcpconnect.storage._base import StorageBackend
from mcpconnect.storage._crypto import OPTION_NAMES, EncryptionOptions
from mcpconnect.storage._store import TokenStore

if TYPE_CHECKING:
    from mcpconnect._config.model import StorageConfig
    from mcpconnect._plugins import PluginHost

__all__ = ["backend_options", "encryption_options", "open_backend", "open_store"]


#: Where a ``[storage]`` option was set: its name in, the layer out (a file, an ``MCPCONNECT_``
#: variable, ``--set``); ``LoadedConfig.source_of`` for the ``storage`` table.
SourceOf = Callable[[str], str]


def open_backend(storage: StorageConfig, host: PluginHost, source_of: SourceOf | None = None) -> StorageBackend:
    """Load only the selected backend's plugin and build it from ``[storage]``'s options (all
    but the encryption ones, which :func:`open_store` handles). With ``source_of``, an option
    the backend refuses is reported with where it was set."""
    return _open_backend(storage, host, backend_options(storage), source_of)


def backend_options(storage: StorageConfig) -> dict[str, Any]:
    """``[storage]``'s options for the backend's factory: every one but the encryption options."""
    options = storage.options()
    for name in OPTION_NAMES:
        options.pop(name, None)
    return options


def encryption_options(storage: StorageConfig) -> EncryptionOptions:
    """The encryption part of ``[storage]`` (``encryption``, ``key_env``, ``key_file``, ``key_keyring``)."""
    return EncryptionOptions.pop_from(storage.options())


def _open_backend(
    storage: StorageConfig, host: PluginHost, options: dict[str, Any], source_of: SourceOf | None
) -> StorageBackend:
    from mcpconnect.errors import ConfigError, PluginNotFoundError, StoreOptionError

    try:
        backend: StorageBackend = host.build("store", storage.backend, returns=StorageBackend, **options)
    except PluginNotFoundError as exc:
        # The name came from the configuration: say which key holds it.
        source = source_of("backend") if source_of else None
        raise ConfigError(str(exc), source=source, key="storage.backend") from None
    except StoreOptionError as exc:
        if source_of is None:
            raise
        raise exc.located(source_of) from None
    return backend


def open_store(storage: StorageConfig, host: PluginHost, source_of: SourceOf | None = None) -> TokenStore:
    """The :class:`TokenStore` over the selected backend, encrypting records when ``[storage]
    encryption`` says so (``"auto"``: where the backend's ``encrypt_by_default`` is true).
    ``source_of`` names where each option was set, for errors (see :func:`open_backend`)."""
    from mcpconnect.errors import ConfigError

    try:
        crypto = encryption_options(storage)
        backend = open_backend(storage, host, source_of)
        if not crypto.enabled_for(backend.encrypt_by_default):
            return TokenStore(backend)
        from mcpconnect.storage._crypto import open_cipher

        return TokenStore(backend, cipher=open_cipher(crypto))
    except ConfigError as exc:
        # An encryption option names its key ("storage.key_file"); add where it was set.
        if source_of is None or exc.source or not (exc.key or "").startswith("storage."):
            raise
        raise ConfigError(exc.problem, source=source_of(str(exc.key).split(".", 1)[1]), key=exc.key) from None
