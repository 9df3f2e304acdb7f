"""A headless browser for tests and demos: follows an authorization URL's redirects with a
cookie jar until the loopback redirect, as a person clicking "Allow" would.

It works against authorization servers configured to approve without a person (the test
``oidc-provider`` of this repository, or a provider plugin's replica). The last hop, to the
loopback listener, is sent on a raw socket so that the authorization code never reaches an
httpx log line.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from mcpconnect.auth.provider import is_loopback

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


async def follow_authorization(
    url: str, *, max_hops: int = 20, client: httpx.AsyncClient | None = None, deliver: bool = True
) -> Callback:
    """Follow ``url``'s redirects (cookies kept) until one points at a loopback listener that is
    not the authorization server itself, and deliver that callback (with ``deliver=False``,
    return it undelivered, status 0, for tests that tamper with or replay it).

    Raises :class:`RuntimeError` when the server answers a page instead of a redirect (it wants
    a person) or the hops run out.
    """
    server = urlsplit(url).netloc
    own = client is None
    http = client or httpx.AsyncClient(follow_redirects=False, timeout=30)
    try:
        for _ in range(max_hops):
            response = await http.get(url)
            if response.status_code not in (301, 302, 303, 307, 308):
                raise RuntimeError(
                    f"the authorization server answered HTTP {response.status_code} instead of a redirect at "
                    f"{urlsplit(url).path}; it needs a person (configure it to approve automatically)"
                )
            url = urljoin(url, response.headers["location"])
            if urlsplit(url).netloc != server and is_loopback(url):
                return await deliver_callback(url) if deliver else Callback(0, "", url)
        raise RuntimeError(f"no redirect to the loopback listener after {max_hops} hops")
    finally:
        if own:
            await http.aclose()
