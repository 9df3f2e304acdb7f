"""What the stores that keep local files share: where they live, private folders, a damaged
file kept aside, and a cross-process lease lock.

Used by the ``file``, ``sqlite`` and ``keyring`` store plugins and by encryption keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import stat
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from mcpconnect._fsutil import make_private_dirs
from mcpconnect.errors import StoreError
from mcpconnect.storage._base import LockLease

__all__ = [
    "FileLeaseLock",
    "FileLeaseLocking",
    "data_dir",
    "ensure_private_dir",
    "held_flock",
    "keep_aside",
    "tighten_file_mode",
]

log = logging.getLogger("mcpconnect.storage")

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def data_dir() -> Path:
    """mcpconnect's per-user data folder (``~/.local/share/mcpconnect`` on Linux)."""
    from platformdirs import user_data_path

    return user_data_path("mcpconnect", appauthor=False)


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) with mode 0700.

    Folders created here are 0700. An existing folder that mcpconnect created earlier (the data
    folder) is tightened to 0700; any other existing folder is left as it is, since it may be
    shared on purpose (``/tmp``, a project folder).
    """
    path = make_private_dirs(Path(path))
    if path == data_dir() and stat.S_IMODE(path.stat().st_mode) != PRIVATE_DIR:
        os.chmod(path, PRIVATE_DIR)
    return path


def tighten_file_mode(path: Path) -> None:
    """Make an existing secret file 0600 again, with a warning when it was readable by others."""
    with contextlib.suppress(FileNotFoundError):
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning("%s was readable by others (mode %o); changed it to 600", path, mode)
            os.chmod(path, PRIVATE_FILE)


def keep_aside(path: Path, *companions: str) -> Path:
    """Move a damaged ``path`` (and its companion files, e.g. ``-wal``) to ``path.corrupt-TIME``.

    The damaged copy is kept for the user to inspect or recover; it is never deleted here.
    Returns where it went.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    os.replace(path, aside)
    for suffix in companions:
        with contextlib.suppress(FileNotFoundError):
            os.replace(path.with_name(path.name + suffix), aside.with_name(aside.name + suffix))
    return aside


@contextmanager
def held_flock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created 0600), blocking: for short critical
    sections such as a read-check-write. Call it from a worker thread, not the event loop."""
    import fcntl  # POSIX only: imported here so that the rest of this module loads anywhere

    ensure_private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class FileLeaseLock:
    """Named locks across the processes of one host, with leases and fencing tokens.

    Each name has a lock file in ``directory`` holding ``{"fencing": N, "expires_at": T}``. The
    holder keeps an ``flock`` on it, so a holder that exits or crashes frees the lock at once. A
    holder that hangs past its lease is taken over: the next waiter puts a fresh lock file in
    place (under a short guard lock, so two waiters cannot both do it) and the old holder's
    flock then guards a file nobody looks at any more.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _paths(self, name: str) -> tuple[Path, Path]:
        digest = hashlib.sha256(name.encode()).hexdigest()[:32]
        return self.directory / f"{digest}.lock", self.directory / f"{digest}.guard"

    @staticmethod
    def _read_state(fd: int) -> dict[str, float]:
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, 4096)
        try:
            state = json.loads(raw) if raw else {}
        except ValueError:
            state = {}
        return state if isinstance(state, dict) else {}

    @staticmethod
    def _write_state(fd: int, state: dict[str, float]) -> None:
        data = json.dumps(state).encode()
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, data)

    def _try_acquire(self, name: str, lease: float) -> tuple[int, int] | None:
        """One attempt: the held fd and fencing token, or ``None`` while another holds it.

        Runs under the name's guard lock, so that taking over an expired lease never races with
        a fresh acquisition that has its flock but has not written its lease yet.
        """
        import fcntl  # POSIX only: imported here so that the rest of this module loads anywhere

        ensure_private_dir(self.directory)
        lock_path, guard_path = self._paths(name)
        guard = os.open(guard_path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
        try:
            fcntl.flock(guard, fcntl.LOCK_EX)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                state = self._read_state(fd)
                os.close(fd)
                if state.get("expires_at", 0) >= time.time():
                    return None
                return self._take_over(lock_path, int(state.get("fencing", 0)), lease)
            except BaseException:
                os.close(fd)
                raise
            state = self._read_state(fd)
            fencing = int(state.get("fencing", 0)) + 1
            self._write_state(fd, {"fencing": fencing, "expires_at": time.time() + lease})
            return fd, fencing
        finally:
            os.close(guard)

    def _take_over(self, lock_path: Path, fencing: int, lease: float) -> tuple[int, int]:
        # The holder is alive (its flock stands) but past its lease: a fresh lock file replaces
        # the one it holds.
        import fcntl

        tmp = lock_path.with_name(f"{lock_path.name}.{uuid.uuid4().hex}")
        new = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        fcntl.flock(new, fcntl.LOCK_EX)
        self._write_state(new, {"fencing": fencing + 1, "expires_at": time.time() + lease})
        os.replace(tmp, lock_path)
        log.warning("lock %s: the holder kept it past its lease; taken over", lock_path)
        return new, fencing + 1

    def _release(self, name: str, fd: int) -> None:
        lock_path, _ = self._paths(name)
        try:
            if os.fstat(fd).st_ino == os.stat(lock_path).st_ino:
                state = self._read_state(fd)
                self._write_state(fd, {"fencing": state.get("fencing", 0), "expires_at": 0})
        except FileNotFoundError:
            pass
        finally:
            os.close(fd)  # closing drops the flock

    @asynccontextmanager
    async def hold(self, name: str, *, lease: float, wait: float) -> AsyncIterator[LockLease]:
        """Hold ``name`` for at most ``lease`` seconds, waiting up to ``wait`` seconds for it."""
        deadline = time.monotonic() + wait
        delay = 0.005
        while True:
            try:
                got = await asyncio.to_thread(self._try_acquire, name, lease)
            except OSError as exc:
                raise StoreError(
                    f"cannot lock in {self.directory} ({exc.strerror}); check that folder's permissions"
                ) from None
            if got is not None:
                break
            if time.monotonic() >= deadline:
                raise TimeoutError(f"lock '{name}' is still held by another process after {wait:g}s")
            await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.1)
        fd, fencing = got
        try:
            yield LockLease(name, fencing, time.time() + lease)
        finally:
            await asyncio.to_thread(self._release, name, fd)


class FileLeaseLocking:
    """Mixin: :meth:`~mcpconnect.storage.StorageBackend.lock` for a backend on this host, by a
    :class:`FileLeaseLock` in the folder ``lock_directory`` (set it in ``__init__``).

    Put it before :class:`~mcpconnect.storage.StorageBackend` in the bases::

        class FolderBackend(FileLeaseLocking, StorageBackend):
            def __init__(self, path: Path) -> None:
                self.lock_directory = path.with_name(path.name + ".locks")
    """

    #: Where the lock files live (created 0700 on first use).
    lock_directory: Path

    def lock(self, name: str, *, lease: float, wait: float) -> AbstractAsyncContextManager[LockLease]:
        """Hold ``name`` across the processes of this host: one holder at a time, a crashed
        holder's lock freed at once, a hung one's taken over after ``lease`` seconds."""
        return FileLeaseLock(self.lock_directory).hold(name, lease=lease, wait=wait)
