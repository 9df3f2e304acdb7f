"""The ``file`` token store: one JSON file, for development and single-user machines.

The file (``tokens.json`` in mcpconnect's data folder unless ``path`` is given) is mode 0600 in a
0700 folder, and is only ever replaced whole (temporary file, fsync, rename), so a crash leaves
the old or the new content, never a mix. Writers take an ``flock`` on ``tokens.json.lock`` for
their read-check-write, so compare-and-swap holds across processes; readers need no lock.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mcpconnect import hookimpl
from mcpconnect.errors import StoreError, VersionConflict
from mcpconnect.storage import (
    ANY_VERSION,
    PRIVATE_FILE,
    FileLeaseLocking,
    Record,
    StorageBackend,
    atomic_write,
    data_dir,
    held_flock,
    keep_aside,
    tighten_file_mode,
)

if TYPE_CHECKING:
    from mcpconnect.hookspecs import RegisterTokenStore

__all__ = ["FORMAT", "FileBackend"]

T = TypeVar("T")
#: The file format this version writes; a file with a higher one is refused.
FORMAT = 1

Records = dict[str, dict[str, dict[str, Any]]]


def default_path() -> Path:
    return data_dir() / "tokens.json"


class FileBackend(FileLeaseLocking, StorageBackend):
    """Records in one JSON file."""

    name = "file"
    encrypt_by_default = True

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path).expanduser() if path else default_path()
        self._write_lock = self.path.with_name(self.path.name + ".lock")
        self.lock_directory = self.path.with_name(self.path.name + ".locks")

    def describe(self) -> str:
        return f"file store {self.path}"

    # -- the file -------------------------------------------------------------------------------

    def _parse(self, raw: bytes) -> Records:
        doc = json.loads(raw)
        if not isinstance(doc, dict) or not isinstance(doc.get("records"), dict):
            raise ValueError("not a token file")
        if doc.get("format", 0) > FORMAT:
            raise StoreError(
                f"{self.describe()}: the file has format {doc['format']}, from a newer "
                f"mcpconnect-store-file (this one knows up to {FORMAT}); upgrade it, or point "
                "[storage] path at another file"
            )
        records: Records = doc["records"]
        return records

    def _read(self, *, locked: bool = False) -> Records:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StoreError(f"{self.describe()}: cannot read it ({exc.strerror})") from None
        try:
            return self._parse(raw)
        except StoreError:
            raise
        except ValueError as exc:
            if not locked:
                # Only a writer (holding the write lock) moves a damaged file aside.
                with self._writing():
                    return self._read(locked=True)
            aside = keep_aside(self.path)
            raise StoreError(
                f"{self.describe()}: the file is damaged ({type(exc).__name__}); it was moved aside "
                f"to {aside} (kept for recovery) and a new, empty store will be created: log in again"
            ) from None

    def _write(self, records: Records) -> None:
        doc = {"format": FORMAT, "records": records}
        atomic_write(self.path, json.dumps(doc, sort_keys=True, indent=1).encode(), mode=PRIVATE_FILE)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        tighten_file_mode(self.path)
        with held_flock(self._write_lock):
            yield

    def _update(self, fn: Callable[[Records], T]) -> T:
        with self._writing():
            self._remove_stale_temporaries()
            records = self._read(locked=True)
            result = fn(records)
            self._write(records)
            return result

    def _remove_stale_temporaries(self) -> None:
        # Only the holder of the write lock writes a temporary file, so any found now was left
        # by a writer that was killed mid-write.
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()

    def _check(self, records: Records, namespace: str, key: str, expected: int) -> int:
        current = records.get(namespace, {}).get(key)
        version = self._record(current).version if current else 0
        if expected != ANY_VERSION and expected != version:
            raise VersionConflict(
                f"{self.describe()}: {namespace} '{key}' is at version {version}, not {expected}; "
                "read it again and retry"
            )
        return version

    @staticmethod
    def _record(entry: Any) -> Record:
        try:
            return Record(base64.b64decode(entry["data"], validate=True), int(entry["version"]))
        except (KeyError, TypeError, ValueError) as exc:  # binascii.Error is a ValueError
            return Record.damaged(f"the entry is not a record ({type(exc).__name__})")

    # -- records --------------------------------------------------------------------------------

    async def get(self, namespace: str, key: str) -> Record | None:
        records = await asyncio.to_thread(self._read)
        entry = records.get(namespace, {}).get(key)
        return self._record(entry) if entry else None

    async def put(self, namespace: str, key: str, data: bytes, *, expected_version: int = ANY_VERSION) -> int:
        def op(records: Records) -> int:
            version = self._check(records, namespace, key, expected_version) + 1
            records.setdefault(namespace, {})[key] = {
                "version": version,
                "data": base64.b64encode(data).decode(),
            }
            return version

        return await asyncio.to_thread(self._update, op)

    async def delete(self, namespace: str, key: str, *, expected_version: int = ANY_VERSION) -> bool:
        def op(records: Records) -> bool:
            self._check(records, namespace, key, expected_version)
            return records.get(namespace, {}).pop(key, None) is not None

        return await asyncio.to_thread(self._update, op)

    async def list(self, namespace: str) -> dict[str, Record]:
        records = await asyncio.to_thread(self._read)
        return {key: self._record(entry) for key, entry in records.get(namespace, {}).items()}


@hookimpl
def register_token_stores(register: RegisterTokenStore) -> None:
    register("file", FileBackend, description="A JSON file (0600) in the data folder")
