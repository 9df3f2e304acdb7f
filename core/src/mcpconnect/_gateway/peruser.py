"""Per-user upstreams (``[servers.NAME] tokens = "per_user"``): each gateway user's own login.

A call by user U to such a server goes over a connection of its own, made on U's first call and
closed after it has been idle for a while, whose requests carry U's token (from
:meth:`TokenManager.get_token` with ``user``, refreshed once per user across replicas). Nothing falls
back to the shared token: a user who has not connected the upstream gets an error naming
``<public_url>/connect/SERVER``, where they connect it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from mcpconnect._logs import register_secret
from mcpconnect._serverauth import OAuthBearerAuth, require_secure_url
from mcpconnect._servers.connection import ConnectOptions, ServerConnection, ServerState, ServerStatus
from mcpconnect.auth._errors import IdTokenError, NeedsLoginError
from mcpconnect.auth._flows import AuthorizationRequest
from mcpconnect.auth._manager import TokenManager, token_manager
from mcpconnect.errors import AuthError, ConfigError, MCPConnectError, TransportError
from mcpconnect.storage._store import user_principal

if TYPE_CHECKING:
    from mcpconnect._config import Config, ServerConfig
    from mcpconnect._gateway.resource import User
    from mcpconnect._runtime import Runtime
    from mcpconnect.tokens import Token

__all__ = [
    "IDLE_TIMEOUT",
    "NotConnected",
    "UserConnections",
    "check_per_user",
    "connect_url",
    "per_user_servers",
]

log = logging.getLogger("mcpconnect.gateway")
T = TypeVar("T")

#: Seconds a user's upstream connection may stay unused before it is closed.
IDLE_TIMEOUT = 300.0
CONNECT_PATH = "/connect"


def per_user_servers(config: Config, servers: list[str] | tuple[str, ...]) -> list[str]:
    """The servers among ``servers`` whose tokens are each user's own."""
    return [name for name in servers if config.servers[name].tokens == "per_user"]


def check_per_user(config: Config, servers: list[str] | tuple[str, ...], transport: str) -> None:
    """Refuse (exit 2, naming the key) to serve a per-user server where there are no users: over
    stdio, or over HTTP without ``[gateway] authorization_server`` (and ``public_url``, for the link),
    or without ``[gateway] sign_in_provider`` (with which /connect checks who opens the link)."""
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
        sign_in = config.gateway.sign_in_provider
        if not sign_in:
            raise ConfigError(
                f"server '{name}' has tokens = \"per_user\", which needs [gateway] sign_in_provider: the "
                "[providers.NAME] (an OpenID Connect client of authorization_server, with public_url + "
                "/connect/callback as a redirect URI) with which a browser proves who it is before connecting "
                "an upstream account at /connect",
                key="gateway.sign_in_provider",
            )
        if sign_in not in config.providers:
            raise ConfigError(
                f"[gateway] sign_in_provider names '{sign_in}', which is not configured; add [providers.{sign_in}] "
                f'with type = "oidc" and issuer = "{config.gateway.authorization_server}"',
                key="gateway.sign_in_provider",
            )


def connect_url(config: Config, server: str) -> str:
    """Where a user connects their own login of ``server``: ``<public_url>/connect/SERVER``."""
    from urllib.parse import quote

    base = (config.gateway.public_url or "").rstrip("/")
    return f"{base}{CONNECT_PATH}/{quote(server, safe='')}"


class NotConnected(TransportError):
    """The user has no (usable) login of a per-user server; the message carries the link."""


