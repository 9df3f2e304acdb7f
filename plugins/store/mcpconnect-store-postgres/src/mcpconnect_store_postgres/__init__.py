"""The ``postgres`` token store: tokens shared by every process and host that uses one database.

Tables live in their own schema (``schema``, default ``mcpconnect``), versioned in its
``schema_version`` table and migrated forward on connect under a transaction-scoped advisory
lock, so that many processes starting at once migrate once. A schema from a newer mcpconnect is
refused. Compare-and-swap is one statement each (``UPDATE ... WHERE version = %s``). The refresh
lock is a row lock with a lease: a row per lock name taken with ``INSERT ... ON CONFLICT DO
UPDATE ... WHERE expires_at < now``, whose ``fencing`` column grows with each acquisition.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from mcpconnect import hookimpl
from mcpconnect.errors import StoreError, VersionConflict
from mcpconnect.storage import ANY_VERSION, LockLease, Record, StorageBackend, redact_url, scrub_password

if TYPE_CHECKING:
    from mcpconnect.hookspecs import RegisterTokenStore

__all__ = ["SCHEMA_VERSION", "PostgresBackend"]

#: Each entry moves the schema from version i to i+1 (``{s}`` is the schema). Append only.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE {s}.records (
            namespace  text        NOT NULL,
            key        text        NOT NULL,
            version    bigint      NOT NULL,
            data       bytea       NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (namespace, key))""",
        """CREATE TABLE {s}.locks (
            name       text        PRIMARY KEY,
            fencing    bigint      NOT NULL,
            holder     text        NOT NULL,
            expires_at timestamptz NOT NULL)""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


class PostgresBackend(StorageBackend):
    """Records in PostgreSQL tables; refresh locks as leased rows."""

    name = "postgres"

    def __init__(self, url: str | None = None, schema: str = "mcpconnect", connect_timeout: float = 5.0) -> None:
        if not url:
            raise StoreError(
                'postgres store: set [storage] url, e.g. url = "postgresql://user@db.example:5432/app" '
                "(the password is best given by PGPASSWORD or ~/.pgpass)"
            )
        self.url = url
        self.schema = schema
        self.connect_timeout = float(connect_timeout)
        self._conn: Any = None
        self._connecting = asyncio.Lock()

    def describe(self) -> str:
        return f"postgres store {redact_url(self.url)} (schema {self.schema})"

    def __repr__(self) -> str:
        return f"PostgresBackend({redact_url(self.url)!r}, schema={self.schema!r})"

    def _sql(self, text: str) -> Any:
        from psycopg import sql

        return sql.SQL(text).format(s=sql.Identifier(self.schema))

    def _error(self, exc: Exception) -> StoreError:
        import psycopg

        message = scrub_password(str(exc).strip().splitlines()[0] if str(exc).strip() else "", self.url)
        if isinstance(exc, psycopg.OperationalError):
            return StoreError(
                f"{self.describe()}: cannot connect ({message}); check that PostgreSQL runs there and "
                "the user, password and database in [storage] url"
            )
        return StoreError(f"{self.describe()}: the database answered an error ({message})")

    async def _connection(self) -> Any:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        import psycopg

        async with self._connecting:
            if self._conn is None or self._conn.closed:
                try:
                    conn = await psycopg.AsyncConnection.connect(
                        self.url, autocommit=True, connect_timeout=max(1, int(self.connect_timeout))
                    )
                except (psycopg.Error, OSError) as exc:
                    raise self._error(exc) from None
                except Exception as exc:  # a malformed conninfo raises ProgrammingError or ValueError
                    raise StoreError(
                        f"{self.describe()}: bad [storage] url ({scrub_password(str(exc), self.url)})"
                    ) from None
                try:
                    await self._migrate(conn)
                except BaseException:
                    await conn.close()
                    raise
                self._conn = conn
        return self._conn

    async def _migrate(self, conn: Any) -> None:
        import psycopg

        try:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"mcpconnect-migrate:{self.schema}",))
                await conn.execute(self._sql("CREATE SCHEMA IF NOT EXISTS {s}"))
                await conn.execute(self._sql("CREATE TABLE IF NOT EXISTS {s}.schema_version (version int NOT NULL)"))
                row = await (await conn.execute(self._sql("SELECT max(version) FROM {s}.schema_version"))).fetchone()
                found = row[0] or 0
                if found > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.describe()}: the schema has version {found}, from a newer "
                        f"mcpconnect-store-postgres (this one knows up to {SCHEMA_VERSION}); upgrade it, "
                        "or set [storage] schema to another schema"
                    )
                for version in range(found, SCHEMA_VERSION):
                    for statement in MIGRATIONS[version]:
                        await conn.execute(self._sql(statement))
                    await conn.execute(self._sql("DELETE FROM {s}.schema_version"))
                    await conn.execute(
                        self._sql("INSERT INTO {s}.schema_version (version) VALUES (%s)"), (version + 1,)
                    )
        except psycopg.Error as exc:
            raise self._error(exc) from None

    async def _query(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        conn = await self._connection()
        try:
            cursor = await conn.execute(self._sql(statement), params)
            rows: list[tuple[Any, ...]] = await cursor.fetchall() if cursor.description else []
            return rows
        except psycopg.Error as exc:
            if conn.closed:
                self._conn = None
            raise self._error(exc) from None

    # -- records --------------------------------------------------------------------------------

    async def get(self, namespace: str, key: str) -> Record | None:
        rows = await self._query(
            "SELECT data, version FROM {s}.records WHERE namespace = %s AND key = %s", (namespace, key)
        )
        return Record(bytes(rows[0][0]), rows[0][1]) if rows else None

    async def _conflict(self, namespace: str, key: str, expected: int) -> VersionConflict:
        current = await self.get(namespace, key)
        version = current.version if current else 0
        return VersionConflict(
            f"{self.describe()}: {namespace} '{key}' is at version {version}, not {expected}; read it again and retry"
        )

    async def put(self, namespace: str, key: str, data: bytes, *, expected_version: int = ANY_VERSION) -> int:
        if expected_version == ANY_VERSION:
            rows = await self._query(
                "INSERT INTO {s}.records AS r (namespace, key, version, data) VALUES (%s, %s, 1, %s) "
                "ON CONFLICT (namespace, key) DO UPDATE "
                "SET version = r.version + 1, data = EXCLUDED.data, updated_at = now() RETURNING version",
                (namespace, key, bytes(data)),
            )
        elif expected_version == 0:
            rows = await self._query(
                "INSERT INTO {s}.records (namespace, key, version, data) VALUES (%s, %s, 1, %s) "
                "ON CONFLICT (namespace, key) DO NOTHING RETURNING version",
                (namespace, key, bytes(data)),
            )
        else:
            rows = await self._query(
                "UPDATE {s}.records SET version = version + 1, data = %s, updated_at = now() "
                "WHERE namespace = %s AND key = %s AND version = %s RETURNING version",
                (bytes(data), namespace, key, expected_version),
            )
        if not rows:
            raise await self._conflict(namespace, key, expected_version)
        version: int = rows[0][0]
        return version

    async def delete(self, namespace: str, key: str, *, expected_version: int = ANY_VERSION) -> bool:
        if expected_version == ANY_VERSION:
            rows = await self._query(
                "DELETE FROM {s}.records WHERE namespace = %s AND key = %s RETURNING version", (namespace, key)
            )
            return bool(rows)
        rows = await self._query(
            "DELETE FROM {s}.records WHERE namespace = %s AND key = %s AND version = %s RETURNING version",
            (namespace, key, expected_version),
        )
        if rows:
            return True
        if expected_version == 0 and await self.get(namespace, key) is None:
            return False
        raise await self._conflict(namespace, key, expected_version)

    async def list(self, namespace: str) -> dict[str, Record]:
        rows = await self._query("SELECT key, data, version FROM {s}.records WHERE namespace = %s", (namespace,))
        return {key: Record(bytes(data), version) for key, data, version in rows}

    # -- refresh lock ---------------------------------------------------------------------------

    @asynccontextmanager
    async def lock(self, name: str, *, lease: float, wait: float) -> AsyncIterator[LockLease]:
        holder = uuid.uuid4().hex
        deadline = time.monotonic() + wait
        delay = 0.005
        while True:
            rows = await self._query(
                "INSERT INTO {s}.locks AS l (name, fencing, holder, expires_at) "
                "VALUES (%s, 1, %s, clock_timestamp() + make_interval(secs => %s)) "
                "ON CONFLICT (name) DO UPDATE SET fencing = l.fencing + 1, holder = EXCLUDED.holder, "
                "expires_at = EXCLUDED.expires_at WHERE l.expires_at < clock_timestamp() RETURNING fencing",
                (name, holder, float(lease)),
            )
            if rows:
                break
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{self.describe()}: lock '{name}' is still held after {wait:g}s")
            await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.1)
        try:
            yield LockLease(name, int(rows[0][0]), time.time() + lease)
        finally:
            await self._query(
                "UPDATE {s}.locks SET expires_at = '-infinity' WHERE name = %s AND holder = %s", (name, holder)
            )

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()


@hookimpl
def register_token_stores(register: RegisterTokenStore) -> None:
    register("postgres", PostgresBackend, description="PostgreSQL, shared by processes and hosts")
