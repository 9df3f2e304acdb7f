"""Per-user upstreams (``[servers.NAME] tokens = "per_user"``): each gateway user's own login.

A call by user U to such a server goes over a connection of its own, made on U's first call and
closed after it has been idle for a while, whose requests carry U's token (from
:meth:`TokenManager.get_token_for_user`, refreshed once per user across replicas). Nothing falls
back to the shared token: a user who has not connected the upstream gets an error naming
``<public_url>/connect/SERVER``, where they connect it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import httpx

from mcpconnect._servers.connection import ConnectOptions, ServerConnection, ServerState
from mcpconnect.auth._errors import NeedsLoginError
from mcpconnect.auth._manager import TokenManager, secret_of, token_manager
from mcpconnect.errors import AuthError, ConfigError, TransportError

if TYPE_CHECKING:
    from mcpconnect._config import Config, ServerConfig
    from mcpconnect._gateway.resource import User
    from mcpconnect._runtime import Runtime
    from mcpconnect.tokens import Token

__all__ = [
    "IDLE_TIMEOUT",
    "NotConnected",
    "UserAuth",
    "UserConnections",
    "check_per_user",
    "connect_url",
    "per_user_servers",
]

log = logging.getLogger("mcpconnect.gateway")

#: Seconds a user's upstream connection may stay unused before it is closed.
IDLE_TIMEOUT = 300.0
CONNECT_PATH = "/connect"


def per_user_servers(config: Config, servers: list[str] | tuple[str, ...]) -> list[str]:
    """The servers among ``servers`` whose tokens are each user's own."""
    return [name for name in servers if config.servers[name].tokens == "per_user"]


def check_per_user(config: Config, servers: list[str] | tuple[str, ...], transport: str) -> None:
    """Refuse (exit 2, naming the key) to serve a per-user server where there are no users: over
    stdio, or over HTTP without ``[gateway] authorization_server`` (and ``public_url``, for the link)."""
    for name in per_user_servers(config, servers):
        key = f"servers.{name}.tokens"
        if transport != "http":
            raise ConfigError(
                f"server '{name}' has tokens = \"per_user\", which needs a gateway with users: run "
                "'mcpconnect serve --transport http' with [gateway] authorization_server, or set tokens = \"shared\"",
                key=key,
            )
        if not config.gateway.authorization_server:
            raise ConfigError(
                f"server '{name}' has tokens = \"per_user\", which needs [gateway] authorization_server and "
                "public_url (the gateway must know its users to keep their logins apart); set them, or set "
                'tokens = "shared"',
                key=key,
            )


def connect_url(config: Config, server: str) -> str:
    """Where a user connects their own login of ``server``: ``<public_url>/connect/SERVER``."""
    from urllib.parse import quote

    base = (config.gateway.public_url or "").rstrip("/")
    return f"{base}{CONNECT_PATH}/{quote(server, safe='')}"


class NotConnected(TransportError):
    """The user has no (usable) login of a per-user server; the message carries the link."""


class UserAuth(httpx.Auth):
    """``Authorization`` with one user's token, always valid; a 401 answer refreshes that user's
    token once and retries. Its repr names no user and no token."""

    def __init__(self, manager: TokenManager, user: str, provider: str, account: str) -> None:
        self.manager = manager
        self._user = user
        self.provider = provider
        self.account = account

    def __repr__(self) -> str:
        return f"UserAuth(provider={self.provider!r})"

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("UserAuth needs an httpx.AsyncClient")
        yield request  # pragma: no cover - makes this a generator

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.manager.get_token_for_user(self._user, self.provider, self.account)
        request.headers["Authorization"] = f"{_scheme(token)} {secret_of(token)}"
        response = yield request
        if response.status_code != 401:
            return
        await response.aread()
        fresh = await self.manager.refresh_rejected_for_user(self._user, self.provider, token)
        request.headers["Authorization"] = f"{_scheme(fresh)} {secret_of(fresh)}"
        yield request


