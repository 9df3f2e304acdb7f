"""Token storage: the backend contract plugins implement, the token store built on it, and the
helpers that store plugins share.

A store plugin needs nothing else from the core: :class:`StorageBackend` and its records, the
errors of :mod:`mcpconnect.errors`, and for a store that keeps local files the private-file
helpers and :class:`FileLeaseLocking` below; for a store on a server, :func:`redact_url` and
:func:`scrub_password` to keep its password out of messages. See ``docs/writing-stores.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcpconnect.storage._base import ANY_VERSION, LockLease, Record, StorageBackend

if TYPE_CHECKING:
    from mcpconnect._fsutil import atomic_write
    from mcpconnect.storage._local import (
        PRIVATE_FILE,
        FileLeaseLock,
        FileLeaseLocking,
        data_dir,
        ensure_private_dir,
        held_flock,
        keep_aside,
        tighten_file_mode,
    )
    from mcpconnect.storage._remote import redact_url, scrub_password
    from mcpconnect.storage._store import TokenStore

__all__ = [
    "ANY_VERSION",
    "PRIVATE_FILE",
    "FileLeaseLock",
    "FileLeaseLocking",
    "LockLease",
    "Record",
    "StorageBackend",
    "TokenStore",
    "atomic_write",
    "data_dir",
    "ensure_private_dir",
    "held_flock",
    "keep_aside",
    "redact_url",
    "scrub_password",
    "tighten_file_mode",
]

# Where each lazily imported name lives: store plugins' entry modules import this package and must
# stay cheap (TokenStore pulls in pydantic through the token model; a server store needs none of
# the local-file helpers, nor they asyncio).
_LAZY = {
    "TokenStore": "mcpconnect.storage._store",
    "atomic_write": "mcpconnect._fsutil",
    "redact_url": "mcpconnect.storage._remote",
    "scrub_password": "mcpconnect.storage._remote",
    **dict.fromkeys(
        [
            "PRIVATE_FILE",
            "FileLeaseLock",
            "FileLeaseLocking",
            "data_dir",
            "ensure_private_dir",
            "held_flock",
            "keep_aside",
            "tighten_file_mode",
        ],
        "mcpconnect.storage._local",
    ),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mcpconnect.storage' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
