"""The ``sqlite`` token store, mcpconnect's embedded default.

One SQLite database (``tokens.db`` in mcpconnect's data folder unless ``path`` is given), in WAL
mode, with a versioned schema (``PRAGMA user_version``) migrated forward on open. A database
from a newer mcpconnect is refused rather than guessed at. Refresh locks are cross-process file
locks with leases beside the database (``tokens.db.locks/``).

The standard library's ``sqlite3`` runs in worker threads (``asyncio.to_thread``), serialized
by one lock per store: aiosqlite would add a dependency for the same thread hop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
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
    data_dir,
    ensure_private_dir,
    keep_aside,
    tighten_file_mode,
)

if TYPE_CHECKING:
    import sqlite3

    from mcpconnect.hookspecs import RegisterTokenStore

__all__ = ["SCHEMA_VERSION", "SqliteBackend"]

T = TypeVar("T")

#: Each entry moves the schema from version i to i+1. Append; never edit a released one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE records (
        namespace  TEXT    NOT NULL,
        key        TEXT    NOT NULL,
        version    INTEGER NOT NULL,
        data       BLOB    NOT NULL,
        updated_at REAL    NOT NULL,
        PRIMARY KEY (namespace, key)
    ) WITHOUT ROWID;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
_COMPANIONS = ("-wal", "-shm")


def default_path() -> Path:
    return data_dir() / "tokens.db"


class SqliteBackend(FileLeaseLocking, StorageBackend):
    """Records in one SQLite database file."""

    name = "sqlite"
    encrypt_by_default = True

    def __init__(self, path: str | Path | None = None, busy_timeout: float = 10.0) -> None:
        self.path = Path(path).expanduser() if path else default_path()
        self.busy_timeout = float(busy_timeout)
        self._conn: sqlite3.Connection | None = None
        self._mutex = threading.Lock()
        self.lock_directory = self.path.with_name(self.path.name + ".locks")

    def describe(self) -> str:
        return f"sqlite store {self.path}"

    # -- connection and schema ------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        import sqlite3

        ensure_private_dir(self.path.parent)
        if not self.path.exists():
            # Created empty with 0600 first, so that sqlite never makes it world-readable.
            self.path.touch(mode=PRIVATE_FILE, exist_ok=True)
        tighten_file_mode(self.path)
        try:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.describe()}: cannot open it ({exc}); check the path and its folder") from None
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            self._migrate(conn)
        except StoreError:
            conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            conn.close()
            if type(exc) is not sqlite3.DatabaseError:
                raise StoreError(f"{self.describe()}: {exc}; try again, or check the file") from None
            aside = keep_aside(self.path, *_COMPANIONS)
            raise StoreError(
                f"{self.describe()}: the database is damaged ({exc}); it was moved aside to {aside} "
                "(kept for recovery) and a new, empty store will be created: log in again"
            ) from None
        for suffix in _COMPANIONS:
            tighten_file_mode(self.path.with_name(self.path.name + suffix))
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        found = conn.execute("PRAGMA user_version").fetchone()[0]
        if found > SCHEMA_VERSION:
            raise StoreError(
                f"{self.describe()}: the database has schema version {found}, from a newer "
                f"mcpconnect-store-sqlite (this one knows up to {SCHEMA_VERSION}); upgrade "
                "mcpconnect-store-sqlite, or point [storage] path at another file"
            )
        if found == SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
            for version in range(current, SCHEMA_VERSION):
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        import sqlite3

        with self._mutex:
            if self._conn is None:
                self._conn = self._connect()
            try:
                return fn(self._conn)
            except sqlite3.OperationalError as exc:
                raise StoreError(f"{self.describe()}: {exc}; try again, or check the disk") from None
            except sqlite3.DatabaseError as exc:
                if type(exc) is not sqlite3.DatabaseError:  # integrity, programming: not damage
                    raise
                self._conn.close()
                self._conn = None
                aside = keep_aside(self.path, *_COMPANIONS)
                raise StoreError(
                    f"{self.describe()}: the database is damaged ({exc}); it was moved aside to {aside} "
                    "(kept for recovery) and a new, empty store will be created: log in again"
                ) from None

    async def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.to_thread(self._run, fn)

    # -- records --------------------------------------------------------------------------------

    async def get(self, namespace: str, key: str) -> Record | None:
        def op(conn: sqlite3.Connection) -> Record | None:
            row = conn.execute(
                "SELECT data, version FROM records WHERE namespace = ? AND key = ?", (namespace, key)
            ).fetchone()
            return _record(row[0], row[1]) if row else None

        return await self._call(op)

    def _check(self, conn: sqlite3.Connection, namespace: str, key: str, expected: int) -> int:
        row = conn.execute("SELECT version FROM records WHERE namespace = ? AND key = ?", (namespace, key)).fetchone()
        version: int = row[0] if row else 0
        if expected != ANY_VERSION and expected != version:
            raise VersionConflict(
                f"{self.describe()}: {namespace} '{key}' is at version {version}, not {expected}; "
                "read it again and retry"
            )
        return version

    async def put(self, namespace: str, key: str, data: bytes, *, expected_version: int = ANY_VERSION) -> int:
        def op(conn: sqlite3.Connection) -> int:
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = self._check(conn, namespace, key, expected_version) + 1
                conn.execute(
                    "INSERT OR REPLACE INTO records (namespace, key, version, data, updated_at) VALUES (?, ?, ?, ?, ?)",
                    (namespace, key, version, bytes(data), time.time()),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return version

        return await self._call(op)

    async def delete(self, namespace: str, key: str, *, expected_version: int = ANY_VERSION) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._check(conn, namespace, key, expected_version)
                gone = conn.execute("DELETE FROM records WHERE namespace = ? AND key = ?", (namespace, key)).rowcount
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return gone > 0

        return await self._call(op)

    async def list(self, namespace: str) -> dict[str, Record]:
        def op(conn: sqlite3.Connection) -> dict[str, Record]:
            rows = conn.execute("SELECT key, data, version FROM records WHERE namespace = ?", (namespace,))
            return {str(key): _record(data, version) for key, data, version in rows}

        return await self._call(op)

    async def close(self) -> None:
        def op() -> None:
            with self._mutex:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None

        await asyncio.to_thread(op)


def _record(data: Any, version: Any) -> Record:
    # SQLite keeps whatever type was written: a row edited by hand may hold text or NULL.
    if not isinstance(data, bytes) or not isinstance(version, int) or isinstance(version, bool):
        return Record.damaged(f"the row holds {type(data).__name__} data and a {type(version).__name__} version")
    return Record(data, version)


@hookimpl
def register_token_stores(register: RegisterTokenStore) -> None:
    register("sqlite", SqliteBackend, description="SQLite database in the data folder (the default)")
