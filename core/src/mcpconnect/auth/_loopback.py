"""The loopback redirect listener of RFC 8252 7.3: 127.0.0.1, an ephemeral port, one flow.

It answers one callback path with a small success or failure page and hands the query to the
flow, which checks it. It is written on asyncio streams rather than :mod:`http.server` so that
it lives in the flow's event loop and closes with it; it only ever parses one request line.
Pages never echo the query (the code), and ask browsers not to cache them or send a referrer.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

__all__ = ["CallbackResult", "LoopbackListener"]

log = logging.getLogger("mcpconnect.auth")

#: The most a callback request (request line and headers) may take; a real one is a few KiB.
MAX_REQUEST_BYTES = 64 * 1024

#: What the flow says about a callback: ``None`` when it was accepted, else why not.
CallbackResult = str | None

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:4em auto;max-width:32em;text-align:center}}</style>
</head><body><h1>{title}</h1><p>{text}</p></body></html>
"""


class LoopbackListener:
    """Listens on ``127.0.0.1:<ephemeral>`` for the authorization server's redirect.

    ``on_callback`` receives the callback's query parameters and returns ``None`` to accept it
    (success page) or a reason (failure page). The first callback ends the wait either way:
    a wrong or forged callback fails the login instead of leaving it open for guesses.
    """

    def __init__(
        self, on_callback: Callable[[dict[str, str]], CallbackResult], *, path: str = "/callback", port: int = 0
    ) -> None:
        self.path = path
        #: 0: an ephemeral port; a fixed one when the client was registered with its redirect URI.
        self._want_port = port
        self._on_callback = on_callback
        self._server: asyncio.Server | None = None
        self._done: asyncio.Future[CallbackResult] | None = None
        self.port = 0
        #: Why the listener refused a callback on its own (too large, repeated parameters); the
        #: flow's check was not called then.
        self.rejected: str | None = None

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    async def __aenter__(self) -> LoopbackListener:
        self._done = asyncio.get_running_loop().create_future()
        self._server = await asyncio.start_server(self._handle, host="127.0.0.1", port=self._want_port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.debug("loopback listener open on 127.0.0.1:%d", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None
            log.debug("loopback listener on 127.0.0.1:%d closed", self.port)

    async def wait(self) -> CallbackResult:
        """Wait for the first callback; its verdict (``None``: accepted)."""
        assert self._done is not None, "use 'async with LoopbackListener(...)'"
        return await asyncio.shield(self._done)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                request_line = await asyncio.wait_for(reader.readline(), 10)
                # Drain the headers; nothing in them matters here, but their size does.
                size = len(request_line)
                while size <= MAX_REQUEST_BYTES:
                    line = await asyncio.wait_for(reader.readline(), 10)
                    size += len(line)
                    if line in (b"\r\n", b"\n", b""):
                        break
                too_large = size > MAX_REQUEST_BYTES
            except ValueError:  # a line longer than the stream's limit (64 KiB)
                too_large = True
            if too_large:
                status, title, text = self._reject(
                    "the login callback is larger than 64 KiB (not a real authorization response)"
                )
            else:
                status, title, text = self._respond(request_line)
            body = _PAGE.format(title=html.escape(title), text=html.escape(text)).encode()
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n"
                f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n"
                "Connection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _reject(self, reason: str) -> tuple[str, str, str]:
        """Refuse a callback the flow cannot trust, and end the login with ``reason``."""
        done = self._done
        if done is not None and not done.done():
            self.rejected = reason
            done.set_result(reason)
        return (
            "400 Bad Request",
            "Login failed",
            "The login callback was malformed. Return to the terminal for details.",
        )

    def _respond(self, request_line: bytes) -> tuple[str, str, str]:
        parts = request_line.decode("latin-1").split()
        if len(parts) < 2 or parts[0] != "GET":
            return "405 Method Not Allowed", "Not allowed", "This address only takes the login redirect."
        target = urlsplit(parts[1])
        if target.path != self.path:
            return "404 Not Found", "Not found", "Nothing here."
        done = self._done
        if done is None or done.done():
            return "400 Bad Request", "Login already finished", "This login was already completed or failed."
        pairs = parse_qsl(target.query, keep_blank_values=True)
        params = dict(pairs)
        if len(params) != len(pairs):
            # RFC 6749 3.1: a parameter must not appear twice; which one would be the real state?
            repeated = sorted({k for k, _ in pairs if sum(1 for n, _ in pairs if n == k) > 1})
            return self._reject(
                f"the login callback repeats the parameter {', '.join(repeated)[:100]} (possibly forged)"
            )
        try:
            verdict = self._on_callback(params)
        except Exception as exc:  # the flow's check failed unexpectedly: fail the login, say why
            verdict = f"{type(exc).__name__}"
            done.set_exception(exc)
            return "500 Internal Server Error", "Login failed", "Return to the terminal for details."
        done.set_result(verdict)
        if verdict is None:
            return "200 OK", "Logged in", "You can close this window and return to the terminal."
        return "400 Bad Request", "Login failed", f"{verdict} Return to the terminal for details."
