"""One server's connection, owned by one long-lived task from start to shutdown.

The owner task opens the transport, runs the MCP handshake (or 2026-07-28 discovery), publishes
the ready client, health-checks it, and when the connection is lost reconnects with exponential
backoff, jitter and a cap. Callers in any task borrow the ready client through :meth:`request`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import random
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from mcpconnect.config.model import table_name
from mcpconnect.errors import MCPConnectError, TransportError, TransportTimeoutError
from mcpconnect.redact import safe_url
from mcpconnect.servers.errors import describe
from mcpconnect.transport import ServerLog, TransportContext

if TYPE_CHECKING:
    from mcp import Client

    from mcpconnect.config import ServerConfig
    from mcpconnect.operations import Operation
    from mcpconnect.runtime import Runtime
    from mcpconnect.servers.cache import DiscoveryCache

__all__ = ["ConnectOptions", "ServerConnection", "ServerState", "ServerStatus"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: The transports ``transport = "auto"`` tries, in order.
AUTO_ORDER = ("streamable-http", "sse")


class ServerState(StrEnum):
    """Where a server's connection stands."""

    STARTING = "starting"
    READY = "ready"
    RESTARTING = "restarting"
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass
class ConnectOptions:
    """How the hub connects: shared by every server."""

    health_interval: float | None = 30.0
    reconnect: bool = True
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    use_cache: bool = True
    cache: DiscoveryCache | None = None
    sampling_callback: Any = None
    elicitation_callback: Any = None
    logging_callback: Any = None
    list_roots_callback: Any = None
    message_handler: Any = None
    client_info: Any = None
    mode: str = "auto"
    on_state: Any = None  # called with each ServerStatus as it changes (live progress)
    on_notification: Any = None  # awaited with (server name, notification) for each server notification


@dataclass
class ServerStatus:
    """A snapshot of one server, as ``hub.servers[name]`` and ``mcpconnect check`` show it."""

    name: str
    transport: str
    state: ServerState
    protocol_version: str | None = None
    server_name: str | None = None
    server_version: str | None = None
    tools: int | None = None
    latency_ms: float | None = None
    error: str | None = None
    restarts: int = 0
    stderr_tail: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.state is ServerState.READY

    def summary(self) -> dict[str, Any]:
        """What ``mcpconnect check --json`` and the dashboard show of it."""
        return {
            "name": self.name,
            "transport": self.transport,
            "ok": self.ok,
            "protocol_version": self.protocol_version,
            "tools": self.tools,
            "latency_ms": self.latency_ms,
            "error": self.error,
        }


class _ConnectFailed(Exception):
    def __init__(self, transport: str, message: str, *, auth: bool = False, timeout: bool = False) -> None:
        super().__init__(message)
        self.transport = transport
        self.message = message
        #: The server did not answer the handshake in time.
        self.timeout = timeout
        #: The server refused the credentials (HTTP 401/403): another transport cannot help.
        self.auth = auth