class _UserConnection(ServerConnection):
    """A connection to a per-user server that authenticates as one user only."""

    def __init__(
        self, name: str, server: ServerConfig, runtime: Runtime, options: ConnectOptions, auth: OAuthBearerAuth
    ) -> None:
        super().__init__(name, server, runtime, options)
        self._auth = auth

    async def credentials(self) -> tuple[Any, dict[str, str]]:
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
        self.flows = ConnectFlows(runtime)

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

    def open_connections(self, server: str) -> int:
        """How many users have a connection to ``server`` open now."""
        return sum(1 for (name, _) in self._held if name == server)

    def statuses(self, servers: list[str] | tuple[str, ...]) -> list[ServerStatus]:
        """The per-user servers among ``servers``, ready once this gateway holds their connections
        (each user's is made, and fails or not, on that user's call: no shared state to wait for)."""
        ready = self._started.is_set()
        out = []
        for name in per_user_servers(self.runtime.config, servers):
            server = self.runtime.config.servers[name]
            state = ServerState.READY if ready else ServerState.STARTING
            out.append(ServerStatus(name, server.transport or "auto", state))
        return out

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
                    auth = OAuthBearerAuth(self.manager(), provider, token.account, user=user.key)
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

    async def tools(self, server: str, user: User) -> list[Any]:
        """``user``'s tool list of ``server`` (their connection's)."""
        connection = await self.connection(server, user)
        try:
            return list(await connection.tools())
        except TransportError:
            await self.check_login(server, user)  # no usable login: say how to connect instead
            raise

    async def request(
        self,
        server: str,
        user: User,
        method: str,
        target: str | None,
        call: Callable[[Any, Any], Awaitable[T]],
        arguments: Any = None,
    ) -> T:
        """``call(client, meta)`` on ``user``'s connection to ``server``, seen by observers as a
        request operation whose ``user`` is the store's digest of the user (never a token)."""
        connection = await self.connection(server, user)
        host = self.runtime.host
        operation = host.start_operation(
            "request",
            server=server,
            method=method,
            target=target,
            transport=connection.transport,
            protocol_version=connection.protocol_version,
            arguments=arguments,
            user=user_principal(user.key),
        )
        meta = dict(operation.meta) if operation is not None and operation.meta else None
        what = f"{method} '{target}'" if target is not None else method
        try:
            result = await connection.request(what, lambda client: call(client, meta))
        except TransportError as exc:
            host.finish_operation(operation, exc)
            await self.check_login(server, user)  # no usable login: say how to connect instead
            raise
        except BaseException as exc:
            host.finish_operation(operation, exc)
            raise
        error = getattr(result, "error", None)
        if isinstance(error, BaseException):  # the upstream's own JSON-RPC error, passed through
            host.finish_operation(operation, error, transport=connection.transport)
        else:
            tool_error = getattr(result, "is_error", False) is True
            host.finish_operation(
                operation, outcome="tool_error" if tool_error else None, transport=connection.transport
            )
        return result

    async def check_login(self, server: str, user: User) -> None:
        """Raise :class:`NotConnected` when ``user`` has no usable login of ``server`` (after a
        failed request: say so rather than the transport's error)."""
        provider = self.runtime.config.servers[server].auth_provider
        if provider is not None:
            await self._token(server, provider, user)

    async def _token(self, server: str, provider: str, user: User) -> Token:
        try:
            return await self.manager().get_token(provider, user=user.key)
        except NeedsLoginError as exc:
            raise await self.not_connected(server, provider, user, str(exc)) from None

    async def not_connected(self, server: str, provider: str, user: User, why: str | None = None) -> NotConnected:
        link = await self.flows.link(server, user)
        wait = CONNECT_WAIT if self.flows._signs_in(user.key) else KEY_CONNECT_WAIT
        reason = f" ({why})" if why else ""
        return NotConnected(
            f"server '{server}': your {provider} account is not connected to this gateway{reason}; open {link} "
            f"to connect it (the link is yours alone and works once, for {wait / 60:.0f} minutes), "
            "then call again"
        )

    async def has_login(self, server: str, user: User) -> bool:
        """Whether ``user`` has a stored login for ``server`` (listings show its names then)."""
        provider = self.runtime.config.servers[server].auth_provider
        if provider is None:
            return False
        try:
            await self.manager().stored(provider, user=user.key)
        except NeedsLoginError:
            return False
        return True


#: Seconds a connect link, and each step of the login it starts, stay valid.
CONNECT_WAIT = 600.0
#: Seconds a connect link made for a static-key user stays valid: nothing but the link stands
#: for such a user (no sign-in can prove who opens it), so it lives shorter.
KEY_CONNECT_WAIT = 300.0
CALLBACK_PATH = CONNECT_PATH + "/callback"
#: The cookie that binds a connect login to the browser that opened the link.
BROWSER_COOKIE = "mcpconnect_connect"

_TICKET, _SIGN_IN, _UPSTREAM = "connect-ticket", "connect-sign-in", "connect-upstream"


