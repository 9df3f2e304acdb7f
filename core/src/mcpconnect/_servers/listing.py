"""A server's tool list: fetched after the handshake (or read from the discovery cache), kept,
and fetched again after each ``notifications/tools/list_changed``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio

from mcpconnect._servers.cache import cache_key
from mcpconnect._servers.errors import describe

if TYPE_CHECKING:
    from mcp import Client

    from mcpconnect._config import ServerConfig
    from mcpconnect._servers.status import ConnectOptions

__all__ = ["ToolListing"]

log = logging.getLogger("mcpconnect.servers")


class ToolListing:
    """The tools of server ``name``, as its connection last listed them."""

    def __init__(self, name: str, server: ServerConfig, options: ConnectOptions) -> None:
        self._name = name
        self._timeout = server.timeout
        self._cache = options.cache
        self._use_cache = options.use_cache
        self._key = cache_key(name, server)
        self.tools: list[Any] | None = None
        # After list_changed the list is fetched again in the background (the last one known is
        # shown meanwhile); while it is stale, a caller fetches at once instead.
        self.stale = False
        self._wanted = anyio.Event()

    async def first(self, client: Client) -> None:
        """The list of a new session: from the cache when it holds one for this protocol version."""
        if self._cache is not None and self._use_cache:
            entry = self._cache.get(self._key)
            if entry is not None and entry.get("protocol_version") == client.protocol_version:
                from mcp_types import Tool

                self.tools = [Tool.model_validate(t) for t in entry.get("tools", [])]
                return
        await self.fetch(client)

    async def fetch(self, client: Client) -> list[Any]:
        """Every page of ``tools/list`` (the server's own cache bypassed), kept and cached."""
        self.stale = False  # a list_changed arriving from now on asks for another fetch
        tools: list[Any] = []
        if client.server_capabilities.tools is not None:
            cursor: str | None = None
            for _ in range(100):  # a paginator that never ends must not hang us
                page = await client.list_tools(cursor=cursor, cache_mode="bypass")
                tools.extend(page.tools)
                cursor = page.next_cursor
                if not cursor:
                    break
        self.tools = tools
        if self._cache is not None:
            info = client.server_info
            self._cache.put(
                self._key,
                {
                    "server": self._name,
                    "protocol_version": client.protocol_version,
                    "server_info": {"name": info.name if info else None, "version": info.version if info else None},
                    "capabilities": client.server_capabilities.model_dump(mode="json", by_alias=True),
                    "tools": [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools],
                },
            )
        return tools

    def changed(self) -> None:
        """The server said its list changed: mark it stale and wake :meth:`refetch_loop` (not
        fetched here: this runs in the session's reader)."""
        self.stale = True
        self._wanted.set()
        if self._cache is not None:
            self._cache.invalidate(self._key)

    async def refetch_loop(self, client: Client) -> None:
        """Fetch the list again after each :meth:`changed`, for the life of ``client``'s session."""
        while True:
            await self._wanted.wait()
            self._wanted = anyio.Event()
            if not self.stale:
                continue  # someone fetched it meanwhile
            try:
                with anyio.fail_after(self._timeout):
                    await self.fetch(client)
            except Exception as exc:
                # The next use fetches again; the health check judges the connection.
                log.debug("server %s: refetching the tool list failed: %s", self._name, describe(exc))