class ServerConnection:
    """The connection to server ``name``; :meth:`run` is its owner task."""

    def __init__(self, name: str, server: ServerConfig, runtime: Runtime, options: ConnectOptions) -> None:
        self.name = name
        self.server = server
        self.runtime = runtime
        self.options = options
        self.configured_transport = server.transport_name
        self.transport = self.configured_transport
        self.state = ServerState.STARTING
        self.error: str | None = None
        self.protocol_version: str | None = None
        self.server_name: str | None = None
        self.server_version: str | None = None
        self.latency_ms: float | None = None
        self.restarts = 0
        self.log = ServerLog(name)
        self.client: Client | None = None
        self._tools: list[Any] | None = None
        # notifications/tools/list_changed: the list is refetched in the background (the last one
        # known is shown meanwhile); tools() refetches at once while it is stale.
        self._tools_stale = False
        self._refetch = anyio.Event()
        self._changed = anyio.Event()  # set on every state change, then replaced
        self._lost = anyio.Event()
        self._lost_reason = ""
        self._stop = anyio.Event()
        self._retry = anyio.Event()  # cuts the wait before the next attempt short
        self._first_done = anyio.Event()
        self._context: TransportContext | None = None
        self._operation: Operation | None = None  # the connect attempt observers are told about
        from mcpconnect.servers.cache import cache_key

        self._cache_key = cache_key(name, server)

    # -- state ---------------------------------------------------------------------------------

    def status(self) -> ServerStatus:
        tail = self.log.tail(10) if self.state is ServerState.FAILED else []
        return ServerStatus(
            name=self.name,
            transport=self.transport,
            state=self.state,
            protocol_version=self.protocol_version,
            server_name=self.server_name,
            server_version=self.server_version,
            tools=len(self._tools) if self._tools is not None else None,
            latency_ms=self.latency_ms,
            error=self.error,
            restarts=self.restarts,
            stderr_tail=tail,
        )

    def _set(self, state: ServerState, error: str | None = None) -> None:
        self.state = state
        self.error = error
        changed, self._changed = self._changed, anyio.Event()
        changed.set()
        if self.options.on_state is not None:
            try:
                self.options.on_state(self.status())
            except Exception:
                log.exception("on_state callback raised for server %s", self.name)

    async def wait_settled(self) -> None:
        """Until the first connection attempt has succeeded or failed."""
        await self._first_done.wait()

    # -- the owner task ------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, serve, reconnect on loss; return when :meth:`stop` is called."""
        attempt = 0
        connected_before = False
        while not self._stop.is_set():
            self._operation = self.runtime.host.start_operation("connect", server=self.name, transport=self.transport)
            try:
                await self._connect_and_serve(restart_attempt=attempt if connected_before else 0)
                connected_before = True
                attempt = 0
                if self._stop.is_set():
                    break
                reason = self._lost_reason or "the connection was lost"
                error = TransportError(self._message(reason))
                self._set(ServerState.RESTARTING, str(error))
                self.runtime.host.server_failed(self.name, error)
            except _ConnectFailed as exc:
                error = (TransportTimeoutError if exc.timeout else TransportError)(exc.message)
                self.runtime.host.finish_operation(self._operation, error)
                self._set(ServerState.FAILED, exc.message)
                self.runtime.host.server_failed(self.name, error)
            except Exception as exc:
                # A bug here or in a plugin (auth, transport) fails this server only: it never
                # escapes into the hub's task group, where it would hide every other server.
                log.debug("server %s failed", self.name, exc_info=True)
                message = f"server '{self.name}': {describe(exc)}"
                self.runtime.host.finish_operation(self._operation, exc)
                self._set(ServerState.FAILED, message)
                self.runtime.host.server_failed(self.name, TransportError(message))
            except BaseException as exc:  # cancellation: the operation ends, the exception goes on
                self.runtime.host.finish_operation(self._operation, exc)
                raise
            finally:
                self.client = None
                self._first_done.set()
            if not self.options.reconnect or self._stop.is_set():
                break
            attempt += 1
            delay = min(self.options.backoff_cap, self.options.backoff_base * 2 ** (attempt - 1))
            delay *= random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography
            with anyio.move_on_after(delay):
                await _first_of(self._stop.wait, self._retry.wait)
            self._retry = anyio.Event()
        if self.state is not ServerState.FAILED:
            self._set(ServerState.STOPPED, self.error if self.state is ServerState.RESTARTING else None)

    def stop(self) -> None:
        self._stop.set()

    async def reconnect_now(self) -> None:
        """Try again at once instead of after the backoff (a login has just stored a token); returns
        once the attempt has begun, so that :meth:`ready_client` waits for its outcome."""
        with anyio.move_on_after(self.server.timeout):
            # An attempt under way may have begun before the token was stored: let it end first,
            # so that the attempt the caller then waits for is one that reads the new token.
            while self.state in (ServerState.STARTING, ServerState.RESTARTING) and not self._stop.is_set():
                self._retry.set()  # RESTARTING may be the wait before the next attempt: cut it short
                await self._changed.wait()
            if self.state is not ServerState.FAILED:
                return
            self._retry.set()
            while self.state is ServerState.FAILED and not self._stop.is_set():
                await self._changed.wait()

    def _message(self, reason: str) -> str:
        """``server 'x': <reason>`` plus the transport's notes and the stderr tail (the server
        named once, even when ``reason`` already names it)."""
        text = self._named(reason)
        notes = self._context.notes if self._context else []
        extra = [n for n in notes if n not in text]
        if extra:
            text += f" ({'; '.join(extra)})"
        tail = self.log.tail(10)
        if tail:
            text += "\n  stderr (last lines):\n" + "\n".join(f"    {line}" for line in tail)
        return text

    def _named(self, reason: str) -> str:
        """``server 'x': <reason>``, unless ``reason`` names the server already."""
        prefix = f"server '{self.name}'"
        return reason if reason.startswith(prefix) else f"{prefix}: {reason}"

    def _candidates(self) -> tuple[str, ...]:
        if self.transport == "auto":
            return AUTO_ORDER
        return (self.transport,)

    async def _connect_and_serve(self, *, restart_attempt: int) -> None:
        if restart_attempt:
            self._set(ServerState.RESTARTING, self.error)
        else:
            self._set(ServerState.STARTING)
        try:
            effective = self._effective()
        except MCPConnectError as exc:
            raise _ConnectFailed(self.transport, self._named(str(exc))) from None
        try:
            auth, secret_env = await self.credentials()
        except MCPConnectError as exc:
            raise _ConnectFailed(self.transport, str(exc)) from None
        failures: list[_ConnectFailed] = []
        for transport in self._candidates():
            try:
                await self._session(transport, effective, auth, restart_attempt, secret_env)
                return
            except _ConnectFailed as exc:
                if exc.auth:
                    raise  # the server is there and refused us: SSE would be refused the same way
                failures.append(exc)
        if len(failures) == 1:
            raise failures[0]
        both = "; ".join(f"{f.transport}: {f.message.removeprefix(f'server {self.name!r}: ')}" for f in failures)
        raise _ConnectFailed(
            "auto",
            f"server '{self.name}': neither streamable HTTP nor SSE worked at {safe_url(effective.url)} ({both}); "
            "check the URL, or set transport explicitly",
        )

    async def credentials(self) -> tuple[Any, dict[str, str]]:
        """What each connection attempt authenticates with: the :class:`httpx.Auth` of an HTTP
        server and the secret variables of a stdio one (a subclass may give its own: the gateway's
        per-user connections carry one user's token)."""
        if self.server.url:
            from mcpconnect.serverauth import server_auth

            return await server_auth(self.name, self.server, self.runtime), {}
        if self.server.token_to_env:
            from mcpconnect.serverauth import server_env_token

            return None, await server_env_token(self.name, self.server, self.runtime)
        return None, {}

    def _effective(self) -> ServerConfig:
        """The configuration with ``${VAR}`` expanded in command, args and url, and a relative
        ``cwd`` resolved against the project file's folder."""
        from mcpconnect.config import expand_vars

        where = f"servers.{self.name}"
        update: dict[str, Any] = {}
        if self.server.command:
            update["command"] = expand_vars(self.server.command, where=f"{where}.command")
            update["args"] = [expand_vars(a, where=f"{where}.args") for a in self.server.args]
            base = self.runtime.loaded.base_dir
            update["cwd"] = base / self.server.cwd if self.server.cwd else base
        if self.server.url:
            update["url"] = expand_vars(self.server.url, where=f"{where}.url")
        return self.server.model_copy(update=update)

    async def _session(
        self, transport: str, server: ServerConfig, auth: Any, restart_attempt: int, secret_env: dict[str, str]
    ) -> None:
        """Connect over ``transport`` and serve until lost or stopped.

        Raises :class:`_ConnectFailed` when the connection never became ready.
        """
        from mcp import Client

        from mcpconnect.serverauth import require_secure_url

        self._lost = anyio.Event()
        self._lost_reason = ""
        context = TransportContext(
            name=self.name,
            auth=auth,
            log=self.log,
            on_lost=self._on_lost,
            secret_env=secret_env,
            check_url=functools.partial(require_secure_url, self.name, server),
        )
        self._context = context
        try:
            streams = self.runtime.host.build(
                "transport", transport, self.name, server, context, returns=contextlib.AbstractAsyncContextManager
            )
        except MCPConnectError as exc:
            raise _ConnectFailed(transport, self._named(str(exc))) from None
        ready = False
        started = time.perf_counter()
        try:
            with anyio.CancelScope(deadline=anyio.current_time() + self.server.timeout) as scope:
                client = Client(
                    _watch_eof(streams, self._on_lost),
                    mode=self.server.protocol or self.options.mode,
                    read_timeout_seconds=self.server.timeout,
                    sampling_callback=self.options.sampling_callback,
                    elicitation_callback=self.options.elicitation_callback,
                    logging_callback=self.options.logging_callback,
                    list_roots_callback=self.options.list_roots_callback,
                    message_handler=self._handle_message,
                    client_info=self.options.client_info,
                    cache=None,
                )
                async with client:
                    await self._discover(client)
                    scope.deadline = math.inf
                    self.latency_ms = round((time.perf_counter() - started) * 1000, 1)
                    self.transport = transport
                    self.client = client
                    ready = True
                    self.runtime.host.finish_operation(
                        self._operation, transport=transport, protocol_version=self.protocol_version
                    )
                    self._set(ServerState.READY)
                    self._first_done.set()
                    self.runtime.host.server_connected(self.name, transport, self.protocol_version)
                    if restart_attempt:
                        self.restarts += 1
                        self.runtime.host.server_restarted(self.name, restart_attempt)
                    async with anyio.create_task_group() as tg:
                        if self.options.health_interval:
                            tg.start_soon(self._health_loop, client)
                        tg.start_soon(self._refetch_loop, client)
                        await _first_of(self._stop.wait, self._lost.wait)
                        tg.cancel_scope.cancel()
                    self.client = None
        except Exception as exc:
            if ready:
                self._on_lost(describe(exc))
                return
            refused = self._refused_status()
            if refused is not None:
                if isinstance(exc, MCPConnectError) or any(isinstance(e, MCPConnectError) for e in _leaves(exc)):
                    # The auth layer said what is wrong (not logged in, MCP authorization failed).
                    raise _ConnectFailed(transport, self._message(describe(exc)), auth=True) from None
                raise _ConnectFailed(transport, self._message(self._auth_advice(refused)), auth=True) from None
            raise _ConnectFailed(transport, self._message(self._lost_reason or describe(exc))) from None
        if not ready:
            if self._lost_reason:
                raise _ConnectFailed(transport, self._message(self._lost_reason))
            raise _ConnectFailed(
                transport,
                self._message(f"did not answer the MCP handshake within {self.server.timeout:g} s (timeout)"),
                timeout=True,
            )

    def _refused_status(self) -> int | None:
        """401 or 403 when the transport saw the server refuse the credentials, else ``None``."""
        for note in self._context.notes if self._context else []:
            for status in (401, 403):
                if note.startswith(f"HTTP {status} "):
                    return status
        return None

    def _auth_advice(self, status: int) -> str:
        """An authentication error for HTTP ``status``, naming the key to fix."""
        server, key = self.server, table_name("servers", self.name)
        if status == 401:
            what = "authentication failed: the server refused the request (HTTP 401)"
        else:
            what = "authentication failed: the server refused access (HTTP 403: the credentials lack permission)"
        header = next(
            (h for h in server.headers if h.lower() in ("authorization", "x-api-key", "api-key", "cookie")), None
        )
        if server.auth == "token":
            if server.token_env:
                fix = f"check the token in ${server.token_env} (token_env of {key})"
            elif server.token_file:
                fix = f"check the token in {server.token_file} (token_file of {key})"
            else:
                fix = f"check token in {key}"
            if status == 403:
                fix += "; it must be allowed to use this server"
        elif server.auth_provider:
            provider = server.auth_provider
            fix = f"the token of provider '{provider}' was refused; run 'mcpconnect login {provider}'"
            if status == 403:
                fix += " with the scopes this server needs (scopes in [providers." + provider + "])"
        elif server.auth == "mcp":
            fix = f"run 'mcpconnect login {self.name}'"
        elif header is not None:
            fix = f"check headers.{header} in {key}"
        else:
            fix = (
                f'the server needs credentials: set auth = "token" and token_env = "VAR" in {key}, or '
                'auth = "mcp" if it supports MCP authorization'
            )
        return f"{what}; {fix}"

    def _on_lost(self, reason: str) -> None:
        if not self._lost.is_set():
            self._lost_reason = reason
            self._lost.set()

    async def _discover(self, client: Client) -> None:
        self.protocol_version = client.protocol_version
        info = client.server_info
        self.server_name = info.name if info else None
        self.server_version = info.version if info else None
        cache = self.options.cache
        if cache is not None and self.options.use_cache:
            entry = cache.get(self._cache_key)
            if entry is not None and entry.get("protocol_version") == self.protocol_version:
                from mcp_types import Tool

                self._tools = [Tool.model_validate(t) for t in entry.get("tools", [])]
                return
        await self._fetch_tools(client)

    async def _fetch_tools(self, client: Client) -> list[Any]:
        self._tools_stale = False  # a list_changed arriving from now on asks for another fetch
        tools: list[Any] = []
        if client.server_capabilities.tools is not None:
            cursor: str | None = None
            for _ in range(100):  # a paginator that never ends must not hang us
                page = await client.list_tools(cursor=cursor, cache_mode="bypass")
                tools.extend(page.tools)
                cursor = page.next_cursor
                if not cursor:
                    break
        self._tools = tools
        if self.options.cache is not None:
            self.options.cache.put(
                self._cache_key,
                {
                    "server": self.name,
                    "protocol_version": self.protocol_version,
                    "server_info": {"name": self.server_name, "version": self.server_version},
                    "capabilities": client.server_capabilities.model_dump(mode="json", by_alias=True),
                    "tools": [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools],
                },
            )
        return tools

    async def _handle_message(self, message: Any) -> None:
        method = getattr(message, "method", None) or getattr(getattr(message, "root", None), "method", None)
        if method == "notifications/tools/list_changed":
            self._tools_stale = True
            self._refetch.set()  # not fetched here: this handler runs in the session's reader
            if self.options.cache is not None:
                self.options.cache.invalidate(self._cache_key)
        if self.options.message_handler is not None:
            await self.options.message_handler(message)
        if self.options.on_notification is not None and method is not None:
            await self.options.on_notification(self.name, message)

    async def _refetch_loop(self, client: Client) -> None:
        """Fetch the tool list again after each ``notifications/tools/list_changed``."""
        while True:
            await self._refetch.wait()
            self._refetch = anyio.Event()
            if not self._tools_stale:
                continue  # someone fetched it meanwhile
            try:
                with anyio.fail_after(self.server.timeout):
                    await self._fetch_tools(client)
            except Exception as exc:
                # tools() fetches again on the next use; the health check judges the connection.
                log.debug("server %s: refetching the tool list failed: %s", self.name, describe(exc))

    async def _health_loop(self, client: Client) -> None:
        from mcp_types.version import MODERN_PROTOCOL_VERSIONS

        assert self.options.health_interval
        while True:
            await anyio.sleep(self.options.health_interval)
            try:
                with anyio.fail_after(self.server.timeout):
                    if self.protocol_version in MODERN_PROTOCOL_VERSIONS:
                        await client.list_tools(cache_mode="bypass")  # ping is gone at 2026-07-28
                    else:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            await client.send_ping()
            except Exception as exc:
                self._on_lost(f"failed its health check ({describe(exc)})")
                return

    # -- borrowing the client ------------------------------------------------------------------

    async def ready_client(self) -> Client:
        """The connected client; waits (up to the server's timeout) while it is starting or
        restarting."""
        if self.client is not None and self.state is ServerState.READY:
            return self.client  # the common case, without a cancel scope and its timer per call
        with anyio.move_on_after(self.server.timeout):
            while True:
                if self.client is not None and self.state is ServerState.READY:
                    return self.client
                if self.state in (ServerState.FAILED, ServerState.STOPPED) and self._first_done.is_set():
                    raise TransportError(self.error or f"server '{self.name}' is not connected")
                await self._changed.wait()
        raise TransportError(
            f"server '{self.name}' did not become ready in time ({self.state.value}: {self.error or 'no error'})"
        )

    async def request(self, what: str, call: Callable[[Client], Awaitable[T]]) -> T:
        """Run ``call`` with the ready client, translating failures into :class:`TransportError`.

        A ``404 session terminated`` answer re-initializes the session once and retries.
        """
        from mcp.shared.exceptions import MCPError
        from mcp_types import CONNECTION_CLOSED, INVALID_REQUEST, REQUEST_TIMEOUT

        for retry in (False, True):
            client = await self.ready_client()
            try:
                return await call(client)
            except MCPError as exc:
                if self._session_ended(exc.code == INVALID_REQUEST, str(exc)) and not retry:
                    self._on_lost("the server ended the session (HTTP 404); re-initializing")
                    await self._wait_not_ready(client)
                    continue
                if exc.code == CONNECTION_CLOSED:
                    self._on_lost("the server closed the connection")
                    await self._wait_not_ready(client, limit=2.0)
                    reason = self._lost_reason or "the connection closed"
                    raise TransportError(
                        self._message(f"{reason} during {what}; it is being reconnected, call again")
                    ) from None
                if exc.code == REQUEST_TIMEOUT:
                    raise TransportTimeoutError(
                        self._message(f"{what} timed out (timeout); the server may be stuck")
                    ) from None
                raise TransportError(f"server '{self.name}': {what} failed: {exc}") from None
            except TimeoutError:
                raise TransportTimeoutError(self._message(f"{what} timed out (timeout)")) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _session_ended(self, invalid_request: bool, message: str) -> bool:
        """Whether an error means the server forgot our session (HTTP 404 on a live session)."""
        text = message.lower()
        if invalid_request and "session terminated" in text:  # the SDK's stand-in for a bare 404
            return True
        notes = self._context.notes if self._context else []
        return "session" in text and any(n.startswith("HTTP 404") for n in notes)

    async def _wait_not_ready(self, client: Client, limit: float = 5.0) -> None:
        """Until the owner has dropped ``client`` (so the next borrow gets a new one)."""
        with anyio.move_on_after(limit):
            while self.client is client:
                await self._changed.wait()

    async def tools(self, *, refresh: bool = False) -> list[Any]:
        if self._tools is None or refresh or self._tools_stale:
            return await self.request("tools/list", self._fetch_tools)
        return list(self._tools)


