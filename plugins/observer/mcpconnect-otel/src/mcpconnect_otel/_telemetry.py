"""The instruments: spans opened and closed around mcpconnect's operations, and metrics.

Names follow the OpenTelemetry semantic conventions for MCP where they define one
(``mcp.client.operation.duration``, ``mcp.method.name``, ``gen_ai.tool.name``, ``error.type``,
the span name ``{mcp.method.name} {target}``, trace context in ``params._meta``); what they do not
cover is under ``mcpconnect.``. Every instrument is made through the OpenTelemetry API, so any
metric reader (OTLP, the console, the Prometheus exporter) reads the same ones.
"""

from __future__ import annotations

import json
import os
import threading
import weakref
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opentelemetry import context, metrics, propagate, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import SpanKind, Status, StatusCode

from mcpconnect.errors import safe_url

if TYPE_CHECKING:
    from mcpconnect import Operation

SCOPE = "mcpconnect_otel"
VERSION = "0.1.0"

#: Every state a server's gauge reports (1 for the current one, 0 for the others).
SERVER_STATES = ("starting", "ready", "restarting", "failed")
CIRCUIT_STATES = ("closed", "open", "half-open")
#: Seconds: connections and logins last longer than the SDK's default buckets assume.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

#: ``network.transport`` of each mcpconnect transport (semantic conventions: stdio is a pipe).
_NETWORK = {"stdio": "pipe", "sse": "tcp", "streamable-http": "tcp"}
_TARGET_ATTRIBUTE = {"tools/call": "gen_ai.tool.name", "prompts/get": "gen_ai.prompt.name"}


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _first_line(error: BaseException | None) -> str | None:
    if error is None:
        return None
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:300]


