"""The ``redis`` token store: tokens shared by every process and host that uses one Redis.

Layout under ``prefix`` (default ``mcpconnect:``), per namespace ``NS``: the hash
``PREFIX{NS}:ver`` holds each key's version and ``PREFIX{NS}:data`` its bytes. Every read and
write is one Lua script, so compare-and-swap is atomic on the server. The refresh lock is
``SET PREFIX lock:{NAME} HOLDER NX PX LEASE`` with a fencing token from ``INCR PREFIX fence:{NAME}``,
both in one script; only the holder's own value is deleted on release. The braces are hash tags:
the keys a script touches share one cluster slot.
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

__all__ = ["RedisBackend"]

DEFAULT_URL = "redis://127.0.0.1:6379/0"

_GET = """
return {redis.call('HGET', KEYS[1], ARGV[1]), redis.call('HGET', KEYS[2], ARGV[1])}
"""
_LIST = """
return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}
"""
_PUT = """
local v = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') or 0  -- 0: absent, or damaged
local e = tonumber(ARGV[2])
if e >= 0 and e ~= v then return {0, v} end
redis.call('HSET', KEYS[1], ARGV[1], v + 1)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return {1, v + 1}
"""
_DELETE = """
local v = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') or 0  -- 0: absent, or damaged
local e = tonumber(ARGV[2])
if e >= 0 and e ~= v then return {0, v} end
local existed = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return {1, v, existed}
"""
_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _record(version: Any, data: Any) -> Record:
    """A record from the two hash fields; a damaged one when either is missing or no number."""
    try:
        number = int(version)
    except (TypeError, ValueError):
        return Record.damaged("its version is not a number")
    if data is None:
        return Record.damaged("it has a version but no data")
    return Record(bytes(data), number)


class RedisBackend(StorageBackend):
    """Records in Redis hashes; locks with ``SET NX PX`` and fencing counters."""

    name = "redis"

    def __init__(self, url: str = DEFAULT_URL, prefix: str = "mcpconnect:", connect_timeout: float = 5.0) -> None:
        self.url = url
        self.prefix = prefix
        self.connect_timeout = float(connect_timeout)
        self._client: Any = None
        self._scripts: dict[str, Any] = {}

    def describe(self) -> str:
        return f"redis store {redact_url(self.url)}"

    def __repr__(self) -> str:
        return f"RedisBackend({redact_url(self.url)!r}, prefix={self.prefix!r})"

    def _keys(self, namespace: str) -> list[str]:
        return [f"{self.prefix}{{{namespace}}}:ver", f"{self.prefix}{{{namespace}}}:data"]

    def _connect(self) -> Any:
        if self._client is None:
            import redis.asyncio

            try:
                self._client = redis.asyncio.from_url(
                    self.url, socket_connect_timeout=self.connect_timeout, socket_timeout=30
                )
            except ValueError as exc:
                raise StoreError(
                    f"{self.describe()}: bad [storage] url ({scrub_password(str(exc), self.url)}); "
                    "write it like redis://[user:password@]host:6379/0"
                ) from None
            for name, source in (
                ("get", _GET),
                ("list", _LIST),
                ("put", _PUT),
                ("delete", _DELETE),
                ("acquire", _ACQUIRE),
                ("release", _RELEASE),
            ):
                self._scripts[name] = self._client.register_script(source)
        return self._client

    async def _run(self, script: str, keys: list[str], args: list[Any]) -> Any:
        import redis.exceptions as rex

        self._connect()
        try:
            return await self._scripts[script](keys=keys, args=args)
        except rex.AuthenticationError:
            raise StoreError(
                f"{self.describe()}: the server refused the user name or password; "
                "check the credentials in [storage] url"
            ) from None
        except rex.ResponseError as exc:
            message = scrub_password(str(exc), self.url)
            if "NOAUTH" in message or "NOPERM" in message or "WRONGPASS" in message:
                raise StoreError(
                    f"{self.describe()}: not allowed ({message}); check the credentials in [storage] url"
                ) from None
            raise StoreError(f"{self.describe()}: the server answered an error ({message})") from None
        except (rex.ConnectionError, rex.TimeoutError, OSError) as exc:
            raise StoreError(
                f"{self.describe()}: cannot reach Redis ({scrub_password(str(exc), self.url)}); "
                "check that it runs there and the [storage] url"
            ) from None

    # -- records --------------------------------------------------------------------------------

    async def get(self, namespace: str, key: str) -> Record | None:
        found = await self._run("get", self._keys(namespace), [key])
        if len(found) < 1 or found[0] is None:
            return None
        return _record(found[0], found[1] if len(found) > 1 else None)

    async def put(self, namespace: str, key: str, data: bytes, *, expected_version: int = ANY_VERSION) -> int:
        ok, version = await self._run("put", self._keys(namespace), [key, expected_version, bytes(data)])
        if not ok:
            self._conflict(namespace, key, int(version), expected_version)
        return int(version)

    async def delete(self, namespace: str, key: str, *, expected_version: int = ANY_VERSION) -> bool:
        ok, version, *existed = await self._run("delete", self._keys(namespace), [key, expected_version])
        if not ok:
            self._conflict(namespace, key, int(version), expected_version)
        return bool(existed and int(existed[0]))

    def _conflict(self, namespace: str, key: str, version: int, expected: int) -> None:
        raise VersionConflict(
            f"{self.describe()}: {namespace} '{key}' is at version {version}, not {expected}; read it again and retry"
        )

    async def list(self, namespace: str) -> dict[str, Record]:
        versions, data = await self._run("list", self._keys(namespace), [])
        ver = {_text(versions[i]): versions[i + 1] for i in range(0, len(versions), 2)}
        blobs = {_text(data[i]): data[i + 1] for i in range(0, len(data), 2)}
        # A version without data is a damaged record; data without a version was never committed
        # by our scripts (they write both at once) and stays invisible, as before.
        return {key: _record(version, blobs.get(key)) for key, version in ver.items()}

    # -- refresh lock ---------------------------------------------------------------------------

    @asynccontextmanager
    async def lock(self, name: str, *, lease: float, wait: float) -> AsyncIterator[LockLease]:
        keys = [f"{self.prefix}lock:{{{name}}}", f"{self.prefix}fence:{{{name}}}"]
        holder = uuid.uuid4().hex
        lease_ms = max(1, int(lease * 1000))
        deadline = time.monotonic() + wait
        delay = 0.005
        while True:
            fencing = int(await self._run("acquire", keys, [holder, lease_ms]))
            if fencing:
                break
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{self.describe()}: lock '{name}' is still held after {wait:g}s")
            await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.1)
        try:
            yield LockLease(name, fencing, time.time() + lease)
        finally:
            await self._run("release", keys[:1], [holder])

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()


@hookimpl
def register_token_stores(register: RegisterTokenStore) -> None:
    register("redis", RedisBackend, description="Redis, shared by processes and hosts")