@contextlib.asynccontextmanager
async def _watch_eof(transport: Any, on_lost: Callable[[str], None]) -> AsyncIterator[tuple[Any, Any]]:
    """The transport's streams, its read stream watched: when it ends, the connection is lost.

    Transports that cannot tell (the SDK's SSE client) still get their owner to reconnect.
    """
    async with transport as (read_stream, write_stream):
        yield _EofWatch(read_stream, on_lost), write_stream


def _default_result_type(item: Any) -> None:
    """SEP-2322: a result without ``resultType`` is a complete one.

    mcp 2.3.0 rejects such a result on 2026-07-28 sessions instead of defaulting it (the
    conformance scenario ``sep-2322-client-request-state`` sends one); on earlier sessions the SDK
    drops the field again, as it belongs to a later revision.
    """
    from mcp_types.jsonrpc import JSONRPCResponse

    message = getattr(item, "message", None)
    if isinstance(message, JSONRPCResponse) and isinstance(message.result, dict):
        message.result.setdefault("resultType", "complete")


class _EofWatch:
    """A read stream that reports its end (the SDK's ``ReadStream`` protocol)."""

    def __init__(self, stream: Any, on_lost: Callable[[str], None]) -> None:
        self._stream = stream
        self._on_lost = on_lost

    @property
    def last_context(self) -> Any:
        return getattr(self._stream, "last_context", None)

    async def receive(self) -> Any:
        try:
            item = await self._stream.receive()
        except anyio.EndOfStream:
            self._on_lost("the server closed the connection")
            raise
        _default_result_type(item)
        return item

    def __aiter__(self) -> _EofWatch:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def __aenter__(self) -> _EofWatch:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _leaves(exc: BaseException) -> list[BaseException]:
    from mcpconnect.servers.errors import leaf_errors

    return leaf_errors(exc)


async def _first_of(*waits: Callable[[], Awaitable[Any]]) -> None:
    async with anyio.create_task_group() as tg:

        async def one(wait: Callable[[], Awaitable[Any]]) -> None:
            await wait()
            tg.cancel_scope.cancel()

        for wait in waits:
            tg.start_soon(one, wait)
