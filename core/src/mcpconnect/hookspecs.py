"""Every hook mcpconnect calls. Each docstring is that hook's reference documentation.

Plugins implement hooks with :data:`mcpconnect.hookimpl`::

    from mcpconnect import hookimpl


    @hookimpl
    def register_transports(register):
        register("websocket", websocket_transport, requires="url")

A hook implementation may accept any subset of a hook's arguments, so hooks can grow new
arguments without breaking plugins.

There are two kinds of hooks, and four kinds of plugins: an auth provider, token store or
transport plugin implements one registration hook; an observer plugin (entry-point group
``mcpconnect.plugins``) implements event hooks, and may answer the gateway's question
:func:`gateway_metrics`.

Registration hooks are called once for a plugin, when it is loaded: only when the configuration
names one of its entry points (``backend``, ``type``, ``transport``), or for ``mcpconnect plugins
list``. Only that plugin's implementation is called. It receives a ``register`` callback (the
host can add keyword options to it later) and calls it once per thing it provides.

Event hooks are notifications, called synchronously in the task where the event happened, after
it happened; their return value is ignored. Observers are loaded before the first event is
delivered, wherever it fires (the CLI, :func:`mcpconnect.connect`, an application's own
:class:`mcpconnect.Runtime`). Each observer is called on its own, the one loaded last
first (pluggy's order; ``tryfirst``/``trylast`` change it): an exception raised by one is logged
and never reaches the others, nor breaks the login or connection that fired it. An observer must
return quickly (it runs inside the event loop): hand slow work, network calls above all, to a
queue or a thread.

Types for annotating implementations (import them under ``TYPE_CHECKING``): the register
callbacks :class:`RegisterAuthProvider`, :class:`RegisterTokenStore` and
:class:`RegisterTransport`, and the factory types ``AuthProviderFactory``, ``TokenStoreFactory``
and ``TransportFactory`` they take.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol, TypeAlias

import pluggy

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from mcp.client import Transport

    from mcpconnect._config import ProviderConfig, ServerConfig
    from mcpconnect._operations import Operation
    from mcpconnect.auth import OAuthProvider
    from mcpconnect.errors import TransportError
    from mcpconnect.storage import StorageBackend
    from mcpconnect.tokens import Token
    from mcpconnect.transport import TransportContext

    #: ``factory(name, config)``: the configured provider name and its ``[providers.NAME]`` table.
    AuthProviderFactory: TypeAlias = Callable[[str, ProviderConfig], OAuthProvider]
    #: ``factory(**options)``: ``[storage]``'s options as keyword arguments.
    TokenStoreFactory: TypeAlias = Callable[..., StorageBackend]
    #: ``factory(name, server, context)``: the MCP SDK's ``Transport``, an async context manager
    #: yielding ``(read_stream, write_stream)``.
    TransportFactory: TypeAlias = Callable[[str, ServerConfig, TransportContext], Transport]
    #: ``render(accept)``: the metrics as ``(body, content_type)``, ``accept`` being the scraper's
    #: ``Accept`` header (see :func:`gateway_metrics`).
    MetricsRenderer: TypeAlias = Callable[[str], tuple[bytes, str]]

__all__ = ["PROJECT", "RegisterAuthProvider", "RegisterTokenStore", "RegisterTransport", "hookimpl", "hookspec"]

PROJECT = "mcpconnect"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class RegisterAuthProvider(Protocol):
    """The ``register`` callback of :func:`register_auth_providers`."""

    def __call__(self, name: str, factory: AuthProviderFactory, *, description: str = "") -> None: ...


class RegisterTokenStore(Protocol):
    """The ``register`` callback of :func:`register_token_stores`."""

    def __call__(self, name: str, factory: TokenStoreFactory, *, description: str = "") -> None: ...


class RegisterTransport(Protocol):
    """The ``register`` callback of :func:`register_transports`."""

    def __call__(
        self,
        name: str,
        factory: TransportFactory,
        *,
        requires: Literal["command", "url"],
        description: str = "",
    ) -> None: ...


# ---------------------------------------------------------------------------------------------
# Registration: called once, when the plugin is loaded
# ---------------------------------------------------------------------------------------------


@hookspec
def register_auth_providers(register: RegisterAuthProvider) -> None:
    """Register OAuth providers.

    Call ``register(name, factory, description="...")`` once per provider. ``name`` is what users
    write as ``type`` in ``[providers.NAME]`` (``"github"``); it must equal the entry point's name
    in the ``mcpconnect.auth`` group. ``factory`` is called as ``factory(name, config)``: ``name``
    is the configured provider name (the ``NAME`` of ``[providers.NAME]``; one type may be
    configured several times), ``config`` its validated :class:`mcpconnect.ProviderConfig`.
    It returns an :class:`mcpconnect.auth.OAuthProvider`, usually an instance of the plugin's
    subclass, so the subclass itself is the factory. It is called once per configured provider
    and runtime, and by ``mcpconnect config validate``; it must not make network requests.

    Import ``mcpconnect.auth`` in the entry module freely (it is part of the core); import
    provider SDKs inside methods. See ``docs/oauth.md`` for the whole contract, and
    :class:`mcpconnect.testing.ProviderContract` for the tests every provider passes.

    Example::

        from mcpconnect import hookimpl
        from mcpconnect.auth import OAuthProvider


        class AcmeProvider(OAuthProvider):
            authorize_url = "https://id.acme.example/oauth/authorize"
            token_url = "https://id.acme.example/oauth/token"
            default_scopes = ("read",)


        @hookimpl
        def register_auth_providers(register):
            register("acme", AcmeProvider, description="Acme ID (OAuth 2.1)")

    :param register: the registration callback, ``register(name, factory, *, description="")``.
    """


@hookspec
def register_token_stores(register: RegisterTokenStore) -> None:
    """Register token storage backends.

    Call ``register(name, factory, description="...")`` once per backend. ``name`` is what users
    write as ``backend`` in ``[storage]`` (``"sqlite"``) and equals the entry point's name in the
    ``mcpconnect.store`` group. ``factory`` is called with ``[storage]``'s options as keyword
    arguments: every key of the table but ``backend`` and the encryption options, which the core
    handles (``encryption``, ``key_env``, ``key_file``, ``key_keyring``). ``backend = "sqlite"``
    with ``path = "t.db"`` calls ``factory(path="t.db")``; an option it does not take is reported
    to the user with the options it does take. It returns a :class:`mcpconnect.storage.StorageBackend`
    and must not connect or open files yet (``mcpconnect config validate`` builds it too): a
    backend connects on first use. See ``docs/storage.md``, and
    :class:`mcpconnect.testing.StorageBackendContract` for the tests every store passes.

    Example::

        from mcpconnect import hookimpl


        @hookimpl
        def register_token_stores(register):
            def factory(url: str, mount: str = "secret"):
                from mcpconnect_store_vault.backend import VaultBackend  # heavy imports inside

                return VaultBackend(url, mount=mount)

            register("vault", factory, description="HashiCorp Vault KV v2")

    :param register: the registration callback, ``register(name, factory, *, description="")``.
    """


@hookspec
def register_transports(register: RegisterTransport) -> None:
    """Register MCP transports.

    Call ``register(name, factory, requires="command" | "url", description="...")`` once per
    transport. ``name`` is what users write as ``transport`` in ``[servers.NAME]``
    (``"streamable-http"``) and equals the entry point's name in the ``mcpconnect.transport``
    group. ``requires`` tells the configuration check whether a server using this transport needs
    a ``command`` (a local process) or a ``url`` (a remote server, whatever its scheme).

    ``factory`` is called as ``factory(name, server, context)`` for each connection attempt,
    with the server's configured name, its :class:`mcpconnect.ServerConfig` (``${VAR}``
    references expanded) and a :class:`mcpconnect.transport.TransportContext` (the
    ``httpx.Auth`` for HTTP, the stderr log, ``on_lost``, the token environment variables). It
    returns the MCP SDK's ``mcp.client.Transport``: an async context manager (usually an
    ``@asynccontextmanager`` function) that connects on entry and yields ``(read_stream,
    write_stream)``, where ``read_stream`` yields ``mcp.shared.message.SessionMessage`` (or an
    ``Exception`` for a message that could not be read) and ``write_stream`` takes
    ``SessionMessage`` (a pair of anyio memory object streams). Leaving it closes the connection
    and stops any process it started. When the connection ends on its own, call
    ``context.on_lost(reason)``: the hub then reconnects. Calling the factory must not connect
    (``mcpconnect config validate`` calls it and never enters the result). See
    ``docs/writing-transports.md``, and :class:`mcpconnect.testing.TransportContract` for the
    tests every transport passes.

    Example::

        from contextlib import asynccontextmanager

        from mcpconnect import hookimpl


        @asynccontextmanager
        async def websocket_transport(name, server, context):
            from mcpconnect_transport_websocket._client import connect  # heavy imports inside

            async with connect(server.url, on_lost=context.on_lost) as (read_stream, write_stream):
                yield read_stream, write_stream


        @hookimpl
        def register_transports(register):
            register("websocket", websocket_transport, requires="url", description="MCP over WebSocket")

    :param register: the registration callback,
        ``register(name, factory, *, requires, description="")``.
    """


# ---------------------------------------------------------------------------------------------
# Token lifecycle events: fired by the token manager
# ---------------------------------------------------------------------------------------------


@hookspec
def on_token_obtained(provider: str, account: str, token: Token) -> None:
    """A login completed and its token was stored.

    Example::

        @hookimpl
        def on_token_obtained(provider, account):
            audit.info("login %s/%s", provider, account)  # never log the token itself

    :param provider: the provider's configured name (the ``NAME`` of ``[providers.NAME]``).
    :param account: the stable account id the provider reported.
    :param token: the stored :class:`mcpconnect.tokens.Token`; its repr is redacted, and an
        observer must not log its secret fields.
    """


@hookspec
def on_token_refreshed(provider: str, account: str, token: Token) -> None:
    """A token was refreshed and the new one stored (a rotated refresh token included).

    Example::

        @hookimpl
        def on_token_refreshed(provider, token):
            metrics.gauge("token_expires_at", token.expires_at.timestamp(), tags={"provider": provider})

    :param provider: the provider's configured name.
    :param account: the account whose token was refreshed.
    :param token: the new :class:`mcpconnect.tokens.Token`.
    """


@hookspec
def on_token_refresh_failed(provider: str, account: str, error: BaseException, will_retry: bool) -> None:
    """A refresh attempt failed. The stored token was left as it was.

    Example::

        @hookimpl
        def on_token_refresh_failed(provider, account, error, will_retry):
            if not will_retry:
                notify(f"{provider}: {account} must log in again: {error}")

    :param provider: the provider's configured name.
    :param account: the account whose refresh failed.
    :param error: what went wrong (an :class:`mcpconnect.errors.AuthError` or a network error).
    :param will_retry: ``True`` for a transient failure that will be retried with backoff,
        ``False`` when the login needs renewing (``invalid_grant``).
    """


@hookspec
def on_token_revoked(provider: str, account: str, remote: bool) -> None:
    """A login was removed by ``logout``.

    Example::

        @hookimpl
        def on_token_revoked(provider, account, remote):
            if not remote:
                audit.warning("%s/%s deleted locally only; revoke it at the provider", provider, account)

    :param provider: the provider's configured name.
    :param account: the account that was logged out.
    :param remote: ``True`` when the provider confirmed the revocation, ``False`` when only the
        local copy was deleted (the provider was down or offers no revocation).
    """


# ---------------------------------------------------------------------------------------------
# Server lifecycle events: fired by the connection that owns each server
# ---------------------------------------------------------------------------------------------


@hookspec
def on_server_connected(server: str, transport: str, protocol_version: str | None) -> None:
    """A server finished its handshake (or stateless discovery) and is ready for calls.

    Example::

        @hookimpl
        def on_server_connected(server, transport, protocol_version):
            print(f"{server}: up over {transport} ({protocol_version})")

    :param server: the server's configured name.
    :param transport: the transport actually used (``"auto"`` resolves to the one that answered).
    :param protocol_version: the negotiated MCP protocol version.
    """


@hookspec
def on_server_failed(server: str, error: TransportError) -> None:
    """A server could not be started or reached, or its connection was lost.

    Example::

        @hookimpl
        def on_server_failed(server, error):
            alerts.send(f"MCP server {server} is down: {error}")

    :param server: the server's configured name.
    :param error: a :class:`mcpconnect.errors.TransportError` saying what failed, with the
        server's name and what to do (the same text ``mcpconnect check`` shows).
    """


@hookspec
def on_server_restarted(server: str, attempt: int) -> None:
    """A server's connection was re-established after a failure (a restarted stdio process or a
    re-initialized remote session).

    Example::

        @hookimpl
        def on_server_restarted(server, attempt):
            metrics.increment("mcp_restarts", tags={"server": server, "attempt": attempt})

    :param server: the server's configured name.
    :param attempt: the restart attempt number, starting at 1 for each outage.
    """


# ---------------------------------------------------------------------------------------------
# Operation events: the start and end of what takes time, for spans and latency metrics
# ---------------------------------------------------------------------------------------------


@hookspec
def on_operation_started(operation: Operation) -> None:
    """An operation began: a server's connection (``kind == "connect"``), a request to a server
    (``"request"``: a tool call, a resource read, a prompt get), a login (``"login"``) or a token
    refresh (``"refresh"``).

    The same :class:`mcpconnect.Operation` object is passed to
    :func:`on_operation_finished` when it ends, in the same task, so an observer may keep its own
    state keyed on it (a span, a context token). For a request, the observer may add entries to
    ``operation.meta``: they are sent to the server as the request's ``params._meta``, which is how
    W3C trace context (``traceparent``) reaches an instrumented server. ``operation.arguments``
    holds the request's arguments: never record them unless the user asked for it.

    When no plugin implements this hook the core creates no ``Operation``, so an installation
    without observers pays nothing for it.

    Example::

        @hookimpl
        def on_operation_started(operation):
            if operation.kind == "request":
                operation.meta["traceparent"] = current_traceparent()  # the server joins the trace

    :param operation: what is starting; ``kind`` says which fields are set.
    """


@hookspec
def on_operation_finished(operation: Operation) -> None:
    """An operation started with :func:`on_operation_started` ended, successfully or not.

    ``operation.outcome`` is ``"ok"``, ``"error"`` or ``"tool_error"`` (the tool ran and reported
    a failure); ``operation.error`` is the exception and ``operation.error_kind`` a short name for
    it (``invalid_grant``, ``transient``, ``timeout``, ``transport``...); ``operation.duration``
    is in seconds. A refresh also reports ``circuit_state`` and ``attempts``; a connection its
    ``transport`` and ``protocol_version``.

    Example::

        @hookimpl
        def on_operation_finished(operation):
            latency.record(operation.duration, {"server": operation.server, "outcome": operation.outcome})

    :param operation: the object given to :func:`on_operation_started`, now complete.
    """


# ---------------------------------------------------------------------------------------------
# The gateway: asked once by ``mcpconnect serve --transport http`` as it starts
# ---------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def gateway_metrics(tokens: Sequence[Token]) -> MetricsRenderer | None:
    """``mcpconnect serve --transport http`` is starting: return the function that renders this
    process's metrics for ``GET /metrics`` (the Prometheus text format), or ``None``.

    Called once, in the event loop, before the gateway answers its first request; observer plugins
    are loaded by then. The function returned is called for each scrape, in a worker thread, with
    the scraper's ``Accept`` header, and returns ``(body, content_type)``. The gateway serves it
    under the same ``Host`` rule and client-key check as MCP requests; without an answer,
    ``/metrics`` is 404 with a line saying what to install. Stops at the first non-``None``
    result. ``mcpconnect-otel[prometheus]`` implements it with OpenTelemetry's Prometheus reader.

    Example::

        @hookimpl
        def gateway_metrics(tokens):
            from prometheus_client import REGISTRY, generate_latest

            for token in tokens:  # what the store holds: gauges right from the first scrape
                expiry.labels(token.provider, token.account).set(token.expires_at.timestamp())
            return lambda accept: (generate_latest(REGISTRY), "text/plain; version=0.0.4")

    :param tokens: every token the store holds as the gateway starts (each with its ``provider``,
        ``account``, ``expires_at`` and ``needs_login``), so that token gauges are right before any
        refresh; never record their secrets.
    """
