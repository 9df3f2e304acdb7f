"""OpenTelemetry for mcpconnect: a span for each connection, request, login and refresh, W3C trace
context passed to servers in ``params._meta``, and metrics (calls, latency, server state, token
expiry, refreshes and their failures, logins needed, circuit breakers), served as ``/metrics`` by
``mcpconnect serve --transport http`` with the ``prometheus`` extra.

Installed, it observes every hub and token manager through mcpconnect's event hooks and reports to
the global OpenTelemetry providers, so whatever configures those (the application, or
``opentelemetry-instrument`` reading ``OTEL_*`` variables) decides where the data goes. Without an
SDK configured, the OpenTelemetry API does nothing and so does this plugin. The names and
attributes are listed in ``docs/operating.md``.

This entry module imports only mcpconnect and the standard library; OpenTelemetry is imported on
the first event.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from mcpconnect import hookimpl

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mcpconnect import Operation
    from mcpconnect.errors import TransportError
    from mcpconnect.hookspecs import MetricsRenderer
    from mcpconnect.tokens import Token
    from mcpconnect_otel._telemetry import Telemetry

__all__ = ["CAPTURE_ARGUMENTS_ENV", "configure", "telemetry"]

#: ``true`` records each request's arguments on its span (``gen_ai.tool.call.arguments``). Off by
#: default: arguments hold whatever a user or a model typed.
CAPTURE_ARGUMENTS_ENV = "OTEL_INSTRUMENTATION_MCPCONNECT_CAPTURE_ARGUMENTS"

_lock = threading.Lock()
_current: Telemetry | None = None


def configure(
    *, tracer_provider: Any = None, meter_provider: Any = None, capture_arguments: bool | None = None
) -> Telemetry:
    """Start over with these providers (default: the global ones) and return the instrumentation.

    ``capture_arguments`` defaults to the ``OTEL_INSTRUMENTATION_MCPCONNECT_CAPTURE_ARGUMENTS``
    variable. Applications that set up OpenTelemetry themselves need not call this; tests do, to
    pass their in-memory exporter's provider.
    """
    global _current
    from mcpconnect_otel._telemetry import Telemetry

    with _lock:
        _current = Telemetry(tracer_provider, meter_provider, capture_arguments)
        return _current


def telemetry() -> Telemetry:
    """The instrumentation in use, created from the global providers on first use."""
    global _current
    if _current is None:
        from mcpconnect_otel._telemetry import Telemetry

        with _lock:
            if _current is None:
                _current = Telemetry(None, None, None)
    return _current


# -- mcpconnect's hooks: each forwards to the instrumentation -------------------------------------


@hookimpl
def on_operation_started(operation: Operation) -> None:
    telemetry().operation_started(operation)


@hookimpl
def on_operation_finished(operation: Operation) -> None:
    telemetry().operation_finished(operation)


@hookimpl
def on_server_connected(server: str, transport: str, protocol_version: str | None) -> None:
    telemetry().server_state(server, "ready")


@hookimpl
def on_server_failed(server: str, error: TransportError) -> None:
    telemetry().server_failed(server)


@hookimpl
def on_server_restarted(server: str, attempt: int) -> None:
    telemetry().server_restarted(server)


@hookimpl
def on_token_obtained(provider: str, account: str, token: Token) -> None:
    telemetry().token_valid(provider, account, token)


@hookimpl
def on_token_refreshed(provider: str, account: str, token: Token) -> None:
    telemetry().token_valid(provider, account, token)


@hookimpl
def on_token_refresh_failed(provider: str, account: str, error: BaseException, will_retry: bool) -> None:
    telemetry().refresh_failed(provider, account, error, will_retry)


@hookimpl
def on_token_revoked(provider: str, account: str, remote: bool) -> None:
    telemetry().token_gone(provider, account)


@hookimpl
def gateway_metrics(tokens: Sequence[Token]) -> MetricsRenderer | None:
    """``/metrics`` of ``serve --transport http``, with the ``prometheus`` extra installed."""
    from mcpconnect_otel._prometheus import renderer

    return renderer(telemetry(), tokens)
