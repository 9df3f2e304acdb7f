"""The gateway: one MCP server (the SDK's low-level :class:`mcp.server.Server`) in front of a hub.

Every request a client sends is answered from the hub's connections: listings are the union of
every ready upstream's (namespaced, filtered, paginated here), and a call goes to the one upstream
its name points at. An upstream that is down, logged out or slow affects only its own names: the
listings leave it out, and a call to it comes back as a tool error that says what to do.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import warnings
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import mcp_types as types
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    ListenHandler,
    PromptsListChanged,
    ResourcesListChanged,
    ResourceUpdated,
    ServerEvent,
    ToolsListChanged,
)
from mcp.shared.exceptions import MCPError
from mcp.shared.message import ServerMessageMetadata
from mcp_types.methods import INPUT_REQUIRED_METHODS
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from mcpconnect import __version__
from mcpconnect._gateway.login import Logins, login_command, login_target, needs_login, with_command
from mcpconnect._gateway.names import Namespace
from mcpconnect._gateway.peruser import IDLE_TIMEOUT, UserConnections, per_user_servers
from mcpconnect._gateway.resource import User, user_of_request
from mcpconnect._gateway.rounds import ROUND_WAIT, HeldCall, InputRounds
from mcpconnect._gateway.subscriptions import ResourceSubscriptions
from mcpconnect._servers.connection import ServerState, ServerStatus
from mcpconnect.errors import MCPConnectError, TransportError

if TYPE_CHECKING:
    from mcp import Client
    from mcp.client.session import ClientRequestContext
    from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
    from mcp.server.models import InitializationOptions
    from mcp.server.session import ServerSession

    from mcpconnect._config import NameFilter, ServerConfig
    from mcpconnect._hub import Hub

__all__ = ["PAGE_SIZE", "Gateway", "current_user"]

log = logging.getLogger("mcpconnect.gateway")
T = TypeVar("T")

#: Items per page of every listing the gateway answers.
PAGE_SIZE = 100
#: Seconds a client gets to take a change notification before the gateway forgets it.
NOTIFY_TIMEOUT = 5.0
#: Pages read from one upstream listing at most (a paginator that never ends must not hang us).
MAX_UPSTREAM_PAGES = 100

_KINDS = ("tools", "prompts", "resources")
_CHANGED = {
    "notifications/tools/list_changed": "tools",
    "notifications/prompts/list_changed": "prompts",
    "notifications/resources/list_changed": "resources",
}


#: Who an upstream's questions go to: the client request being answered, or the call held across
#: a 2026-07-28 client's rounds (read by the callbacks that an upstream's 2026-07-28
#: ``input_required`` results run in the calling task).
_REQUESTER: ContextVar[ServerRequestContext[Any, Any] | HeldCall | None] = ContextVar(
    "mcpconnect_gateway_requester", default=None
)


#: The user the client request being answered comes from (``None`` over stdio or without a guard);
#: set for every request by :meth:`Gateway._as_caller`, read with :func:`current_user`.
_CALLER: ContextVar[User | None] = ContextVar("mcpconnect_gateway_caller", default=None)


def current_user() -> User | None:
    """The user (issuer, ``sub``, scopes) of the client request this task is answering, if known."""
    return _CALLER.get()


@dataclass(frozen=True)
class _Event:
    server: str
    kinds: tuple[str, ...]
    status: ServerStatus | None = None
    log: types.LoggingMessageNotificationParams | None = None
    updated: str | None = None  # an upstream resource's URI (notifications/resources/updated)
    gone: object | None = None  # a client connection that closed (its subscriptions go)


#: RFC 5424 severities, lowest first (the order of ``logging/setLevel``'s levels).
_LEVELS: tuple[str, ...] = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


class Gateway:
    """The MCP server answering for ``hub``'s servers ``servers`` (every server of the hub).

    Create it before the hub (its :meth:`on_state` and :meth:`on_notification` are the hub's
    callbacks), then :meth:`attach` the hub and run :meth:`run` beside the transport.
    """

    def __init__(
        self,
        servers: Sequence[str],
        *,
        prefix: bool = True,
        page_size: int = PAGE_SIZE,
        user_idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        self.names = Namespace(servers, prefix=prefix)
        self.page_size = page_size
        self._hub: Hub | None = None
        self._catalog: dict[tuple[str, str], list[Any]] = {}
        self._sessions: set[ServerSession] = set()
        self._bus = InMemorySubscriptionBus()
        self._events_in, self._events = anyio.create_memory_object_stream[_Event](math.inf)
        self._listening: set[str] = set()
        self._attached = anyio.Event()
        self._inflight: dict[str, list[ServerRequestContext[Any, Any] | HeldCall]] = {}  # see _REQUESTER
        self._rounds = InputRounds()
        # The requestState of the input rounds (rounds.py): sealed, bound to the request and user;
        # run by _as_caller for 2026-07-28 requests only.
        security = RequestStateSecurity(keys=[os.urandom(32)], ttl=ROUND_WAIT, bind_principal=_principal)
        self._round_states = RequestStateBoundary(security, default_audience="mcpconnect")
        self._log_level = "debug"
        self._subscriptions = ResourceSubscriptions(self._upstream, self._client_of)
        self._watched: set[int] = set()
        self._logins: Logins | None = None
        #: The per-user upstream connections (``tokens = "per_user"`` servers), made at attach.
        self._users: UserConnections | None = None
        self._user_idle_timeout = user_idle_timeout
        self.server = self._build()

    # -- wiring ---------------------------------------------------------------------------------

    @property
    def hub(self) -> Hub:
        if self._hub is None:
            raise RuntimeError("the gateway has no hub yet; call attach(hub) first")
        return self._hub

    def attach(self, hub: Hub) -> None:
        """Answer from ``hub`` from now on (requests that came earlier wait for this).

        ``tokens = "per_user"`` servers are not the hub's (it holds the shared connections): each
        user's connection to them is made on that user's first call (:mod:`.peruser`)."""
        if per_user_servers(hub.runtime.config, self.names.servers):
            from mcpconnect._servers.connection import ConnectOptions

            options = ConnectOptions(
                health_interval=None,
                reconnect=False,  # a lost connection is made again on the user's next call
                cache=None,  # a user's tool list is theirs
                sampling_callback=self.sampling,
                elicitation_callback=self.elicitation,
                list_roots_callback=self.list_roots,
            )
            self._users = UserConnections(hub.runtime, options, idle=self._user_idle_timeout)
        self._hub = hub
        self._attached.set()

    @staticmethod
    async def unmatched_allow_patterns(hub: Hub) -> list[str]:
        """``allow`` tool patterns that match no tool of their (ready) server: likely typos."""
        found: list[str] = []
        for name, status in hub.servers.items():
            patterns = hub.connection(name).server.tools.allow
            if not patterns or not status.ok:
                continue
            try:
                tools = await hub.list_tools(name)
            except MCPConnectError:
                continue
            for pattern in patterns:
                if not any(fnmatchcase(tool.name, pattern) for tool in tools):
                    found.append(f"servers.{name}.tools.allow: '{pattern}' matches no tool of {name}")
        return found

    def statuses(self) -> list[ServerStatus]:
        """Every upstream's state (none before :meth:`attach`); a per-user server's is the
        gateway's readiness to serve it (each user's connection is made on their call)."""
        if self._hub is None:
            return []
        users = self._users.statuses(self.names.servers) if self._users is not None else []
        return [*self._hub.servers.values(), *users]

    @property
    def started(self) -> bool:
        """Whether every shared upstream has connected or failed once (the hub is attached); true
        with no shared upstream at all (only ``tokens = "per_user"`` ones, made per user)."""
        return self._hub is not None

    def on_state(self, status: ServerStatus) -> None:
        """The hub's ``on_state``: a server that comes or goes changes every listing."""
        self._events_in.send_nowait(_Event(status.name, _KINDS, status))

    async def on_notification(self, server: str, message: Any) -> None:
        """The hub's ``on_notification``: an upstream's ``list_changed`` becomes the client's."""
        kind = _CHANGED.get(getattr(message, "method", ""))
        if kind is not None:
            self._events_in.send_nowait(_Event(server, (kind,)))
        elif isinstance(message, types.LoggingMessageNotification):
            self._events_in.send_nowait(_Event(server, (), log=message.params))
        elif isinstance(message, types.ResourceUpdatedNotification):
            self._events_in.send_nowait(_Event(server, (), updated=message.params.uri))

    def initialization_options(self) -> InitializationOptions:
        return self.server.create_initialization_options(
            NotificationOptions(prompts_changed=True, resources_changed=True, tools_changed=True)
        )

    async def run(self) -> None:
        """Forward change events to the clients, and keep a ``subscriptions/listen`` stream open to
        each 2026-07-28 upstream (whose changes arrive only that way). Runs until cancelled."""
        async with anyio.create_task_group() as tg:
            await tg.start(self._subscriptions.run)
            await tg.start(self._rounds.run)
            tg.start_soon(self._run_users)
            async for event in self._events:
                if event.log is not None:
                    await self._forward_log(event.server, event.log)
                    continue
                if event.updated is not None:
                    gateway_uri = self.names.uri(event.server, event.updated)
                    tg.start_soon(self._subscriptions.updated, event.server, event.updated, gateway_uri)
                    continue
                if event.gone is not None:
                    tg.start_soon(self._subscriptions.drop, event.gone)
                    continue
                for kind in event.kinds:
                    self._catalog.pop((event.server, kind), None)
                status = event.status
                if status is not None and status.state is ServerState.READY and event.server not in self._listening:
                    tg.start_soon(self._listen_upstream, event.server)
                if status is not None and status.state is ServerState.READY and self._subscriptions.held(event.server):
                    tg.start_soon(self._subscriptions.renew, event.server)  # a new connection: subscribe again
                if self._hub is not None:  # before attach there is no client to tell
                    await self._broadcast(event.kinds)

    async def _run_users(self) -> None:
        """Own the per-user connections (if any server has them) until cancelled."""
        await self._attached.wait()
        if self._users is not None:
            try:
                await self._users.run()
            finally:
                await self._users.aclose()

    async def _listen_upstream(self, server: str) -> None:
        """Keep a ``subscriptions/listen`` stream open to ``server`` while it is on 2026-07-28,
        across its reconnections; end when it is down for good or does not announce changes."""
        self._listening.add(server)
        try:
            await self._attached.wait()  # servers become ready before the hub is handed over
            while True:
                client = await self.hub.client(server)  # waits while it reconnects; raises when down
                if not await self._listen_once(server, client):
                    return
                if self.hub.connection(server).client is client:
                    return  # the stream ended on a live connection (closed by the server): do not spin
        except Exception as exc:  # down or refused: the next READY starts a new listener
            log.debug("listen stream to server %s ended: %s", server, exc)
        finally:
            self._listening.discard(server)

    async def _listen_once(self, server: str, client: Client) -> bool:
        """Listen on ``client`` until its stream ends; ``False`` when it has nothing to listen to."""
        if client.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            return False
        caps = client.server_capabilities
        tools = bool(caps.tools and caps.tools.list_changed)
        prompts = bool(caps.prompts and caps.prompts.list_changed)
        resources = bool(caps.resources and caps.resources.list_changed)
        if not (tools or prompts or resources):
            return False
        # The events reach on_notification through the hub too (the SDK tees them to the message
        # handler); this only keeps the stream open until the connection ends.
        listen = client.listen(tools_list_changed=tools, prompts_list_changed=prompts, resources_list_changed=resources)
        try:
            async with listen as subscription:
                async for _ in subscription:
                    pass
        except Exception as exc:  # the connection ended under the stream
            log.debug("listen stream to server %s lost: %s", server, exc)
        return True

    async def _broadcast(self, kinds: Sequence[str]) -> None:
        events: dict[str, ServerEvent] = {
            "tools": ToolsListChanged(),
            "prompts": PromptsListChanged(),
            "resources": ResourcesListChanged(),
        }
        for kind in kinds:
            await self._bus.publish(events[kind])

        async def send(session: ServerSession) -> None:
            for kind in kinds:
                if kind == "tools":
                    await session.send_tool_list_changed()
                elif kind == "prompts":
                    await session.send_prompt_list_changed()
                else:
                    await session.send_resource_list_changed()

        await self._to_sessions(send)

    async def _forward_log(self, server: str, params: types.LoggingMessageNotificationParams) -> None:
        """An upstream's log message, to the clients on the initialize handshake, its logger named
        after the server (2026-07-28 clients get logs only on the request that opted in)."""
        if _LEVELS.index(params.level) < _LEVELS.index(self._log_level):
            return
        logger = f"{server}.{params.logger}" if params.logger else server

        async def send(session: ServerSession) -> None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # deprecated at 2026-07-28, still the handshake era's
                await session.send_log_message(params.level, params.data, logger=logger)

        await self._to_sessions(send)

    async def _to_sessions(self, send: Callable[[ServerSession], Awaitable[None]]) -> None:
        for session in list(self._sessions):
            delivered = False
            # A client that stopped reading must not hold up every other one.
            with anyio.move_on_after(NOTIFY_TIMEOUT):
                try:
                    await send(session)
                    delivered = True
                except Exception:  # the client has gone
                    log.debug("a client of the gateway has gone; it gets no more notifications")
            if not delivered:
                self._sessions.discard(session)

    async def _set_level(
        self, ctx: ServerRequestContext[Any, Any], params: types.SetLevelRequestParams
    ) -> types.EmptyResult:
        """``logging/setLevel``: the least severe level forwarded, also asked of every ready upstream
        on the initialize handshake (the level is the gateway's, shared by its clients)."""
        await self._attached.wait()
        self._log_level = params.level

        async def tell(server: str) -> None:
            client = self.hub.connection(server).client
            if client is None or client.protocol_version in MODERN_PROTOCOL_VERSIONS:
                return
            caps = client.server_capabilities
            if caps.logging is None:
                return
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # deprecated at 2026-07-28, still the handshake era's
                try:
                    await client.set_logging_level(params.level)
                except MCPError as exc:
                    log.warning("server %s refused logging/setLevel: %s", server, exc)

        async with anyio.create_task_group() as tg:
            for server in self._ready():
                tg.start_soon(tell, server)
        return types.EmptyResult()

    async def _as_caller(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        """Answer ``ctx`` as its HTTP request's user (the :class:`ResourceGuard` put it there), and
        remember the clients on the initialize handshake (one middleware: each costs every call)."""
        request = ctx.request
        token = _CALLER.set(user_of_request(request) if request is not None else None)
        try:
            if ctx.method in INPUT_REQUIRED_METHODS and ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
                result = await self._round_states(ctx, call_next)  # only 2026-07-28 has rounds
            else:
                result = await call_next(ctx)
        finally:
            _CALLER.reset(token)
        # Clients on the initialize handshake get change notifications on their connection; those
        # on 2026-07-28 open subscriptions/listen streams instead (served by the ListenHandler).
        if ctx.method == "notifications/initialized" and ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            self._sessions.add(ctx.session)
        return result

    def _build(self) -> Server[Any]:
        server: Server[Any] = Server(
            "mcpconnect",
            version=__version__,
            title="mcpconnect gateway",
            instructions=None,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_list_prompts=self._list_prompts,
            on_get_prompt=self._get_prompt,
            on_list_resources=self._list_resources,
            on_list_resource_templates=self._list_resource_templates,
            on_read_resource=self._read_resource,
            on_subscriptions_listen=self._listen(ListenHandler(self._bus)),
            on_completion=self._complete,
            on_subscribe_resource=self._subscribe,
            on_unsubscribe_resource=self._unsubscribe,
        )
        server.middleware.append(self._as_caller)
        # Registered after construction: the constructor's on_set_logging_level warns that logging
        # is deprecated at 2026-07-28, but handshake-era clients still use it.
        server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, self._set_level)
        return server

    # -- requests from upstreams: sampling, elicitation, roots ------------------------------------

    @contextmanager
    def _on_behalf_of(self, server: str, asker: ServerRequestContext[Any, Any] | HeldCall) -> Iterator[None]:
        """While a client's request is at ``server``, the server's own requests go to that client
        (``asker``: the request, or the call held across a 2026-07-28 client's rounds)."""
        token = _REQUESTER.set(asker)
        calls = self._inflight.setdefault(server, [])
        calls.append(asker)
        try:
            yield
        finally:
            calls.remove(asker)
            _REQUESTER.reset(token)

    def _requester(self, context: ClientRequestContext) -> ServerRequestContext[Any, Any] | HeldCall | None:
        """The client request an upstream's request belongs to: the one being served in this task
        (2026-07-28 ``input_required`` rounds), else the latest call in flight at that upstream
        (handshake-era servers send their requests on the connection)."""
        current = _REQUESTER.get()
        if current is not None:
            return current
        if self._hub is None:
            return None
        for server, calls in self._inflight.items():
            client = self._client_of(server)
            if calls and client is not None and client.session is context.session:
                return calls[-1]
        return None

    async def _ask_client(
        self,
        context: ClientRequestContext,
        request: Any,
        result_type: type[Any],
        capability: types.ClientCapabilities,
        what: str,
        *,
        any_client: bool = False,
    ) -> Any:
        ctx = self._requester(context)
        if isinstance(ctx, HeldCall):  # a 2026-07-28 client: asked in its next round
            if not ctx.ctx.session.check_client_capability(capability):
                return types.ErrorData(
                    code=types.INVALID_REQUEST, message=f"the gateway's client does not support {what}"
                )
            return await ctx.ask(request)
        session = ctx.session if ctx is not None else None
        if session is None and any_client:
            session = next(iter(self._sessions), None)
        if session is None:
            return types.ErrorData(code=types.INVALID_REQUEST, message=f"{what} is only available during a call")
        if not session.check_client_capability(capability):
            return types.ErrorData(code=types.INVALID_REQUEST, message=f"the gateway's client does not support {what}")
        metadata = ServerMessageMetadata(related_request_id=ctx.request_id) if ctx is not None else None
        try:
            return await session.send_request(request, result_type, metadata=metadata)
        except MCPError as exc:  # the client's own error, or no channel back to it (2026-07-28 clients)
            return exc.error

    async def sampling(self, context: ClientRequestContext, params: types.CreateMessageRequestParams) -> Any:
        """The hub's ``sampling_callback``: the upstream's request, asked of the gateway's client."""
        result_type = types.CreateMessageResultWithTools if params.tools else types.CreateMessageResult
        capability = types.ClientCapabilities(sampling=types.SamplingCapability())
        return await self._ask_client(
            context, types.CreateMessageRequest(params=params), result_type, capability, "sampling"
        )

    async def elicitation(self, context: ClientRequestContext, params: types.ElicitRequestParams) -> Any:
        """The hub's ``elicitation_callback`` (form and URL modes)."""
        capability = types.ClientCapabilities(elicitation=types.ElicitationCapability())
        return await self._ask_client(
            context, types.ElicitRequest(params=params), types.ElicitResult, capability, "elicitation"
        )

    async def list_roots(self, context: ClientRequestContext) -> Any:
        """The hub's ``list_roots_callback``: the roots of the client being served (or of any
        connected client, when the upstream asks outside a call)."""
        capability = types.ClientCapabilities(roots=types.RootsCapability())
        return await self._ask_client(
            context, types.ListRootsRequest(), types.ListRootsResult, capability, "roots", any_client=True
        )

    # -- filters and listings -------------------------------------------------------------------

    def _config(self, server: str) -> ServerConfig:
        return self.hub.runtime.config.servers[server]

    def _per_user(self, server: str) -> bool:
        return self._users is not None and self._config(server).tokens == "per_user"

    def _filter(self, server: str, kind: str) -> NameFilter:
        return getattr(self._config(server), kind)  # type: ignore[no-any-return]

    def _ready(self) -> list[str]:
        return [name for name, status in self.hub.servers.items() if status.ok]

    async def _gather(self, fetch: Callable[[str], Awaitable[list[T]]]) -> list[T]:
        """``fetch`` for every ready server at once, in configuration order; a server that fails
        is left out (its state says why) instead of failing the listing."""
        ready = self._ready()
        user = current_user()
        if self._users is not None and user is not None:
            # Per-user servers: listed for a user who has connected them (through their own connection).
            connected = {s for s in self.names.servers if self._per_user(s) and await self._users.has_login(s, user)}
            ready = [s for s in self.names.servers if s in connected or s in ready]
        found: dict[str, list[T]] = {}

        async def one(server: str) -> None:
            try:
                found[server] = await fetch(server)
            except (MCPConnectError, MCPError) as exc:
                log.warning("server %s left out of a listing: %s", server, str(exc).splitlines()[0])

        async with anyio.create_task_group() as tg:
            for server in ready:
                tg.start_soon(one, server)
        return [item for server in ready for item in found.get(server, [])]

    async def _upstream_list(self, server: str, kind: str) -> list[Any]:
        """Every prompt, resource or resource template of ``server``, read page by page (cached
        until the server says its list changed)."""
        per_user = self._per_user(server)
        cached = None if per_user else self._catalog.get((server, kind))
        if cached is not None:
            return cached

        async def read(client: Client, meta: Any) -> list[Any]:
            caps = client.server_capabilities
            if (caps.prompts if kind == "prompts" else caps.resources) is None:
                return []
            items: list[Any] = []
            cursor: str | None = None
            for _ in range(MAX_UPSTREAM_PAGES):
                if kind == "prompts":
                    page: Any = await client.list_prompts(cursor=cursor, cache_mode="bypass", meta=meta)
                    items.extend(page.prompts)
                elif kind == "resources":
                    page = await client.list_resources(cursor=cursor, cache_mode="bypass", meta=meta)
                    items.extend(page.resources)
                else:
                    page = await client.list_resource_templates(cursor=cursor, cache_mode="bypass", meta=meta)
                    items.extend(page.resource_templates)
                cursor = page.next_cursor
                if not cursor:
                    break
            return items

        method = "resources/templates/list" if kind == "templates" else f"{kind}/list"
        if per_user:
            listed: list[Any] = await self._user_request(server, method, read)
            return listed
        items = await self.hub.request(server, method, None, read)
        self._catalog[(server, kind)] = items
        return items

    def _page(self, items: list[T], params: types.PaginatedRequestParams | None) -> tuple[list[T], str | None]:
        cursor = params.cursor if params is not None else None
        start = 0
        if cursor is not None:
            try:
                start = int(cursor)
            except ValueError:
                start = -1
            if not 0 <= start <= len(items):
                raise MCPError(types.INVALID_PARAMS, "Invalid cursor; list again from the start")
        end = start + self.page_size
        return items[start:end], (str(end) if end < len(items) else None)

    async def _list_tools(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        await self._attached.wait()

        async def fetch(server: str) -> list[types.Tool]:
            allowed = self._filter(server, "tools")
            return [
                tool.model_copy(update={"name": self.names.name(server, tool.name)})
                for tool in await self._tools(server)
                if allowed.allows(tool.name)
            ]

        page, cursor = self._page(await self._gather(fetch), params)
        return types.ListToolsResult(tools=page, next_cursor=cursor)

    async def _list_prompts(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        await self._attached.wait()

        async def fetch(server: str) -> list[types.Prompt]:
            allowed = self._filter(server, "prompts")
            return [
                prompt.model_copy(update={"name": self.names.name(server, prompt.name)})
                for prompt in await self._upstream_list(server, "prompts")
                if allowed.allows(prompt.name)
            ]

        page, cursor = self._page(await self._gather(fetch), params)
        return types.ListPromptsResult(prompts=page, next_cursor=cursor)

    async def _list_resources(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        await self._attached.wait()

        async def fetch(server: str) -> list[types.Resource]:
            allowed = self._filter(server, "resources")
            return [
                resource.model_copy(update={"uri": self.names.uri(server, resource.uri)})
                for resource in await self._upstream_list(server, "resources")
                if allowed.allows(resource.uri)
            ]

        page, cursor = self._page(await self._gather(fetch), params)
        return types.ListResourcesResult(resources=page, next_cursor=cursor)

    async def _list_resource_templates(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        await self._attached.wait()

        async def fetch(server: str) -> list[types.ResourceTemplate]:
            allowed = self._filter(server, "resources")
            return [
                template.model_copy(update={"uri_template": self.names.uri(server, template.uri_template)})
                for template in await self._upstream_list(server, "templates")
                if allowed.allows(template.uri_template)
            ]

        page, cursor = self._page(await self._gather(fetch), params)
        return types.ListResourceTemplatesResult(resource_templates=page, next_cursor=cursor)

    # -- calls ----------------------------------------------------------------------------------

    def _target(self, name: str, kind: str) -> tuple[str, str]:
        """The upstream of a client-facing name; a name that is filtered out is as unknown as one
        that names nothing, so that no filtered name can be reached by guessing it."""
        target = self.names.split(name)
        if target is None or not self._filter(target[0], kind).allows(target[1]):
            label = "tool" if kind == "tools" else "prompt"
            raise MCPError(types.INVALID_PARAMS, f"Unknown {label}: {name}")
        return target

    async def _tools(self, server: str) -> list[types.Tool]:
        """``server``'s tools: the hub's list, or for a per-user server the caller's connection's."""
        if self._per_user(server):
            tools: list[types.Tool] = await self._user_request(server, "tools/list", None)
            return tools
        shared: list[types.Tool] = await self.hub.connection(server).tools()  # the hub's, not namespaced
        return shared

    async def _user_request(
        self,
        server: str,
        what: str,
        call: Callable[[Client, Any], Awaitable[T]] | None,
        target: str | None = None,
        arguments: Any = None,
    ) -> Any:
        """``call(client)`` (``None``: the tool list) on the calling user's own connection to
        per-user ``server``. Raises :class:`~mcpconnect._gateway.peruser.NotConnected` (a
        :class:`TransportError` whose message has the link to connect) when the user has no
        login: nobody else's is ever used."""
        users = self._users
        assert users is not None
        user = current_user()
        if user is None:
            raise TransportError(
                f"server '{server}' has tokens = \"per_user\": only a signed-in user of the HTTP gateway can use it"
            )
        if call is None:
            return await users.tools(server, user)
        return await users.request(server, user, what, target, call, arguments)

    async def _call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        await self._attached.wait()
        server, tool = self._target(params.name, "tools")
        per_user = self._per_user(server)
        if params.request_state is None and (per_user or self.hub.servers[server].ok):
            try:
                known = any(t.name == tool for t in await self._tools(server))
            except TransportError as exc:
                return _tool_error(str(exc))
            if not known:
                # Answered as the gateway answers any unknown name, not as the upstream's tool error.
                raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name}")
        timeout = self._config(server).timeout

        async def work(asker: ServerRequestContext[Any, Any] | HeldCall) -> types.CallToolResult:
            async def progress(progress: float, total: float | None, message: str | None) -> None:
                # A no-op when the client asked for no progress (its request carried no token).
                if isinstance(asker, HeldCall):  # to the client's latest round (an earlier one has ended)
                    with contextlib.suppress(Exception):
                        await asker.ctx.session.report_progress(progress, total, message)
                else:
                    await asker.session.report_progress(progress, total, message)

            async def call(client: Client, meta: Any) -> types.CallToolResult:
                return await client.call_tool(
                    tool, params.arguments or {}, read_timeout_seconds=timeout, progress_callback=progress, meta=meta
                )

            async def attempt() -> types.CallToolResult:
                with self._on_behalf_of(server, asker):
                    return await self._upstream(server, "tools/call", tool, call, params.arguments)

            try:
                return await self._logged_in(ctx, asker, server, attempt)
            except _LoginNeeded as exc:
                return _tool_error(exc.message)

        result = await self._interactive(ctx, params, ("tools/call", params.name), work)
        return result if isinstance(result, types.InputRequiredResult) else self._relay(server, result)

    def _can_be_asked(self, ctx: ServerRequestContext[Any, Any]) -> bool:
        """Whether ``ctx``'s client is on 2026-07-28 and declares something an upstream may ask
        of it (sampling, elicitation, roots): its calls then go in rounds (rounds.py)."""
        if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            return False
        caps = ctx.session.client_capabilities
        return caps is not None and (caps.sampling or caps.elicitation or caps.roots) is not None

    async def _interactive(
        self,
        ctx: ServerRequestContext[Any, Any],
        params: types.InputResponseRequestParams,
        what: tuple[str, str],
        work: Callable[[ServerRequestContext[Any, Any] | HeldCall], Awaitable[T]],
    ) -> T | types.InputRequiredResult:
        """``work(asker)`` for ``ctx``: at once, or for a 2026-07-28 client that can be asked
        things, held across its rounds (an upstream's questions answered with ``input_required``,
        the client's retry resuming the call its ``requestState`` names)."""
        if params.request_state is not None:
            if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:  # never sealed for it: not ours
                raise MCPError(types.INVALID_PARAMS, "requestState belongs to the 2026-07-28 protocol")
            resumed: T | types.InputRequiredResult = await self._rounds.resume(
                ctx, what, params.request_state, params.input_responses
            )
            return resumed
        if not self._can_be_asked(ctx):
            return await work(ctx)
        result: T | types.InputRequiredResult = await self._rounds.start(ctx, what, work)
        return result

    async def _logged_in(
        self,
        ctx: ServerRequestContext[Any, Any],
        asker: ServerRequestContext[Any, Any] | HeldCall,
        server: str,
        attempt: Callable[[], Awaitable[T]],
    ) -> T:
        """``attempt()``; when ``server`` needs a login, the login through the client (URL-mode
        elicitation: on the request, or in a round of a 2026-07-28 client's held call ``asker``)
        and ``attempt()`` once more, or :class:`_LoginNeeded` with the command."""
        try:
            return await attempt()
        except TransportError as exc:
            if self._per_user(server):  # never a shared login on a user's behalf: their error says how
                raise _LoginNeeded(str(exc)) from None
            refusal = await self._log_in(ctx, asker, server, str(exc))
            if refusal is not None:
                raise _LoginNeeded(refusal) from None
        try:
            return await attempt()  # logged in: once more, on the new connection
        except TransportError as exc:
            raise _LoginNeeded(str(exc)) from None

    async def _log_in(
        self,
        ctx: ServerRequestContext[Any, Any],
        asker: ServerRequestContext[Any, Any] | HeldCall,
        server: str,
        error: str,
    ) -> str | None:
        """``None`` when ``server``'s login was missing and the client has just done it (URL-mode
        elicitation); otherwise the tool error to answer: ``error`` with the exact command to run."""
        config = self.hub.connection(server).server
        target = login_target(server, config)
        if target is None or not needs_login(error):
            return error
        runtime = self.hub.runtime
        hint = with_command(error, target, await login_command(runtime, target))
        caps = ctx.session.client_capabilities
        if caps is None or caps.elicitation is None or caps.elicitation.url is None:
            return hint
        modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
        if modern and not isinstance(asker, HeldCall):
            return hint  # 2026-07-28 without rounds: no way to ask the client
        if self._logins is None:
            self._logins = Logins(runtime)

        asked: list[str] = []

        async def open_url(message: str, url: str, elicitation_id: str) -> bool:
            params = types.ElicitRequestURLParams(message=message, url=url, elicitation_id=elicitation_id)
            if isinstance(asker, HeldCall):  # 2026-07-28: asked in the client's next round
                reply = await asker.ask(types.ElicitRequest(params=params))  # an ElicitResult, or ErrorData
                return getattr(reply, "action", None) == "accept"
            asked.append(elicitation_id)
            metadata = ServerMessageMetadata(related_request_id=ctx.request_id)
            answer = await ctx.session.send_request(
                types.ElicitRequest(params=params), types.ElicitResult, metadata=metadata
            )
            return answer.action == "accept"

        try:
            await self._logins.login(server, config, target, open_url)
        except (MCPConnectError, MCPError) as exc:  # declined, failed, timed out, or no way to ask
            return f"{hint}\n(the login through the client did not complete: {str(exc).splitlines()[0]})"
        for elicitation_id in asked:  # the page the client opened is done with (best effort)
            done = types.ElicitCompleteNotification(
                params=types.ElicitCompleteNotificationParams(elicitation_id=elicitation_id)
            )
            with contextlib.suppress(Exception):
                await ctx.session.send_notification(done, related_request_id=ctx.request_id)
        await self.hub.connection(server).reconnect_now()
        return None

    async def _get_prompt(
        self, ctx: ServerRequestContext[Any, Any], params: types.GetPromptRequestParams
    ) -> types.GetPromptResult | types.InputRequiredResult:
        await self._attached.wait()
        server, prompt = self._target(params.name, "prompts")

        async def work(asker: ServerRequestContext[Any, Any] | HeldCall) -> types.GetPromptResult:
            async def attempt() -> types.GetPromptResult:
                with self._on_behalf_of(server, asker):
                    return await self._upstream(
                        server,
                        "prompts/get",
                        prompt,
                        lambda c, meta: c.get_prompt(prompt, params.arguments, meta=meta),
                        params.arguments,
                    )

            try:
                return await self._logged_in(ctx, asker, server, attempt)
            except _LoginNeeded as exc:
                raise MCPError(types.INTERNAL_ERROR, exc.message) from None

        result = await self._interactive(ctx, params, ("prompts/get", params.name), work)
        return result if isinstance(result, types.InputRequiredResult) else self._relay(server, result)

    async def _read_resource(
        self, ctx: ServerRequestContext[Any, Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult | types.InputRequiredResult:
        await self._attached.wait()
        target = self.names.split_uri(params.uri)
        if target is None or not self._filter(target[0], "resources").allows(target[1]):
            # SEP-2164: invalid params, the URI in the error's data.
            raise MCPError(types.INVALID_PARAMS, f"Unknown resource: {params.uri}", {"uri": params.uri})
        server, uri = target

        async def work(asker: ServerRequestContext[Any, Any] | HeldCall) -> types.ReadResourceResult:
            async def attempt() -> types.ReadResourceResult:
                with self._on_behalf_of(server, asker):
                    return await self._upstream(
                        server,
                        "resources/read",
                        uri,
                        lambda c, meta: c.read_resource(uri, cache_mode="bypass", meta=meta),
                    )

            try:
                return await self._logged_in(ctx, asker, server, attempt)
            except _LoginNeeded as exc:  # no tool error to carry it: the command in the MCP error
                raise MCPError(types.INTERNAL_ERROR, exc.message) from None

        result = await self._interactive(ctx, params, ("resources/read", params.uri), work)
        return result if isinstance(result, types.InputRequiredResult) else self._relay(server, result)

    async def _complete(
        self, ctx: ServerRequestContext[Any, Any], params: types.CompleteRequestParams
    ) -> types.CompleteResult:
        """``completion/complete``: asked of the upstream the prompt or template belongs to."""
        await self._attached.wait()
        ref = params.ref
        if isinstance(ref, types.PromptReference):
            server, prompt = self._target(ref.name, "prompts")
            upstream_ref: types.PromptReference | types.ResourceTemplateReference = ref.model_copy(
                update={"name": prompt}
            )
        else:
            server, template = self._resource_target(ref.uri)
            upstream_ref = ref.model_copy(update={"uri": template})
        context = params.context.arguments if params.context is not None else None

        async def complete(client: Client, meta: Any) -> types.CompleteResult:
            if client.server_capabilities.completions is None:
                return types.CompleteResult(completion=types.Completion(values=[]))  # nothing to offer
            return await client.complete(upstream_ref, params.argument.model_dump(), context)

        what = upstream_ref.name if isinstance(upstream_ref, types.PromptReference) else upstream_ref.uri
        try:
            result = await self._upstream(server, "completion/complete", what, complete)
        except TransportError as exc:
            raise MCPError(types.INTERNAL_ERROR, str(exc)) from None
        return self._relay(server, result)

    def _resource_target(self, uri: str) -> tuple[str, str]:
        """The upstream of a gateway resource URI (or template); a filtered one is unknown."""
        target = self.names.split_uri(uri)
        if target is None or not self._filter(target[0], "resources").allows(target[1]):
            raise MCPError(types.INVALID_PARAMS, f"Unknown resource: {uri}", {"uri": uri})
        return target

    def _client_of(self, server: str) -> Client | None:
        if self._hub is None or self._per_user(server):
            return None
        return self._hub.connection(server).client

    async def _subscribe(
        self, ctx: ServerRequestContext[Any, Any], params: types.SubscribeRequestParams
    ) -> types.EmptyResult:
        """``resources/subscribe`` (initialize handshake): the upstream subscribed once per URI."""
        await self._attached.wait()
        server, uri = self._resource_target(params.uri)
        holder = _connection_of(ctx)
        session = ctx.session

        async def deliver(gateway_uri: str) -> None:
            with anyio.fail_after(NOTIFY_TIMEOUT):  # a client that stopped reading is dropped
                await session.send_resource_updated(gateway_uri)

        self._check_subscribable(server)
        try:
            await self._subscriptions.acquire(holder, server, uri, deliver)
        except TransportError as exc:
            raise MCPError(types.INTERNAL_ERROR, str(exc)) from None
        self._watch(holder)
        return types.EmptyResult()

    async def _unsubscribe(
        self, ctx: ServerRequestContext[Any, Any], params: types.UnsubscribeRequestParams
    ) -> types.EmptyResult:
        await self._attached.wait()
        server, uri = self._resource_target(params.uri)
        await self._subscriptions.release(_connection_of(ctx), server, uri)
        return types.EmptyResult()

    def _check_subscribable(self, server: str) -> None:
        """Refuse a subscription to a per-user server's resource, clearly: the counted subscriptions
        hold one upstream subscription per URI for every client, which would let one user's updates
        reach another, and a user's connection is closed when idle. Until they are per user too."""
        if self._per_user(server):
            raise MCPError(
                types.INVALID_REQUEST,
                f"server '{server}' has tokens = \"per_user\": resource subscriptions through the gateway are not "
                "available for it yet; read the resource again to see changes",
            )

    def _watch(self, connection: Any) -> None:
        """When ``connection`` closes, its subscriptions go (once per connection)."""
        stack = getattr(connection, "exit_stack", None)
        if stack is None or id(connection) in self._watched:
            return
        self._watched.add(id(connection))

        async def closed() -> None:
            self._watched.discard(id(connection))
            self._events_in.send_nowait(_Event("", (), gone=connection))

        stack.push_async_callback(closed)

    def _listen(self, handler: ListenHandler) -> Callable[..., Awaitable[types.SubscriptionsListenResult]]:
        """``subscriptions/listen`` (2026-07-28): the stream's resource subscriptions held upstream
        while it is open (a URI that names nothing is honored and never fires, as the SDK does)."""

        async def publish(gateway_uri: str) -> None:
            await self._bus.publish(ResourceUpdated(uri=gateway_uri))

        async def listen(
            ctx: ServerRequestContext[Any, Any], params: types.SubscriptionsListenRequestParams
        ) -> types.SubscriptionsListenResult:
            uris = params.notifications.resource_subscriptions or []
            if uris:
                await self._attached.wait()
            holder = object()
            try:
                for gateway_uri in uris:
                    try:
                        server, uri = self._resource_target(gateway_uri)
                        self._check_subscribable(server)
                        await self._subscriptions.acquire(holder, server, uri, publish)
                    except (MCPError, TransportError) as exc:
                        log.warning("listen stream: no upstream subscription for %s: %s", gateway_uri, exc)
                return await handler(ctx, params)
            finally:
                with anyio.move_on_after(NOTIFY_TIMEOUT, shield=True):
                    await self._subscriptions.drop(holder)

        return listen

    async def _upstream(
        self,
        server: str,
        method: str,
        target: str,
        call: Callable[[Client, Any], Awaitable[T]],
        arguments: Any = None,
    ) -> T:
        """``call(client, meta)`` with ``server``'s client, through the hub (waiting while it
        reconnects, one retry when its session ended; observers see a request operation and
        ``meta`` carries their trace context). The upstream's own JSON-RPC errors (unknown name,
        invalid arguments) reach the client as they are, resource URIs in their data mapped;
        failures to reach it raise :class:`TransportError`."""

        async def guarded(client: Client, meta: Any) -> T | _Refused:
            try:
                return await call(client, meta)
            except MCPError as exc:
                if exc.code in _TRANSPORT_CODES:
                    raise  # the hub's to handle: reconnect, retry, explain
                return _Refused(exc)

        if self._per_user(server):
            outcome: T | _Refused = await self._user_request(server, method, guarded, target, arguments)
        else:
            outcome = await self.hub.request(
                server,
                method,
                target,
                guarded,
                arguments,
                failure=lambda r: r.error if isinstance(r, _Refused) else None,
            )
        if isinstance(outcome, _Refused):
            error = outcome.error.error
            data = error.data
            if self.names.prefix and isinstance(data, dict) and isinstance(data.get("uri"), str):
                data = {**data, "uri": self.names.uri(server, data["uri"])}
            raise MCPError(error.code, error.message, data)
        return outcome

    def _relay(self, server: str, result: T) -> T:
        """An upstream's result as the gateway's: the upstream's ``serverInfo`` stamp left out (the
        gateway stamps its own), and resource URIs inside it (resource links, embedded resources,
        read contents) in the gateway's form, so that the client can read them back through it."""
        model: Any = result
        meta = getattr(model, "meta", None)
        if isinstance(meta, dict) and types.SERVER_INFO_META_KEY in meta:
            rest = {k: v for k, v in meta.items() if k != types.SERVER_INFO_META_KEY}
            result = model = model.model_copy(update={"meta": rest or None})
        if not self.names.prefix:
            return result
        if isinstance(result, types.ReadResourceResult):
            contents = [c.model_copy(update={"uri": self.names.uri(server, c.uri)}) for c in model.contents]
            return result.model_copy(update={"contents": contents})
        if isinstance(result, types.CallToolResult):
            content = [self._map_block(server, b) for b in model.content]
            if all(new is old for new, old in zip(content, model.content, strict=True)):
                return result  # nothing to map (the common case): no copy
            return result.model_copy(update={"content": content})
        if isinstance(result, types.GetPromptResult):
            messages = [m.model_copy(update={"content": self._map_block(server, m.content)}) for m in model.messages]
            return result.model_copy(update={"messages": messages})
        return result

    def _map_block(self, server: str, block: Any) -> Any:
        if isinstance(block, types.ResourceLink):
            return block.model_copy(update={"uri": self.names.uri(server, block.uri)})
        if isinstance(block, types.EmbeddedResource):
            inner = block.resource.model_copy(update={"uri": self.names.uri(server, block.resource.uri)})
            return block.model_copy(update={"resource": inner})
        return block


#: Errors that say the connection failed, not that the upstream refused the request.
_TRANSPORT_CODES = frozenset({types.CONNECTION_CLOSED, types.REQUEST_TIMEOUT, types.INVALID_REQUEST})


@dataclass(frozen=True)
class _Refused:
    error: MCPError


class _LoginNeeded(Exception):
    """An upstream needs a login the client did not do: ``message`` says what to run."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _principal(ctx: ServerRequestContext[Any, Any]) -> str | None:
    """The user a ``requestState`` is bound to (``None`` over stdio or without a guard)."""
    user = user_of_request(ctx.request)
    return user.key if user is not None else None


def _connection_of(ctx: ServerRequestContext[Any, Any]) -> object:
    """The client connection a request came on: its subscriptions are that connection's.

    The SDK builds a ``ServerSession`` per request and keeps the connection (one per client) in it
    without exposing it on the request context (SDK 2.3.0); the session stands in without it.
    """
    return getattr(ctx.session, "_connection", None) or ctx.session


def _tool_error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=message)], is_error=True)
