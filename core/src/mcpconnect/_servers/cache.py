"""The discovery cache: what a server said about itself, kept on disk between runs.

Server info, capabilities, protocol version and the tool list are stored under a key derived
from the server's configuration, so any configuration change misses. An entry is dropped when the
server sends ``notifications/tools/list_changed`` and ignored once older than ``max_age``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcpconnect._fsutil import atomic_write, make_private_dirs

if TYPE_CHECKING:
    from mcpconnect._config import ServerConfig

__all__ = ["DEFAULT_MAX_AGE", "DiscoveryCache", "cache_key"]

#: Seconds a cached discovery stays valid.
DEFAULT_MAX_AGE = 3600.0
_FORMAT = 1


def cache_key(name: str, server: ServerConfig) -> str:
    """A hash of everything that decides what the server is; secrets are left out of it."""
    shape = server.model_dump(mode="json", exclude={"token"})
    blob = json.dumps({"name": name, "server": shape, "format": _FORMAT}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def default_directory() -> Path:
    from platformdirs import user_cache_path

    return user_cache_path("mcpconnect", appauthor=False) / "discovery"


class DiscoveryCache:
    """One JSON file per server configuration under the platform's cache folder."""

    def __init__(self, directory: Path | None = None, *, max_age: float = DEFAULT_MAX_AGE) -> None:
        self.directory = directory if directory is not None else default_directory()
        self.max_age = max_age

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached entry, or ``None`` when missing, unreadable or older than ``max_age``."""
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            return None
        saved = data.get("saved_at")
        if not isinstance(saved, int | float) or time.time() - saved > self.max_age:
            return None
        return data

    def put(self, key: str, entry: dict[str, Any]) -> None:
        """Store ``entry`` (JSON-serialisable); a cache that cannot be written is skipped."""
        data = {**entry, "format": _FORMAT, "saved_at": time.time()}
        try:
            make_private_dirs(self.directory)
            atomic_write(self._path(key), json.dumps(data).encode(), mode=0o600)
        except OSError:
            pass

    def invalidate(self, key: str) -> None:
        """Drop the entry of ``key`` (a ``tools/list_changed`` arrived)."""
        with contextlib.suppress(OSError):
            self._path(key).unlink()
