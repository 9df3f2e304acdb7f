"""Operations that take time, as observers see them: connect, request, login, refresh.

The core reports each one twice, through the ``on_operation_started`` and
``on_operation_finished`` hooks, with the same :class:`Operation` object, so that an observer can
open a span at the start and close it at the end (``mcpconnect-otel`` does). When no plugin
implements those hooks the core builds no :class:`Operation` at all.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Operation", "OperationKind", "Outcome", "error_kind"]

OperationKind = Literal["connect", "request", "login", "refresh"]
Outcome = Literal["ok", "error", "tool_error"]


@dataclass(eq=False)
class Operation:
    """One connect, request, login or refresh, from its start to its end.

    Fields the core does not know for a kind stay ``None``. ``arguments`` and ``meta`` belong to
    requests only. An observer must never record ``arguments`` (a tool's arguments may hold
    anything a user typed) unless its user enabled that explicitly; it may add entries to
    ``meta``, which is sent as the request's ``params._meta`` (W3C trace context:
    ``traceparent``, ``tracestate``).
    """

    kind: OperationKind
    #: The server's configured name (connect, request).
    server: str | None = None
    #: The provider's configured name (login, refresh; a server's name under MCP authorization).
    provider: str | None = None
    #: The account id, once known (never a secret).
    account: str | None = None
    #: The MCP method of a request: ``tools/call``, ``resources/read``, ``prompts/get`` (and the
    #: listings ``mcpconnect serve`` reads: ``prompts/list``, ``resources/list``...).
    method: str | None = None
    #: What a request is about: the tool's or prompt's name, or the resource's URI (``None`` for
    #: a listing).
    target: str | None = None
    #: The transport (``"auto"`` until a connection has settled on one).
    transport: str | None = None
    #: The negotiated MCP protocol version (connect, request).
    protocol_version: str | None = None
    #: How a login is made: ``browser``, ``device``, ``client_credentials``, ``mcp``.
    grant: str | None = None
    #: The gateway user a per-user server's request, login or refresh is for (``tokens =
    #: "per_user"``): the SHA-256 (hex) of their issuer and ``sub``, as the token store names them;
    #: never a token. ``None`` for everything shared.
    user: str | None = None
    arguments: Mapping[str, Any] | None = field(default=None, repr=False)
    meta: dict[str, Any] = field(default_factory=dict, repr=False)
    #: Set when the operation ends: ``ok``, ``error``, or ``tool_error`` (the tool ran and
    #: reported a failure: ``CallToolResult.is_error``).
    outcome: Outcome | None = None
    #: The exception that ended it, if any (its message never holds a secret).
    error: BaseException | None = field(default=None, repr=False)
    #: The provider's circuit breaker after a refresh: ``closed``, ``open``, ``half-open``.
    circuit_state: str | None = None
    #: Requests made to the provider by a refresh (0 when its circuit was open).
    attempts: int | None = None
    #: ``time.monotonic()`` at the start; ``duration`` (seconds) is set at the end.
    started: float = field(default_factory=time.monotonic)
    duration: float | None = None

    @property
    def error_kind(self) -> str | None:
        """A short, low-cardinality name for what went wrong (see :func:`error_kind`)."""
        if self.outcome == "tool_error":
            return "tool_error"
        return error_kind(self.error) if self.error is not None else None

    def end(self, error: BaseException | None = None) -> None:
        """Record the end: outcome, error and duration (the core calls this)."""
        self.duration = time.monotonic() - self.started
        if error is not None:
            self.error = error
            self.outcome = "error"
        elif self.outcome is None:
            self.outcome = "ok"


def error_kind(error: BaseException) -> str:
    """``invalid_grant`` (an OAuth error code), ``transient``, ``needs_login``, ``circuit_open``,
    ``timeout``, ``transport``, ``config``, ``plugin``, ``store``, ``auth``, ``cancelled``, or the
    exception's class name for anything else."""
    # Lazy: the auth package imports httpx and pydantic, which an observer-free process skips.
    from mcpconnect.auth._errors import CircuitOpenError, NeedsLoginError, OAuthError, TransientAuthError
    from mcpconnect.errors import AuthError, ConfigError, PluginError, StoreError, TransportError, TransportTimeoutError

    if isinstance(error, OAuthError):
        if error.error:
            return error.error
        if isinstance(error, TransientAuthError):
            return "circuit_open" if isinstance(error, CircuitOpenError) else "transient"
        return "needs_login" if isinstance(error, NeedsLoginError) else "oauth"
    if isinstance(error, TransportError):
        return "timeout" if isinstance(error, TransportTimeoutError) else "transport"
    if isinstance(error, TimeoutError):
        return "timeout"
    for cls, name in ((ConfigError, "config"), (PluginError, "plugin"), (StoreError, "store"), (AuthError, "auth")):
        if isinstance(error, cls):
            return name
    if type(error).__name__ in {"CancelledError", "Cancelled"}:
        return "cancelled"
    return type(error).__qualname__
