"""The in-memory backend: for tests and for processes that must not persist anything.

Also the built-in plugin ``memory`` of the ``mcpconnect.store`` group.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcpconnect.errors import VersionConflict
from mcpconnect.hookspecs import RegisterTokenStore, hookimpl
from mcpconnect.storage._base import ANY_VERSION, LockLease, Record, StorageBackend

__all__ = ["MemoryBackend"]

_Waiter = tuple[object, float, "asyncio.Future[None]"]


class MemoryBackend(StorageBackend):
    """Records in a dict; locks are per-process, first come first served, with leases."""

    name = "memory"

    def __init__(self, **options: Any) -> None:
        if options:
            raise TypeError(f"the memory store takes no options, got: {', '.join(sorted(options))}")
        self._data: dict[tuple[str, str], Record] = {}
        # name -> (holder, lease end on the monotonic clock); and the tasks waiting, in order.
        self._held: dict[str, tuple[object, float]] = {}
        self._waiters: dict[str, collections.deque[_Waiter]] = {}
        self._fencing = itertools.count(1)

    def describe(self) -> str:
        return "memory (this process only)"

    async def get(self, namespace: str, key: str) -> Record | None:
        return self._data.get((namespace, key))

    def _check(self, namespace: str, key: str, expected_version: int) -> int:
        current = self._data.get((namespace, key))
        version = current.version if current else 0
        if expected_version != ANY_VERSION and expected_version != version:
            raise VersionConflict(
                f"memory store: {namespace} '{key}' is at version {version}, not {expected_version}; "
                "read it again and retry"
            )
        return version

    async def put(self, namespace: str, key: str, data: bytes, *, expected_version: int = ANY_VERSION) -> int:
        version = self._check(namespace, key, expected_version) + 1
        self._data[(namespace, key)] = Record(bytes(data), version)
        return version

    async def delete(self, namespace: str, key: str, *, expected_version: int = ANY_VERSION) -> bool:
        self._check(namespace, key, expected_version)
        return self._data.pop((namespace, key), None) is not None

    async def list(self, namespace: str) -> dict[str, Record]:
        return {k: r for (ns, k), r in self._data.items() if ns == namespace}

    @asynccontextmanager
    async def lock(self, name: str, *, lease: float, wait: float) -> AsyncIterator[LockLease]:
        me = object()
        deadline = time.monotonic() + wait
        loop = asyncio.get_running_loop()
        while True:
            holder = self._held.get(name)
            now = time.monotonic()
            if holder is None or holder[1] <= now:  # free, or its holder outlived its lease
                self._held[name] = (me, now + lease)
                break
            if now >= deadline:
                raise TimeoutError(f"memory store: lock '{name}' is still held after {wait:g}s")
            # Queue up: a release hands the lock to the first waiter (FIFO, one wake-up each).
            # Wake anyway at the holder's lease end, to take over, or at our deadline.
            entry: _Waiter = (me, lease, loop.create_future())
            queue = self._waiters.setdefault(name, collections.deque())
            queue.append(entry)
            try:
                await asyncio.wait_for(entry[2], max(0.0, min(holder[1], deadline) - now))
            except TimeoutError:
                pass
            except BaseException:
                self._release(name, me)  # handed the lock just as we were cancelled: pass it on
                raise
            finally:
                with contextlib.suppress(ValueError):
                    queue.remove(entry)
            if self._held.get(name, (None, 0.0))[0] is me:
                break
        try:
            yield LockLease(name, next(self._fencing), time.time() + lease)
        finally:
            self._release(name, me)

    def _release(self, name: str, me: object) -> None:
        if self._held.get(name, (None, 0.0))[0] is not me:
            return  # never held, or taken over after our lease ended
        del self._held[name]
        queue = self._waiters.get(name)
        while queue:
            waiter, lease, future = queue.popleft()
            if not future.done():
                self._held[name] = (waiter, time.monotonic() + lease)
                future.set_result(None)
                return
        self._waiters.pop(name, None)


@hookimpl
def register_token_stores(register: RegisterTokenStore) -> None:
    register("memory", MemoryBackend, description="In memory, this process only (tests)")
