"""The lease locks the core provides: the memory backend's, and the cross-process file lock that
the file, sqlite and keyring stores use."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mcpconnect.storage import FileLeaseLock, FileLeaseLocking
from mcpconnect.storage._memory import MemoryBackend

HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from mcpconnect.storage._local import FileLeaseLock

    async def main():
        async with FileLeaseLock(sys.argv[1]).hold("refresh:x", lease=float(sys.argv[2]), wait=5) as held:
            print(held.fencing_token, flush=True)
            await asyncio.sleep(3600)  # hangs while holding the lock, until killed

    asyncio.run(main())
    """
)


def start_holder(directory: Path, lease: float) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(directory), str(lease)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


async def test_a_crashed_holder_frees_the_file_lock_at_once(tmp_path: Path) -> None:
    proc, fencing = start_holder(tmp_path, lease=600)
    try:
        with pytest.raises(TimeoutError):
            async with FileLeaseLock(tmp_path).hold("refresh:x", lease=10, wait=0.2):
                pass  # pragma: no cover - must not be reached
    finally:
        proc.kill()
        proc.wait()
    # Long before its 600 s lease would end, the lock is free: its flock died with it.
    async with FileLeaseLock(tmp_path).hold("refresh:x", lease=10, wait=5) as held:
        assert held.fencing_token == fencing + 1


async def test_a_hung_holder_is_taken_over_when_its_lease_ends(tmp_path: Path) -> None:
    proc, fencing = start_holder(tmp_path, lease=0.3)
    try:
        async with FileLeaseLock(tmp_path).hold("refresh:x", lease=10, wait=5) as held:
            assert held.fencing_token == fencing + 1
            assert proc.poll() is None  # the old holder still runs, and has lost the lock
        async with FileLeaseLock(tmp_path).hold("refresh:x", lease=10, wait=1) as again:
            assert again.fencing_token == fencing + 2
    finally:
        proc.kill()
        proc.wait()
    assert {p.stat().st_mode & 0o777 for p in tmp_path.iterdir()} == {0o600}


async def test_memory_lock_is_first_come_first_served() -> None:
    backend = MemoryBackend()
    order: list[int] = []

    async def worker(i: int) -> None:
        async with backend.lock("x", lease=30, wait=5):
            order.append(i)
            await asyncio.sleep(0)

    async with backend.lock("x", lease=30, wait=1):
        tasks = []
        for i in range(20):
            tasks.append(asyncio.create_task(worker(i)))
            await asyncio.sleep(0)  # each queues up in turn
    await asyncio.gather(*tasks)
    assert order == list(range(20))


async def test_memory_lock_survives_a_cancelled_waiter() -> None:
    backend = MemoryBackend()
    entered = asyncio.Event()

    async def waiter() -> None:
        async with backend.lock("x", lease=30, wait=5):
            entered.set()  # pragma: no cover - cancelled before

    async with backend.lock("x", lease=30, wait=1):
        task = asyncio.create_task(waiter())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    async with backend.lock("x", lease=30, wait=0.5) as held:
        assert held.name == "x" and not entered.is_set()


class FolderBackend(FileLeaseLocking, MemoryBackend):
    """A backend written as a third-party store would: the shared lease lock mixed in."""

    def __init__(self, lock_directory: Path) -> None:
        super().__init__()
        self.lock_directory = lock_directory


async def test_the_lease_lock_mixin_locks_across_backends_sharing_a_folder(tmp_path: Path) -> None:
    first, second = FolderBackend(tmp_path / "locks"), FolderBackend(tmp_path / "locks")
    async with first.lock("refresh:x", lease=10, wait=1) as held:
        with pytest.raises(TimeoutError, match="refresh:x"):
            async with second.lock("refresh:x", lease=10, wait=0.1):
                pass  # pragma: no cover - must not be reached
        async with second.lock("refresh:y", lease=10, wait=1):
            pass  # another name is another lock
    async with second.lock("refresh:x", lease=10, wait=1) as again:
        assert again.fencing_token == held.fencing_token + 1
    assert (tmp_path / "locks").stat().st_mode & 0o777 == 0o700


def test_the_official_local_stores_share_the_mixin() -> None:
    from mcpconnect_store_file import FileBackend
    from mcpconnect_store_keyring import KeyringBackend
    from mcpconnect_store_sqlite import SqliteBackend

    for backend in (FileBackend, SqliteBackend, KeyringBackend):
        assert backend.lock is FileLeaseLocking.lock, backend
