"""How the gateway names what its upstream servers offer, and how it reads those names back.

Tools and prompts are ``SERVER__NAME``, as the hub names tools. A resource URI becomes
``mcpconnect://SERVER/ORIGINAL`` (the server's name percent-encoded, the original URI verbatim), so
that every URI maps back to exactly one server and one upstream URI, and a resource template keeps
its ``{variables}`` where the client expands them. Without a prefix (one upstream) every name and
URI passes unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote, unquote

from mcpconnect._hub import SEPARATOR

__all__ = ["URI_SCHEME", "Namespace"]

#: The scheme of the gateway's own resource URIs.
URI_SCHEME = "mcpconnect"


class Namespace:
    """Names for the servers ``servers``; ``prefix=False`` needs exactly one server."""

    def __init__(self, servers: Sequence[str], *, prefix: bool = True) -> None:
        if not prefix and len(servers) != 1:
            raise ValueError("names can go unprefixed only with exactly one server")
        self.servers = list(servers)
        self.prefix = prefix
        # Longest first: "a__b" must win over "a" for "a__b__tool".
        self._by_length = sorted(self.servers, key=len, reverse=True)
        self._uri_prefixes = {server: f"{URI_SCHEME}://{quote(server, safe='')}/" for server in self.servers}

    def name(self, server: str, name: str) -> str:
        """The client-facing name of ``server``'s tool or prompt ``name``."""
        return f"{server}{SEPARATOR}{name}" if self.prefix else name

    def split(self, qualified: str) -> tuple[str, str] | None:
        """``(server, name)`` for a client-facing name, or ``None`` when it names no server."""
        if not self.prefix:
            return (self.servers[0], qualified) if qualified else None
        for server in self._by_length:
            head = f"{server}{SEPARATOR}"
            if qualified.startswith(head) and len(qualified) > len(head):
                return server, qualified[len(head) :]
        return None

    def uri(self, server: str, uri: str) -> str:
        """The client-facing URI (or URI template) of ``server``'s resource ``uri``."""
        return self._uri_prefixes[server] + uri if self.prefix else uri

    def split_uri(self, uri: str) -> tuple[str, str] | None:
        """``(server, upstream URI)`` for a client-facing URI, or ``None`` when it names no server."""
        if not self.prefix:
            return (self.servers[0], uri) if uri else None
        for server in self._by_length:
            head = self._uri_prefixes[server]
            if uri.startswith(head) and len(uri) > len(head):
                return server, uri[len(head) :]
        # Clients that normalise URIs lower-case the authority; accept that when it is unambiguous.
        scheme, sep, rest = uri.partition("://")
        if sep and scheme.lower() == URI_SCHEME:
            authority, slash, original = rest.partition("/")
            matches = [s for s in self.servers if s.lower() == unquote(authority).lower()]
            if slash and original and len(matches) == 1:
                return matches[0], original
        return None
