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
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from mcpconnect._redact import safe_url
from mcpconnect._servers.errors import auth_advice, describe, leaf_errors
from mcpconnect._servers.listing import ToolListing
from mcpconnect._servers.status import ConnectOptions, ServerState, ServerStatus
from mcpconnect._servers.streams import first_of, watch_eof
from mcpconnect.errors import ConfigError, MCPConnectError, TransportError, TransportTimeoutError
from mcpconnect.transport import ServerLog, TransportContext

if TYPE_CHECKING:
    from mcp import Client

    from mcpconnect._config import ServerConfig
    from mcpconnect._operations import Operation
    from mcpconnect._runtime import Runtime

__all__ = ["ConnectOptions", "ServerConnection", "ServerState", "ServerStatus"]

log = logging.getLogger("mcpconnect.servers")
T = TypeVar("T")

#: The transports ``transport = "auto"`` tries, in order.
AUTO_ORDER = ("streamable-http", "sse")


class _ConnectFailed(Exception):
    def __init__(
        self, transport: str, message: str, *, auth: bool = False, timeout: bool = False, config: bool = False
    ) -> None:
        super().__init__(message)
        self.transport = transport
        self.message = message
        #: The configuration is at fault (a ${VAR} not set, a store option refused): exit 2.
        self.config = config
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
        self.listing = ToolListing(name, server, options)
        self._changed = anyio.Event()  # set on every state change, then replaced
        self._lost = anyio.Event()
        self._lost_reason = ""
        self._stop = anyio.Event()
        self._retry = anyio.Event()  # cuts the wait before the next attempt short
        self._first_done = anyio.Event()
        self._context: TransportContext | None = None
        self._operation: Operation | None = None  # the connect attempt observers are told about
        self._config_error: ConfigError | None = None  # the last attempt failed on the configuration

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
            tools=len(self.listing.tools) if self.listing.tools is not None else None,
            latency_ms=self.latency_ms,
            error=self.error,
            restarts=self.restarts,
            stderr_tail=tail,
            config_error=self._config_error is not None and self.state is ServerState.FAILED,
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
                self._config_error = ConfigError(exc.message) if exc.config else None
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
                await first_of(self._stop.wait, self._retry.wait)
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
            raise _ConnectFailed(self.transport, self._named(str(exc)), config=isinstance(exc, ConfigError)) from None
        try:
            auth, secret_env = await self.credentials()
        except MCPConnectError as exc:
            raise _ConnectFailed(self.transport, str(exc), config=isinstance(exc, ConfigError)) from None
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
            from mcpconnect._serverauth import server_auth

            return await server_auth(self.name, self.server, self.runtime), {}
        if self.server.token_to_env:
            from mcpconnect._serverauth import server_env_token

            return None, await server_env_token(self.name, self.server, self.runtime)
        return None, {}

    def _effective(self) -> ServerConfig:
        """The configuration with ``${VAR}`` expanded in command, args and url, and a relative
        ``cwd`` resolved against the project file's folder."""
        from mcpconnect._config import expand_vars

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

        from mcpconnect._serverauth import require_secure_url

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
                    watch_eof(streams, self._on_lost),
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
                    self._identify(client)
                    await self.listing.first(client)
                    scope.deadline = math.inf
                    self.latency_ms = round((time.perf_counter() - started) * 1000, 1)
                    self.transport = transport
                    self.client = client
                    ready = True
                    self.runtime.host.finish_operation(
                        self._operation, transport=transport, protocol_version=self.protocol_version
                    )
                    self._config_error = None
                    self._set(ServerState.READY)
                    self._first_done.set()
                    self.runtime.host.server_connected(self.name, transport, self.protocol_version)
                    if restart_attempt:
                        self.restarts += 1
                        self.runtime.host.server_restarted(self.name, restart_attempt)
                    async with anyio.create_task_group() as tg:
                        if self.options.health_interval:
                            tg.start_soon(self._health_loop, client)
                        tg.start_soon(self.listing.refetch_loop, client)
                        await first_of(self._stop.wait, self._lost.wait)
                        tg.cancel_scope.cancel()
                    self.client = None
        except Exception as exc:
            if ready:
                self._on_lost(describe(exc))
                return
            refused = self._refused_status()
            if refused is not None:
                if isinstance(exc, MCPConnectError) or any(isinstance(e, MCPConnectError) for e in leaf_errors(exc)):
                    # The auth layer said what is wrong (not logged in, MCP authorization failed).
                    raise _ConnectFailed(transport, self._message(describe(exc)), auth=True) from None
                raise _ConnectFailed(
                    transport, self._message(auth_advice(self.name, self.server, refused)), auth=True
                ) from None
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

    def _on_lost(self, reason: str) -> None:
        if not self._lost.is_set():
            self._lost_reason = reason
            self._lost.set()

    def _identify(self, client: Client) -> None:
        self.protocol_version = client.protocol_version
        info = client.server_info
        self.server_name = info.name if info else None
        self.server_version = info.version if info else None

    async def _handle_message(self, message: Any) -> None:
        method = getattr(message, "method", None) or getattr(getattr(message, "root", None), "method", None)
        if method == "notifications/tools/list_changed":
            self.listing.changed()
        if self.options.message_handler is not None:
            await self.options.message_handler(message)
        if self.options.on_notification is not None and method is not None:
            await self.options.on_notification(self.name, message)

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
                    if self._config_error is not None and self.state is ServerState.FAILED:
                        raise self._config_error  # what to fix is in the configuration (exit 2)
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
        """The server's tools: the list kept, or fetched now when there is none, it is stale or
        ``refresh`` asks."""
        listing = self.listing
        if listing.tools is None or refresh or listing.stale:
            return await self.request("tools/list", listing.fetch)
        return list(listing.tools)
