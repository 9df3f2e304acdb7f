"""A headless browser for scripts, CI, demos and tests: follows an authorization URL's redirects with a
cookie jar until the loopback redirect, as a person clicking "Allow" would.

It works against authorization servers configured to approve without a person (the test
``oidc-provider`` of this repository, or a provider plugin's replica). No hop goes through
httpx, whose DEBUG logs show response headers: the redirect to the listener carries the code.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from mcpconnect.auth._provider import is_loopback

__all__ = ["Callback", "deliver_callback", "follow_authorization"]


@dataclass(frozen=True)
class Callback:
    """What the loopback listener answered, and the callback URL it was sent (tests may replay
    it; never log it: it holds the code)."""

    status: int
    body: str
    url: str

    def __repr__(self) -> str:
        return f"Callback(status={self.status})"


async def deliver_callback(url: str) -> Callback:
    """GET ``url`` (a loopback callback) on a plain socket; the listener's status and page."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
    try:
        writer.write(f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    return Callback(status, body.decode("utf-8", "replace"), url)


class _Arrived(Exception):
    def __init__(self, url: str) -> None:
        self.url = url


class _StopAtLoopback(urllib.request.HTTPRedirectHandler):
    def __init__(self, server: str, stop_at: str | None = None) -> None:
        self.server = server
        self.stop_at = stop_at

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        if self.stop_at is not None and newurl.split("?", 1)[0] == self.stop_at.split("?", 1)[0]:
            raise _Arrived(newurl)
        if urlsplit(newurl).netloc != self.server and is_loopback(newurl):
            raise _Arrived(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _follow(url: str, stop_at: str | None = None) -> str:
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
        _StopAtLoopback(urlsplit(url).netloc, stop_at),
    )
    try:
        with opener.open(url, timeout=30) as response:
            status = response.status
    except _Arrived as arrived:
        return arrived.url
    except urllib.error.HTTPError as exc:
        status = exc.code
    raise RuntimeError(
        f"the authorization server answered HTTP {status} instead of redirecting to the loopback listener; "
        "it needs a person (configure it to approve automatically)"
    )


async def follow_authorization(url: str, *, deliver: bool = True, stop_at: str | None = None) -> Callback:
    """Follow ``url``'s redirects (cookies kept) until one points at a loopback listener that is
    not the authorization server itself, and deliver that callback (with ``deliver=False``,
    return it undelivered, status 0, for tests that tamper with or replay it).

    ``stop_at``: also stop at this redirect URI (a registered https page, for ``--paste``
    logins): the URL returned undelivered is the one a user would paste.

    Uses :mod:`urllib.request` in a thread, not httpx: httpx and httpcore log response headers at
    DEBUG, and the redirect to the listener carries the authorization code, which a browser
    knows but no log may show.

    Raises :class:`RuntimeError` when the server answers a page instead of a redirect (it wants
    a person) or redirects in a loop.
    """
    callback_url = await asyncio.to_thread(_follow, url, stop_at)
    if stop_at is not None and not is_loopback(callback_url):
        return Callback(0, "", callback_url)
    return await deliver_callback(callback_url) if deliver else Callback(0, "", callback_url)
