"""Resource subscriptions through the gateway, counted per upstream resource.

A client subscribes to a gateway URI (``resources/subscribe`` on the initialize handshake, or the
``resourceSubscriptions`` of a 2026-07-28 ``subscriptions/listen`` stream). The gateway subscribes
its one connection to the upstream once per upstream URI, however many clients hold it, and lets go
when the last one does (an unsubscribe, a closed listen stream, or a client that went away). An
upstream on the handshake gets ``resources/subscribe``; one on 2026-07-28 gets a ``subscriptions/
listen`` stream for that URI, the only way that protocol subscribes. When an upstream reconnects,
its subscriptions are made again on the new connection. Its ``notifications/resources/updated``
reach the holders with the URI in the gateway's form.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types as types
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

if TYPE_CHECKING:
    from mcp import Client

__all__ = ["Deliver", "ResourceSubscriptions"]

log = logging.getLogger("mcpconnect.gateway")

#: Sends one updated resource (the gateway's URI) to one holder; raising means the holder is gone.
Deliver = Callable[[str], Awaitable[None]]
#: Runs ``call(client, meta)`` with an upstream's client (the gateway's ``_upstream``: server,
#: method, target, call).
Upstream = Callable[[str, str, str, Callable[["Client", Any], Awaitable[Any]]], Awaitable[Any]]


@dataclass
class _Upstream:
    """One upstream URI subscribed on one connection of its server."""

    client: Client | None = None
    listening: anyio.CancelScope | None = None  # a 2026-07-28 upstream's listen stream
    holders: dict[object, Deliver] = field(default_factory=dict)


class ResourceSubscriptions:
    """Who holds which upstream resource, and the upstream subscription each needs."""

    def __init__(self, upstream: Upstream, client_of: Callable[[str], Client | None]) -> None:
        self._upstream = upstream
        self._client_of = client_of
        self._subs: dict[tuple[str, str], _Upstream] = {}
        self._lock = anyio.Lock()
        self._tg: anyio.abc.TaskGroup | None = None

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Hold the listen streams to 2026-07-28 upstreams; runs until cancelled."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            task_status.started()
            await anyio.sleep_forever()

    def held(self, server: str) -> list[str]:
        """The upstream URIs of ``server`` that some client holds."""
        return [uri for (name, uri), sub in self._subs.items() if name == server and sub.holders]

    async def acquire(self, holder: object, server: str, uri: str, deliver: Deliver) -> None:
        """``holder`` subscribes to ``server``'s ``uri``; the first holder subscribes upstream
        (an upstream's refusal reaches the caller as its :class:`MCPError`)."""
        async with self._lock:
            sub = self._subs.setdefault((server, uri), _Upstream())
            if not sub.holders:
                try:
                    await self._subscribe(server, uri, sub)
                except BaseException:
                    self._subs.pop((server, uri), None)
                    raise
            sub.holders[holder] = deliver

    async def release(self, holder: object, server: str, uri: str) -> None:
        """``holder`` lets go of ``server``'s ``uri``; the last one unsubscribes upstream."""
        async with self._lock:
            sub = self._subs.get((server, uri))
            if sub is None or sub.holders.pop(holder, None) is None or sub.holders:
                return
            del self._subs[(server, uri)]
            await self._unsubscribe(server, uri, sub)

    async def drop(self, holder: object) -> None:
        """Everything ``holder`` held (a client that went away)."""
        for server, uri in [key for key, sub in self._subs.items() if holder in sub.holders]:
            await self.release(holder, server, uri)

    async def renew(self, server: str) -> None:
        """Subscribe again on ``server``'s new connection (after it reconnected)."""
        async with self._lock:
            for (name, uri), sub in list(self._subs.items()):
                if name != server or not sub.holders or sub.client is self._client_of(server):
                    continue
                try:
                    await self._subscribe(server, uri, sub)
                except Exception as exc:
                    log.warning("server %s: could not renew the subscription to %s: %s", server, uri, exc)

    async def updated(self, server: str, uri: str, gateway_uri: str) -> None:
        """An upstream's ``notifications/resources/updated``, to the holders of that URI."""
        sub = self._subs.get((server, uri))
        if sub is None:
            return
        # Holders that share a way of delivery (every listen stream: one event on the bus) get one.
        by_delivery: dict[Deliver, list[object]] = {}
        for holder, deliver in sub.holders.items():
            by_delivery.setdefault(deliver, []).append(holder)
        for deliver, holders in by_delivery.items():
            try:
                await deliver(gateway_uri)
            except Exception:  # the client has gone
                log.debug("a subscriber of %s has gone; dropping its subscriptions", gateway_uri)
                for holder in holders:
                    await self.drop(holder)

    # -- upstream ---------------------------------------------------------------------------------

    async def _subscribe(self, server: str, uri: str, sub: _Upstream) -> None:
        if sub.listening is not None:
            sub.listening.cancel()
            sub.listening = None

        async def call(client: Client, meta: Any) -> None:
            caps = client.server_capabilities.resources
            if caps is None or not caps.subscribe:
                raise MCPError(types.METHOD_NOT_FOUND, f"server '{server}' does not support resource subscriptions")
            if client.protocol_version in MODERN_PROTOCOL_VERSIONS:
                assert self._tg is not None, "run() is not running"
                sub.listening = await self._tg.start(self._listen, server, uri, client)
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # removed at 2026-07-28, the handshake's way
                    await client.subscribe_resource(uri, meta=meta)
            sub.client = client

        await self._upstream(server, "resources/subscribe", uri, call)

    async def _listen(
        self, server: str, uri: str, client: Client, *, task_status: anyio.abc.TaskStatus[anyio.CancelScope]
    ) -> None:
        """A listen stream for ``uri``; its events reach :meth:`updated` through the hub's
        notification callback (the SDK tees them), so this only keeps the stream open."""
        with anyio.CancelScope() as scope:
            started = False
            try:
                async with client.listen(resource_subscriptions=[uri]) as subscription:
                    task_status.started(scope)
                    started = True
                    async for _ in subscription:
                        pass
            except Exception as exc:
                if not started:
                    raise  # refused: the subscriber hears why
                log.debug("server %s: listen stream for %s ended: %s", server, uri, exc)  # renew() reopens

    async def _unsubscribe(self, server: str, uri: str, sub: _Upstream) -> None:
        if sub.listening is not None:
            sub.listening.cancel()
            return
        client = self._client_of(server)
        if client is None or client is not sub.client:
            return  # that connection is gone, and its subscriptions with it
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                await client.unsubscribe_resource(uri)
        except Exception as exc:
            log.debug("server %s: unsubscribing from %s failed: %s", server, uri, exc)