def _scheme(token: Token) -> str:
    return "Bearer" if token.token_type.lower() == "bearer" else token.token_type


class _UserConnection(ServerConnection):
    """A connection to a per-user server that authenticates as one user only."""

    def __init__(
        self, name: str, server: ServerConfig, runtime: Runtime, options: ConnectOptions, auth: UserAuth
    ) -> None:
        super().__init__(name, server, runtime, options)
        self._auth = auth

    async def credentials(self) -> tuple[Any, dict[str, str]]:
        from mcpconnect._serverauth import require_secure_url

        require_secure_url(self.name, self.server)  # a user's token never goes over plain http
        return self._auth, {}


@dataclass
class _Held:
    connection: _UserConnection
    last_used: float
    done: anyio.Event


class UserConnections:
    """The per-user upstream connections of one gateway, keyed by (server, user).

    :meth:`run` owns them (each connection's task runs in its task group) and closes those idle for
    ``idle`` seconds; :meth:`connection` returns the caller's, making it on first use.
    """

    def __init__(self, runtime: Runtime, options: ConnectOptions, *, idle: float = IDLE_TIMEOUT) -> None:
        self.runtime = runtime
        self.options = options
        self.idle = idle
        self._held: dict[tuple[str, str], _Held] = {}
        self._lock = anyio.Lock()
        self._tg: anyio.abc.TaskGroup | None = None
        self._started = anyio.Event()
        self.flows = ConnectFlows(self)

    def __len__(self) -> int:
        return len(self._held)

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Hold the connections until cancelled; every ``idle / 4`` seconds close the idle ones."""
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                self._started.set()
                task_status.started()
                while True:
                    await anyio.sleep(max(self.idle / 4, 0.05))
                    self.close_idle()
        finally:
            self._tg = None

    def close_idle(self, now: float | None = None) -> None:
        """Stop the connections unused for ``idle`` seconds (they are made again on the next call)."""
        now = anyio.current_time() if now is None else now
        for key, held in list(self._held.items()):
            if now - held.last_used >= self.idle:
                log.debug("closing the idle per-user connection to server %s", key[0])
                self._drop(key, held)

    def _drop(self, key: tuple[str, str], held: _Held) -> None:
        if self._held.get(key) is held:
            del self._held[key]
        held.connection.stop()

    async def aclose(self) -> None:
        """Stop every connection (the gateway is stopping)."""
        for key, held in list(self._held.items()):
            self._drop(key, held)

    def manager(self) -> TokenManager:
        return token_manager(self.runtime)

    async def connection(self, server: str, user: User) -> ServerConnection:
        """``user``'s ready connection to ``server``: made on first use, made again when the last
        one was lost. Raises :class:`NotConnected` (with the link) when ``user`` has no login."""
        await self._started.wait()
        config = self.runtime.config.servers[server]
        provider = config.auth_provider
        if provider is None:  # pragma: no cover - the configuration refuses it
            raise AuthError(f'server \'{server}\': tokens = "per_user" needs auth = "provider:NAME"')
        key = (server, user.key)
        held = self._live(key)
        if held is None:
            # The login is looked up (and maybe refreshed) outside the lock: no user waits on another's.
            token = await self._token(server, provider, user)
            async with self._lock:
                held = self._live(key)  # another call of this user may have made it meanwhile
                if held is None:
                    auth = UserAuth(self.manager(), user.key, provider, token.account)
                    connection = _UserConnection(server, config, self.runtime, self.options, auth)
                    held = _Held(connection, anyio.current_time(), anyio.Event())
                    self._held[key] = held
                    assert self._tg is not None
                    self._tg.start_soon(self._own, held, name=f"mcpconnect per-user server {server}")
        held.last_used = anyio.current_time()
        await held.connection.wait_settled()
        held.last_used = anyio.current_time()
        return held.connection

    def _live(self, key: tuple[str, str]) -> _Held | None:
        """The connection held for ``key``, unless it was lost or refused (then it is dropped, and
        made afresh: the login may have changed)."""
        held = self._held.get(key)
        if held is not None and held.connection.state in (ServerState.FAILED, ServerState.STOPPED):
            self._drop(key, held)
            return None
        return held

    async def _own(self, held: _Held) -> None:
        try:
            await held.connection.run()
        finally:
            held.done.set()

    async def check_login(self, server: str, user: User) -> None:
        """Raise :class:`NotConnected` when ``user`` has no usable login of ``server`` (after a
        failed request: say so rather than the transport's error)."""
        provider = self.runtime.config.servers[server].auth_provider
        if provider is not None:
            await self._token(server, provider, user)

    async def _token(self, server: str, provider: str, user: User) -> Token:
        try:
            return await self.manager().get_token_for_user(user.key, provider)
        except NeedsLoginError as exc:
            raise self.not_connected(server, provider, user, str(exc)) from None

    def not_connected(self, server: str, provider: str, user: User, why: str | None = None) -> NotConnected:
        link = self.flows.link(server, user)
        reason = f" ({why})" if why else ""
        return NotConnected(
            f"server '{server}': your {provider} account is not connected to this gateway{reason}; open {link} "
            f"to connect it (the link is yours alone and works once, for {CONNECT_WAIT / 60:.0f} minutes), "
            "then call again"
        )

    async def has_login(self, server: str, user: User) -> bool:
        """Whether ``user`` has a stored login for ``server`` (listings show its names then)."""
        provider = self.runtime.config.servers[server].auth_provider
        if provider is None:
            return False
        try:
            await self.manager().stored_for_user(user.key, provider)
        except NeedsLoginError:
            return False
        return True


#: Seconds a connect link, and a connect login it starts, stay valid.
CONNECT_WAIT = 600.0
CALLBACK_PATH = CONNECT_PATH + "/callback"


@dataclass
class _Pending:
    user: str
    server: str
    redirect: anyio.Event
    url: str = ""
    callback: str | None = None
    arrived: anyio.Event | None = None
    done: anyio.Event | None = None
    error: str | None = None


class ConnectFlows:
    """``/connect/SERVER``: a user connects their own login of a per-user server in a browser.

    The browser carries no token of the gateway, so the tool error's link carries a ticket: random,
    one use, :data:`CONNECT_WAIT` seconds, bound to the user and the server it was made for. Opening
    it starts the authorization code flow (PKCE, ``state``, RFC 9207 ``iss``, the same checks as
    ``mcpconnect login --paste``) with ``<public_url>/connect/callback`` as redirect URI; the
    callback's ``state`` finds the login, which stores the token as that user's only.

    Tickets and logins in progress live in this process (a replica answering the callback must be
    the one that sent the browser away: sticky routing, until they move into the store).
    """

    def __init__(self, users: UserConnections) -> None:
        self.users = users
        self._tickets: dict[str, tuple[str, str, float]] = {}
        self._pending: dict[str, _Pending] = {}

    @property
    def callback_url(self) -> str:
        return (self.users.runtime.config.gateway.public_url or "").rstrip("/") + CALLBACK_PATH

    def link(self, server: str, user: User) -> str:
        """A one-use link for ``user`` to connect ``server``."""
        import secrets

        now = anyio.current_time()
        for key, (_, _, expires) in list(self._tickets.items()):
            if expires < now:
                del self._tickets[key]
        ticket = secrets.token_urlsafe(32)
        self._tickets[ticket] = (user.key, server, now + CONNECT_WAIT)
        return f"{connect_url(self.users.runtime.config, server)}?ticket={ticket}"

    def _take(self, ticket: str, server: str) -> str | None:
        found = self._tickets.pop(ticket, None)
        if found is None or found[1] != server or found[2] < anyio.current_time():
            return None
        return found[0]

    async def start(self, server: str, ticket: str) -> tuple[int, str]:
        """``(302, authorization URL)``, or ``(400, why)`` for a bad or used link."""
        user = self._take(ticket, server) if ticket else None
        if user is None:
            return 400, "this connect link is not valid (used, expired or for another server); call the tool again"
        provider = self.users.runtime.config.servers[server].auth_provider
        assert provider is not None
        pending = _Pending(user, server, anyio.Event())
        tg = self.users._tg
        assert tg is not None
        tg.start_soon(self._login, pending, provider)
        await pending.redirect.wait()
        if pending.error is not None:
            return 400, pending.error
        return 302, pending.url

    async def _login(self, pending: _Pending, provider: str) -> None:
        from urllib.parse import parse_qs, urlsplit

        pending.arrived, pending.done = anyio.Event(), anyio.Event()
        state = ""

        async def on_url(url: str) -> None:
            nonlocal state
            state = parse_qs(urlsplit(url).query).get("state", [""])[0]
            self._pending[state] = pending
            pending.url = url
            pending.redirect.set()

        async def read_redirect() -> str:
            assert pending.arrived is not None
            await pending.arrived.wait()
            return pending.callback or ""

        try:
            with anyio.fail_after(CONNECT_WAIT):
                await self.users.manager().login_for_user(
                    pending.user,
                    provider,
                    method="paste",
                    on_url=on_url,
                    read_redirect=read_redirect,
                    redirect_uri=self.callback_url,
                )
        except Exception as exc:  # shown to the user on the callback page; never a secret in it
            pending.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.info("connect login of server %s failed: %s", pending.server, pending.error)
        finally:
            self._pending.pop(state, None)
            pending.redirect.set()
            pending.done.set()

    async def finish(self, query: str, state: str) -> tuple[int, str]:
        """The callback: hand its query to the login it belongs to; ``(200, message)`` once stored."""
        pending = self._pending.get(state)
        if pending is None or pending.arrived is None or pending.done is None:
            return 400, "no connect login is waiting for this callback (expired or already used); call the tool again"
        pending.callback = f"{self.callback_url}?{query}"
        pending.arrived.set()
        await pending.done.wait()
        if pending.error is not None:
            return 400, pending.error
        return (
            200,
            f"connected: your account now serves server '{pending.server}'; return to your client and call again",
        )


def connect_routes(gateway: Any) -> tuple[list[Any], tuple[str, ...]]:
    """The Starlette routes of ``/connect/SERVER`` and ``/connect/callback`` for ``gateway``, and
    the paths a browser opens without a gateway token (the link's ticket or the callback's state
    stands for the user)."""
    from urllib.parse import quote

    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, RedirectResponse, Response
    from starlette.routing import Route

    def flows() -> ConnectFlows | None:
        users = getattr(gateway, "_users", None)
        return users.flows if isinstance(users, UserConnections) else None

    def page(status: int, text: str) -> Response:
        if status == 302:
            return RedirectResponse(text, status_code=302)
        return PlainTextResponse(text + "\n", status_code=status, headers={"cache-control": "no-store"})

    async def start(request: Request) -> Response:
        found = flows()
        server = request.path_params["server"]
        if (
            found is None
            or server not in found.users.runtime.config.servers
            or (found.users.runtime.config.servers[server].tokens != "per_user")
        ):
            return page(404, f"no per-user server named {server!r} here")
        return page(*await found.start(server, request.query_params.get("ticket", "")))

    async def callback(request: Request) -> Response:
        found = flows()
        if found is None:
            return page(404, "no per-user server here")
        return page(*await found.finish(request.url.query, request.query_params.get("state", "")))

    routes = [
        Route(CALLBACK_PATH, callback, methods=["GET"]),
        Route(CONNECT_PATH + "/{server}", start, methods=["GET"]),
    ]
    paths = (CALLBACK_PATH, *(f"{CONNECT_PATH}/{quote(name, safe='')}" for name in gateway.names.servers))
    return routes, paths
