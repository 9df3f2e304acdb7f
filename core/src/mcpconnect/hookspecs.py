"""Every hook mcpconnect calls. Each docstring is that hook's reference documentation.

Plugins implement hooks with :data:`mcpconnect.hookimpl`::

    from mcpconnect import hookimpl

    @hookimpl
    def register_transports(register):
        register("websocket", WebSocketTransport, requires="url")

A hook implementation may accept any subset of a hook's arguments, so hooks can grow new
arguments without breaking plugins. Registration hooks take a ``register`` callback (the host
can add keyword options to it later); event hooks are notifications whose return value is
ignored. An exception raised by an event hook is logged and never breaks the operation that
fired it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from mcpconnect.operations import Operation
    from mcpconnect.registry import Register

PROJECT = "mcpconnect"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---------------------------------------------------------------------------------------------
# Registration: called once when a plugin is loaded
# ---------------------------------------------------------------------------------------------


@hookspec
def register_auth_providers(register: Register) -> None:
    """Register OAuth providers.

    Call ``register(name, factory, description="...")`` once per provider. ``name`` is what users
    write as ``type`` in ``[providers.NAME]`` (``"github"``); it must equal the entry point's name
    in the ``mcpconnect.auth`` group. ``factory`` is called as ``factory(name, config)``: ``name``
    is the configured provider name (the ``NAME`` of ``[providers.NAME]``; one type may be
    configured several times), ``config`` its validated
    :class:`mcpconnect.config.ProviderConfig`. It returns a
    :class:`mcpconnect.auth.OAuthProvider`, usually an instance of the plugin's subclass, so the
    subclass itself is the factory::

        from mcpconnect import hookimpl
        from mcpconnect.auth import OAuthProvider

        class ExampleProvider(OAuthProvider):
            authorize_url = "https://example.com/oauth/authorize"
            token_url = "https://example.com/oauth/token"
            default_scopes = ("read",)

        @hookimpl
        def register_auth_providers(register):
            register("example", ExampleProvider, description="Example.com")

    Import ``mcpconnect.auth`` inside the entry module freely (it is part of the core); import
    provider SDKs inside methods. See ``docs/oauth.md`` for the whole contract.

    :param register: the registration callback, ``register(name, factory, *, description="")``.
    """


@hookspec
def register_token_stores(register: Register) -> None:
    """Register token storage backends.

    Call ``register(name, factory, description="...")`` once per backend. ``name`` is what users
    write as ``backend`` in ``[storage]`` (``"sqlite"``) and equals the entry point's name in the
    ``mcpconnect.store`` group. ``factory`` is called with the ``[storage]`` table's options (a
    dict, ``backend`` removed) and returns a :class:`mcpconnect.storage.StorageBackend`.

    :param register: the registration callback, ``register(name, factory, *, description="")``.
    """


@hookspec
def register_transports(register: Register) -> None:
    """Register MCP transports.

    Call ``register(name, factory, requires="command" | "url", description="...")`` once per
    transport. ``name`` is what users write as ``transport`` in ``[servers.NAME]``
    (``"streamable-http"``) and equals the entry point's name in the ``mcpconnect.transport``
    group. ``requires`` tells the configuration check whether a server using this transport needs
    a ``command`` (a local process) or a ``url`` (a remote server). ``factory`` is called with the
    server's name, its configuration and a context, and returns an async context manager that
    yields the ``(read_stream, write_stream)`` pair the MCP SDK's session layer expects.

    :param register: the registration callback,
        ``register(name, factory, *, requires="url", description="")``.
    """


# ---------------------------------------------------------------------------------------------
# Token lifecycle events
# ---------------------------------------------------------------------------------------------


@hookspec
def on_token_obtained(provider: str, account: str, token: Any) -> None:
    """A login completed and its token was stored.

    :param provider: the provider's configured name (the ``NAME`` of ``[providers.NAME]``).
    :param account: the stable account id the provider reported.
    :param token: the stored :class:`mcpconnect.tokens.Token`; its repr is redacted, and an
        observer must not log its secret fields.
    """


@hookspec
def on_token_refreshed(provider: str, account: str, token: Any) -> None:
    """A token was refreshed and the new one stored (a rotated refresh token included).

    :param provider: the provider's configured name.
    :param account: the account whose token was refreshed.
    :param token: the new :class:`mcpconnect.tokens.Token`.
    """


@hookspec
def on_token_refresh_failed(provider: str, account: str, error: BaseException, will_retry: bool) -> None:
    """A refresh attempt failed. The stored token was left as it was.

    :param provider: the provider's configured name.
    :param account: the account whose refresh failed.
    :param error: what went wrong (an :class:`mcpconnect.errors.AuthError` or a network error).
    :param will_retry: ``True`` for a transient failure that will be retried with backoff,
        ``False`` when the login needs renewing (``invalid_grant``).
    """


@hookspec
def on_token_revoked(provider: str, account: str, remote: bool) -> None:
    """A login was removed by ``logout``.

    :param provider: the provider's configured name.
    :param account: the account that was logged out.
    :param remote: ``True`` when the provider confirmed the revocation, ``False`` when only the
        local copy was deleted (the provider was down or offers no revocation).
    """


# ---------------------------------------------------------------------------------------------
# Server lifecycle events
# ---------------------------------------------------------------------------------------------


@hookspec
def on_server_connected(server: str, transport: str, protocol_version: str | None) -> None:
    """A server finished its handshake (or stateless discovery) and is ready for calls.

    :param server: the server's configured name.
    :param transport: the transport actually used (``"auto"`` resolves to the one that answered).
    :param protocol_version: the negotiated MCP protocol version.
    """


@hookspec
def on_server_failed(server: str, error: BaseException) -> None:
    """A server could not be started or reached, or its connection was lost.

    :param server: the server's configured name.
    :param error: a :class:`mcpconnect.errors.TransportError` describing what failed.
    """


@hookspec
def on_server_restarted(server: str, attempt: int) -> None:
    """A server's connection was re-established after a failure (a restarted stdio process or a
    re-initialized remote session).

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

    The same :class:`mcpconnect.operations.Operation` object is passed to
    :func:`on_operation_finished` when it ends, in the same task, so an observer may keep its own
    state keyed on it (a span, a context token). For a request, the observer may add entries to
    ``operation.meta``: they are sent to the server as the request's ``params._meta``, which is how
    W3C trace context (``traceparent``) reaches an instrumented server. ``operation.arguments``
    holds the request's arguments: never record them unless the user asked for it.

    When no plugin implements this hook the core creates no ``Operation``, so an installation
    without observers pays nothing for it.

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

    :param operation: the object given to :func:`on_operation_started`, now complete.
    """