class _Instruments:
    """Every instrument, made on one meter (one per meter provider that reads this process)."""

    def __init__(self, meter: Any, state: Telemetry) -> None:
        self.request_duration = meter.create_histogram(
            "mcp.client.operation.duration",
            unit="s",
            description="Duration of each request to an MCP server (tool call, resource read, prompt get)",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.requests = meter.create_counter(
            "mcpconnect.requests", unit="{request}", description="Requests to MCP servers, by server, tool and outcome"
        )
        self.connect_duration = meter.create_histogram(
            "mcpconnect.connect.duration",
            unit="s",
            description="Time to connect to a server (transport, handshake, tool listing)",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.restarts = meter.create_counter(
            "mcpconnect.server.restarts", unit="{restart}", description="Connections re-established after a failure"
        )
        self.logins = meter.create_counter(
            "mcpconnect.logins", unit="{login}", description="Logins, by provider, grant and outcome"
        )
        self.refreshes = meter.create_counter(
            "mcpconnect.token.refreshes", unit="{refresh}", description="Token refreshes, by provider and outcome"
        )
        self.refresh_failures = meter.create_counter(
            "mcpconnect.token.refresh.failures",
            unit="{failure}",
            description="Failed refresh attempts, by provider and reason (retried ones included)",
        )
        self.auth_duration = meter.create_histogram(
            "mcpconnect.auth.duration",
            unit="s",
            description="Duration of logins and refreshes",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        meter.create_observable_gauge(
            "mcpconnect.server.state",
            callbacks=[state.observe_servers],
            unit="",  # a state flag: no unit, so that Prometheus names it without a suffix
            description="1 for each server's last reported state (starting, ready, restarting, failed), 0 otherwise",
        )
        meter.create_observable_gauge(
            "mcpconnect.token.expires_in",
            callbacks=[state.observe_expiry],
            unit="s",
            description="Seconds until each token seen by this process expires (negative once expired)",
        )
        meter.create_observable_gauge(
            "mcpconnect.token.login_needed",
            callbacks=[state.observe_logins_needed],
            unit="{account}",
            description="Accounts whose refresh token was rejected and that need a new login, by provider",
        )
        meter.create_observable_gauge(
            "mcpconnect.provider.circuit.state",
            callbacks=[state.observe_circuits],
            unit="",  # a state flag: no unit, so that Prometheus names it without a suffix
            description="1 for each provider's circuit breaker state (closed, open, half-open), 0 otherwise",
        )


class Telemetry:
    """Spans and metrics for one process. Hook calls come from the event loop; the observable
    gauges are read from the metric reader's thread, so the state they read is locked."""

    def __init__(self, tracer_provider: Any, meter_provider: Any, capture_arguments: bool | None) -> None:
        from mcpconnect_otel import CAPTURE_ARGUMENTS_ENV

        disabled = os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "")
        self.enabled = "mcpconnect" not in {part.strip() for part in disabled.split(",")}
        if capture_arguments is None:
            capture_arguments = _truthy(os.environ.get(CAPTURE_ARGUMENTS_ENV))
        self.capture_arguments = capture_arguments
        self.tracer = trace.get_tracer(SCOPE, VERSION, tracer_provider=tracer_provider)
        meter = metrics.get_meter(SCOPE, VERSION, meter_provider=meter_provider)
        self._lock = threading.Lock()
        self._spans: weakref.WeakKeyDictionary[Operation, tuple[Any, Any]] = weakref.WeakKeyDictionary()
        self._servers: dict[str, str] = {}
        self._connected: set[str] = set()
        self._expiry: dict[tuple[str, str], datetime] = {}
        self._needs_login: dict[tuple[str, str], bool] = {}
        self._circuits: dict[str, str] = {}

        self._instruments = [_Instruments(meter, self)]
        self._providers: list[Any] = [meter_provider]

    # -- spans ---------------------------------------------------------------------------------

    def operation_started(self, op: Operation) -> None:
        if not self.enabled:
            return
        if op.kind == "connect" and op.server:
            self.server_state(op.server, "restarting" if op.server in self._connected else "starting")
        name, kind, attributes = self._describe(op)
        span = self.tracer.start_span(name, kind=kind, attributes=attributes)
        ctx = trace.set_span_in_context(span)
        if op.kind == "request":
            # W3C trace context (and baggage) for the server, as the MCP semantic conventions say.
            carrier: dict[str, str] = {}
            propagate.inject(carrier, context=ctx)
            op.meta.update(carrier)
        # Current while the operation runs, so that what it does (a refresh during a connect, an
        # instrumented HTTP client) nests under it.
        token = context.attach(ctx)
        self._spans[op] = (span, token)

    def operation_finished(self, op: Operation) -> None:
        if not self.enabled:
            return
        entry = self._spans.pop(op, None)
        attributes = self._common(op)
        if op.error_kind:
            attributes["error.type"] = op.error_kind
        self._record_metrics(op, attributes)
        if entry is None:
            return
        span, token = entry
        context.detach(token)  # logs (never raises) if it ended in another context
        for key, value in self._finish_attributes(op).items():
            span.set_attribute(key, value)
        if op.outcome != "ok":
            span.set_status(Status(StatusCode.ERROR, self._description(op)))
        span.end()

    def _description(self, op: Operation) -> str | None:
        """The error's first line, with a resource URI shown as its attribute is."""
        text = _first_line(op.error) or op.error_kind
        if text and op.method == "resources/read" and op.target and not self.capture_arguments:
            text = text.replace(op.target, safe_url(op.target))
        return text

    def _describe(self, op: Operation) -> tuple[str, SpanKind, dict[str, Any]]:
        attributes = self._common(op)
        if op.kind == "request":
            method = op.method or "request"
            if op.method == "resources/read" and op.target:
                # Not in the span name: a URI is high-cardinality.
                attributes["mcp.resource.uri"] = op.target if self.capture_arguments else safe_url(op.target)
                name = method
            else:
                name = f"{method} {op.target}" if op.target else method
            if self.capture_arguments and op.arguments is not None:
                attributes["gen_ai.tool.call.arguments"] = json.dumps(op.arguments, default=str, sort_keys=True)
            # INTERNAL: the MCP SDK opens the CLIENT span ("MCP send ...") of each message, under
            # this one, and a request here may send more than one (a re-initialized session).
            return name, SpanKind.INTERNAL, attributes
        subject = op.server if op.kind == "connect" else op.provider
        return f"mcpconnect.{op.kind} {subject}" if subject else f"mcpconnect.{op.kind}", SpanKind.INTERNAL, attributes

    def _common(self, op: Operation) -> dict[str, Any]:
        """Attributes shared by the span and the metrics: low-cardinality and never secret."""
        out: dict[str, Any] = {}
        if op.server:
            out["mcpconnect.server"] = op.server
        if op.transport:
            out["mcpconnect.transport"] = op.transport
            if op.transport in _NETWORK:
                out["network.transport"] = _NETWORK[op.transport]
        if op.kind == "request":
            if op.method:
                out["mcp.method.name"] = op.method
            target_key = _TARGET_ATTRIBUTE.get(op.method or "")
            if target_key and op.target:
                out[target_key] = op.target
            if op.method == "tools/call":
                out["gen_ai.operation.name"] = "execute_tool"
        if op.protocol_version:
            out["mcp.protocol.version"] = op.protocol_version
        if op.provider:
            out["mcpconnect.provider"] = op.provider
        if op.grant:
            out["mcpconnect.grant"] = op.grant
        if op.outcome:
            out["mcpconnect.outcome"] = op.outcome
        return out

    def _finish_attributes(self, op: Operation) -> dict[str, Any]:
        out = self._common(op)
        if op.error_kind:
            out["error.type"] = op.error_kind
        if op.account:
            out["mcpconnect.account"] = op.account
        if op.circuit_state:
            out["mcpconnect.circuit.state"] = op.circuit_state
        if op.attempts is not None:
            out["mcpconnect.refresh.attempts"] = op.attempts
        return out

    # -- metrics -------------------------------------------------------------------------------

    def _record_metrics(self, op: Operation, attributes: dict[str, Any]) -> None:
        duration = op.duration or 0.0
        if op.kind == "refresh" and op.provider and op.circuit_state:
            with self._lock:
                self._circuits[op.provider] = op.circuit_state
        for meter in self._instruments:
            if op.kind == "request":
                meter.request_duration.record(duration, attributes)
                meter.requests.add(1, attributes)
            elif op.kind == "connect":
                meter.connect_duration.record(duration, attributes)
            elif op.kind == "login":
                meter.logins.add(1, attributes)
                meter.auth_duration.record(duration, {**attributes, "mcpconnect.operation": "login"})
            elif op.kind == "refresh":
                meter.refreshes.add(1, attributes)
                meter.auth_duration.record(duration, {**attributes, "mcpconnect.operation": "refresh"})
                if op.provider and op.error is not None and op.attempts == 0:
                    # The breaker refused before any request: no refresh_failed event reports it.
                    meter.refresh_failures.add(
                        1,
                        {
                            "mcpconnect.provider": op.provider,
                            "error.type": "circuit_open",
                            "mcpconnect.will_retry": False,
                        },
                    )

    def add_meter_provider(self, meter_provider: Any) -> None:
        """Report the metrics to ``meter_provider`` too (``/metrics`` of ``serve``: a Prometheus
        reader beside whatever the application configured). Its gauges report the state kept so
        far; its counters and histograms count from now."""
        with self._lock:
            if any(provider is meter_provider for provider in self._providers):
                return
            self._providers.append(meter_provider)
        meter = metrics.get_meter(SCOPE, VERSION, meter_provider=meter_provider)
        self._instruments.append(_Instruments(meter, self))

    def seed_tokens(self, tokens: Iterable[Any]) -> None:
        """What a store holds at start: each token's expiry, and the accounts that need a login,
        reported before any refresh or login in this process."""
        for token in tokens:
            self.token_valid(token.provider, token.account, token)
            if getattr(token, "needs_login", False):
                with self._lock:
                    self._needs_login[(token.provider, token.account)] = True

    def server_state(self, server: str, state: str) -> None:
        with self._lock:
            self._servers[server] = state
            if state == "ready":
                self._connected.add(server)

    def server_failed(self, server: str) -> None:
        self.server_state(server, "restarting" if self._servers.get(server) == "ready" else "failed")

    def server_restarted(self, server: str) -> None:
        for meter in self._instruments:
            meter.restarts.add(1, {"mcpconnect.server": server})

    def token_valid(self, provider: str, account: str, token: Any) -> None:
        expires_at = getattr(token, "expires_at", None)
        with self._lock:
            self._needs_login[(provider, account)] = False
            if isinstance(expires_at, datetime):
                self._expiry[(provider, account)] = expires_at
            else:
                self._expiry.pop((provider, account), None)

    def token_gone(self, provider: str, account: str) -> None:
        with self._lock:
            self._expiry.pop((provider, account), None)
            self._needs_login.pop((provider, account), None)

    def refresh_failed(self, provider: str, account: str, error: BaseException, will_retry: bool) -> None:
        from mcpconnect import error_kind
        from mcpconnect.auth import NeedsLoginError

        attributes = {
            "mcpconnect.provider": provider,
            "error.type": error_kind(error),
            "mcpconnect.will_retry": will_retry,
        }
        for meter in self._instruments:
            meter.refresh_failures.add(1, attributes)
        if isinstance(error, NeedsLoginError):
            with self._lock:
                self._needs_login[(provider, account)] = True

    def observe_servers(self, _options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            servers = dict(self._servers)
        for server, current in servers.items():
            for state in SERVER_STATES:
                yield Observation(
                    1 if state == current else 0, {"mcpconnect.server": server, "mcpconnect.state": state}
                )

    def observe_expiry(self, _options: CallbackOptions) -> Iterable[Observation]:
        now = datetime.now(UTC)
        with self._lock:
            expiry = dict(self._expiry)
        for (provider, account), expires_at in expiry.items():
            yield Observation(
                round((expires_at - now).total_seconds(), 3),
                {"mcpconnect.provider": provider, "mcpconnect.account": account},
            )

    def observe_logins_needed(self, _options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            flags = dict(self._needs_login)
        counts: dict[str, int] = {}
        for (provider, _account), needed in flags.items():
            counts[provider] = counts.get(provider, 0) + int(needed)
        for provider, count in counts.items():
            yield Observation(count, {"mcpconnect.provider": provider})

    def observe_circuits(self, _options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            circuits = dict(self._circuits)
        for provider, current in circuits.items():
            for state in CIRCUIT_STATES:
                yield Observation(
                    1 if state == current else 0, {"mcpconnect.provider": provider, "mcpconnect.state": state}
                )