@dataclass(frozen=True)
class Page:
    """What a ``/connect`` route answers: a page (``text``), or a redirect (``location``);
    ``browser`` is set on the first redirect (the cookie binding the login to this browser)."""

    status: int
    text: str = ""
    location: str | None = field(default=None, repr=False)
    browser: str | None = field(default=None, repr=False)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ConnectFlows:
    """``/connect/SERVER``: a user connects their own login of a per-user server in a browser.

    The browser carries no token of the gateway, so the tool error's link carries a ticket: random,
    one use, :data:`CONNECT_WAIT` seconds, bound to the user and the server it was made for. The
    ticket alone does not connect anything for a user of the gateway's authorization server: the
    browser first signs in there (OpenID Connect code flow with PKCE, ``state`` and ``nonce``,
    with ``[gateway] sign_in_provider``), and only a sign-in whose issuer and ``sub`` are the
    ticket's user goes on (else 403). Then the upstream's authorization code flow runs (PKCE,
    ``state``, RFC 9207 ``iss``) with ``<public_url>/connect/callback`` as redirect URI, and the
    token is stored as that user's only. A static-key user has no sign-in: the ticket (shorter,
    :data:`KEY_CONNECT_WAIT`) stands for them.

    Every step is bound to the browser that opened the link (a cookie whose digest each step
    keeps), and tickets and logins in progress live in the token store (keyed by the digest of
    their secret, taken once, with an expiry), so that any replica finishes what another began.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._swept = 0.0

    @property
    def config(self) -> Config:
        return self.runtime.config

    @property
    def callback_url(self) -> str:
        return (self.config.gateway.public_url or "").rstrip("/") + CALLBACK_PATH

    def manager(self) -> TokenManager:
        return token_manager(self.runtime)

    def _signs_in(self, user: str) -> bool:
        """Whether ``user`` (a ``User.key``) is one of the gateway's authorization server's: then
        the browser must sign in as them."""
        issuer = self.config.gateway.authorization_server
        return bool(issuer) and user.startswith(f"{issuer}#")

    async def link(self, server: str, user: User) -> str:
        """A one-use link for ``user`` to connect ``server`` (its ticket is kept in the store)."""
        now = time.time()
        if now - self._swept > CONNECT_WAIT:  # now and then, drop what expired unused
            self._swept = now
            try:
                await self.runtime.store().sweep_flows(now=now)
            except MCPConnectError as exc:
                log.warning("could not sweep expired connect logins: %s", exc)
        ticket = secrets.token_urlsafe(32)
        register_secret(ticket)
        wait = CONNECT_WAIT if self._signs_in(user.key) else KEY_CONNECT_WAIT
        await self.runtime.store().put_flow(
            ticket, {"kind": _TICKET, "user": user.key, "server": server}, expires_at=now + wait
        )
        return f"{connect_url(self.config, server)}?ticket={ticket}"

    async def start(self, server: str, ticket: str) -> Page:
        """Take the link's ticket (once) and send the browser to sign in (or, for a static-key
        user, to the upstream's login); a bad, used or expired link is 400."""
        data = await self.runtime.store().take_flow(ticket) if ticket else None
        if data is None or data.get("kind") != _TICKET or data.get("server") != server:
            return Page(
                400, "this connect link is not valid (used, expired or for another server); call the tool again"
            )
        user = str(data["user"])
        browser = secrets.token_urlsafe(32)
        register_secret(browser)
        try:
            if self._signs_in(user):
                sign_in = self.config.gateway.sign_in_provider
                assert sign_in is not None  # check_per_user refuses to serve without it
                url = await self._begin(_SIGN_IN, sign_in, user, server, browser, scopes=("openid",), nonce=True)
            else:
                url = await self._begin(_UPSTREAM, self._provider(server), user, server, browser)
        except MCPConnectError as exc:
            return self._failed(server, exc)
        return Page(302, location=url, browser=browser)

    def _provider(self, server: str) -> str:
        provider = self.config.servers[server].auth_provider
        assert provider is not None  # the configuration refuses per_user without it
        return provider

    async def _begin(
        self,
        kind: str,
        provider: str,
        user: str,
        server: str,
        browser: str,
        *,
        scopes: tuple[str, ...] | None = None,
        nonce: bool = False,
    ) -> str:
        url, request = await self.manager().start_login(
            provider, redirect_uri=self.callback_url, wait=CONNECT_WAIT, scopes=scopes, nonce=nonce
        )
        record = {
            "kind": kind,
            "user": user,
            "server": server,
            "browser": _digest(browser),
            "request": request.to_dict(),
        }
        await self.runtime.store().put_flow(request.state, record, expires_at=request.expires_at)
        return url

    async def finish(self, params: dict[str, str], browser: str | None) -> Page:
        """The callback (of the sign-in or of the upstream's login), on any replica: take the login
        its ``state`` names (once), check that this browser began it, and go on or store."""
        state = params.get("state", "")
        data = await self.runtime.store().take_flow(state) if state else None
        if data is None or data.get("kind") not in (_SIGN_IN, _UPSTREAM):
            return Page(
                400, "no connect login is waiting for this callback (expired or already used); call the tool again"
            )
        server, user = str(data["server"]), str(data["user"])
        if not browser or not hmac.compare_digest(_digest(browser), str(data.get("browser", ""))):
            return Page(
                403,
                "this connect login was begun in another browser; open the link your client gave you in this browser "
                "(call the tool again for a new one)",
            )
        request = AuthorizationRequest.from_dict(data["request"])
        again = "call the tool again for a new connect link"
        try:
            if data["kind"] == _SIGN_IN:
                signed_in = await self._signed_in(request, params, again)
                if signed_in != user:
                    log.warning("connect of server %s refused: the browser signed in as another user", server)
                    return Page(
                        403,
                        f"this link connects server '{server}' for another user of this gateway than the one you "
                        "signed in as; nothing was connected. Open only a link your own client gave you",
                    )
                url = await self._begin(_UPSTREAM, self._provider(server), user, server, browser)
                return Page(302, location=url)
            await self.manager().finish_login(request, params, user=user, again=again)
        except MCPConnectError as exc:
            return self._failed(server, exc)
        return Page(200, f"connected: your account now serves server '{server}'; return to your client and call again")

    async def _signed_in(self, request: AuthorizationRequest, params: dict[str, str], again: str) -> str:
        """The ``User.key`` the browser signed in as at the gateway's authorization server: its
        ID token's ``iss`` (which must be ``[gateway] authorization_server``) and ``sub``."""
        from mcpconnect._gateway.resource import User  # PyJWT's module: only when someone signs in

        provider, response = await self.manager().exchange_login(request, params, again=again)
        if not response.id_token:
            raise IdTokenError(f"{provider.label}: the sign-in answer has no ID token (is 'openid' allowed?); {again}")
        async with self.manager().http(provider) as http:
            claims = provider.id_token_claims(response.id_token, await provider.endpoints(http))
        if request.nonce is None or not hmac.compare_digest(str(claims.get("nonce", "")), request.nonce):
            raise IdTokenError(f"{provider.label}: the sign-in's ID token does not carry this login's nonce; {again}")
        issuer = self.config.gateway.authorization_server
        if claims.get("iss") != issuer:
            raise IdTokenError(
                f"{provider.label}: the sign-in came from issuer {str(claims.get('iss'))[:100]!r}, not the gateway's "
                f"authorization_server {issuer!r}; point [gateway] sign_in_provider at a client of that issuer"
            )
        return User(str(issuer), str(claims["sub"])).key

    @staticmethod
    def _failed(server: str, exc: Exception) -> Page:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        log.info("connect login of server %s failed: %s", server, why)
        return Page(400, why)


