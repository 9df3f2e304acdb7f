"""What the core hands a transport plugin, and what every transport shares.

A transport factory is called as ``factory(name, server, context)`` with the server's configured
name, its :class:`~mcpconnect.ServerConfig` and a :class:`TransportContext`. It returns an
async context manager that yields the ``(read_stream, write_stream)`` pair of the MCP SDK's
``Transport`` protocol. Leaving the context closes the connection (and stops a local process).
"""

from __future__ import annotations

import collections
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcpconnect._fsutil import make_private_dirs

if TYPE_CHECKING:
    import httpx

    from mcpconnect.transport._http import SSE_READ_TIMEOUT, httpx_client, sdk_http_client

__all__ = ["SSE_READ_TIMEOUT", "ServerLog", "TransportContext", "httpx_client", "sdk_http_client", "server_log_path"]

#: What HTTP transports share, in ``transport/http.py``: imported on first use, since it pulls in
#: httpx and httpx2 and only the HTTP transports need it.
_HTTP = {"SSE_READ_TIMEOUT", "httpx_client", "sdk_http_client"}


def __getattr__(name: str) -> Any:
    if name in _HTTP:
        from mcpconnect.transport import _http as http

        return getattr(http, name)
    raise AttributeError(f"module 'mcpconnect.transport' has no attribute {name!r}")


#: Lines of stderr kept in memory per server (shown in errors, the tail of them).
LOG_LINES = 500
#: Bytes of stderr kept on disk per server; the file is cut to its newer half past this.
LOG_BYTES = 256 * 1024

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def server_log_path(name: str) -> Path:
    """The on-disk stderr log of server ``name`` (read by ``mcpconnect logs NAME``)."""
    from platformdirs import user_log_path

    return user_log_path("mcpconnect", appauthor=False) / "servers" / f"{_UNSAFE.sub('_', name)}.log"


class ServerLog:
    """A bounded log of one server's stderr: the last lines in memory, the last bytes on disk.

    Bounded both ways because a chatty server runs for days; the disk copy is what
    ``mcpconnect logs NAME`` shows from another process.
    """

    def __init__(self, name: str, *, path: Path | None = None, lines: int = LOG_LINES) -> None:
        self.name = name
        self.path = path if path is not None else server_log_path(name)
        self._lines: collections.deque[str] = collections.deque(maxlen=lines)
        self._lock = threading.Lock()
        self._size: int | None = None

    def write(self, line: str) -> None:
        """Record one line of stderr (a trailing newline is stripped), with every known secret
        (registered tokens, secret ``env`` and ``headers`` values) and anything that looks like
        one (a URL's password, ``API_KEY=...``) redacted: servers echo their environment."""
        from mcpconnect._logs import scrub
        from mcpconnect._redact import redact_text

        line = redact_text(scrub(line.rstrip("\r\n")))
        with self._lock:
            self._lines.append(line)
            self._append_to_file(line + "\n")

    def mark(self, text: str) -> None:
        """A line of our own in the log (``--- started pid 123``), kept out of :meth:`tail`."""
        with self._lock:
            self._append_to_file(f"--- {text}\n")

    def tail(self, n: int = 20) -> list[str]:
        """The last ``n`` lines of stderr seen by this process."""
        with self._lock:
            return list(self._lines)[-n:]

    def clear_tail(self) -> None:
        with self._lock:
            self._lines.clear()

    def _append_to_file(self, text: str) -> None:
        try:
            if self._size is None:
                _private_folders(self.path.parent)
                self._size = self.path.stat().st_size if self.path.exists() else 0
            data = text.encode("utf-8", "replace")
            # 0600 from the first byte, and tightened if an older version left it 0644.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with open(fd, "ab") as fh:
                if os.fstat(fd).st_mode & 0o077:
                    os.fchmod(fd, 0o600)
                fh.write(data)
            self._size += len(data)
            if self._size > LOG_BYTES:
                from mcpconnect._fsutil import atomic_write

                kept = self.path.read_bytes()[-LOG_BYTES // 2 :]
                kept = kept[kept.find(b"\n") + 1 :]
                atomic_write(self.path, kept, mode=0o600)
                self._size = len(kept)
        except OSError:
            # The log is a diagnostic aid: a read-only home must not stop the server.
            self._size = 0


def _private_folders(folder: Path) -> None:
    """Create the log folders 0700. Ours (``.../mcpconnect/...``) are tightened if they exist;
    the platform folders above them are left as they are."""
    make_private_dirs(folder)
    for part in (folder, *folder.parents):
        if part.name == "mcpconnect" or "mcpconnect" in part.parent.parts:
            if part.stat().st_mode & 0o077:
                os.chmod(part, 0o700)
        else:
            break


@dataclass
class TransportContext:
    """What the core gives a transport factory besides the server's configuration.

    :ivar auth: the :class:`httpx.Auth` of an HTTP server (OAuth or API token), or ``None``.
    :ivar log: where a local process's stderr goes.
    :ivar on_lost: call it when the connection ends on its own (a process exited, a stream
        dropped); the server's owner then reconnects. Called at most once per connection.
    :ivar environ: the environment a local process inherits (``os.environ`` by default).
    :ivar secret_env: variables a local process gets on top of its ``env`` (the token of
        ``token_to_env``); never logged.
    :ivar check_url: the core's rule for where this server's credentials may go; an HTTP
        transport calls it with the URL of every request (redirects and endpoints a server names
        included) and lets its :class:`~mcpconnect.errors.AuthError` end the request. It refuses
        plain ``http://`` to another machine when the request would carry a credential.
    :ivar notes: what a transport observed that explains a failure (``HTTP 401 from POST ...``);
        the owner adds them to its error messages.
    """

    name: str
    auth: httpx.Auth | None = None
    log: ServerLog | None = None
    on_lost: Callable[[str], None] = field(default=lambda _reason: None)
    environ: dict[str, str] | None = field(default=None, repr=False)
    check_url: Callable[[str], None] = field(default=lambda _url: None, repr=False)
    notes: list[str] = field(default_factory=list)
    secret_env: dict[str, str] = field(default_factory=dict, repr=False)

    def note(self, text: str) -> None:
        """Record one observation (the last few are kept)."""
        if text not in self.notes:
            self.notes.append(text)
            del self.notes[:-3]