def connect_routes(gateway: Any) -> tuple[list[Any], tuple[str, ...]]:
    """The Starlette routes of ``/connect/SERVER`` and ``/connect/callback`` for ``gateway``, and
    the paths a browser opens without a gateway token (the link's ticket, then a sign-in, stands
    for the user)."""
    from urllib.parse import quote

    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, RedirectResponse, Response
    from starlette.routing import Route

    def flows() -> ConnectFlows | None:
        users = getattr(gateway, "_users", None)
        return users.flows if isinstance(users, UserConnections) else None

    def page(found: Page) -> Response:
        response: Response
        if found.location is not None:
            response = RedirectResponse(found.location, status_code=302, headers={"cache-control": "no-store"})
        else:
            response = PlainTextResponse(
                found.text + "\n", status_code=found.status, headers={"cache-control": "no-store"}
            )
        if found.browser is not None:
            secure = (gateway.hub.runtime.config.gateway.public_url or "").startswith("https:")
            response.set_cookie(
                BROWSER_COOKIE,
                found.browser,
                max_age=int(CONNECT_WAIT) * 2,
                path=CONNECT_PATH,
                secure=secure,
                httponly=True,
                samesite="lax",  # sent on the authorization servers' redirects back (top-level GET)
            )
        return response

    async def start(request: Request) -> Response:
        found = flows()
        server = request.path_params["server"]
        if found is None or server not in found.config.servers or (found.config.servers[server].tokens != "per_user"):
            return page(Page(404, f"no per-user server named {server!r} here"))
        return page(await found.start(server, request.query_params.get("ticket", "")))

    async def callback(request: Request) -> Response:
        found = flows()
        if found is None:
            return page(Page(404, "no per-user server here"))
        params: dict[str, str] = {}
        for key, value in request.query_params.multi_items():
            if key in params:
                return page(Page(400, f"the callback gives {key[:40]!r} twice (possibly forged); call the tool again"))
            params[key] = value
        return page(await found.finish(params, request.cookies.get(BROWSER_COOKIE)))

    routes = [
        Route(CALLBACK_PATH, callback, methods=["GET"]),
        Route(CONNECT_PATH + "/{server}", start, methods=["GET"]),
    ]
    paths = (CALLBACK_PATH, *(f"{CONNECT_PATH}/{quote(name, safe='')}" for name in gateway.names.servers))
    return routes, paths
