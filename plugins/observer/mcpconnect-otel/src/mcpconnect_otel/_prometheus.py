"""``GET /metrics`` of ``mcpconnect serve --transport http``: OpenTelemetry's Prometheus reader.

The reader belongs to a meter provider of its own, added beside the one the application (or
``opentelemetry-instrument``) configured, so that an OTLP exporter and a Prometheus scrape see the
same instruments. It registers with ``prometheus_client``'s default registry, whose process and
runtime collectors come along in each scrape. Imported only when ``serve`` asks, and only with the
``prometheus`` extra installed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcpconnect_otel._telemetry import Telemetry

__all__ = ["renderer"]

_lock = threading.Lock()
#: The instrumentation the reader serves, and the reader's provider: one at a time, since each
#: reader registers its collector with the default registry.
_current: tuple[Telemetry, Any] | None = None


def renderer(telemetry: Telemetry, tokens: Sequence[Any]) -> Callable[[str], tuple[bytes, str]] | None:
    """The function rendering ``/metrics`` from ``telemetry``'s instruments (its token gauges
    seeded with ``tokens``), or ``None`` when the exporter is not installed or the
    instrumentation is disabled."""
    global _current
    if not telemetry.enabled:
        return None
    try:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.resources import Resource
        from prometheus_client import REGISTRY
        from prometheus_client.exposition import choose_encoder
    except ImportError:
        return None
    with _lock:
        if _current is None or _current[0] is not telemetry:
            if _current is not None:
                _current[1].shutdown()  # unregisters the previous reader (configure() started over)
            reader = PrometheusMetricReader()
            _current = (telemetry, MeterProvider(metric_readers=[reader], resource=Resource.create(_service())))
        provider = _current[1]
    telemetry.add_meter_provider(provider)
    telemetry.seed_tokens(tokens)

    def render(accept: str) -> tuple[bytes, str]:
        encoder, content_type = choose_encoder(accept)
        return encoder(REGISTRY), content_type

    return render


def _service() -> dict[str, str]:
    """``service.name = mcpconnect`` in ``target_info``, unless the ``OTEL_*`` variables name it."""
    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "")
    return {} if named else {"service.name": "mcpconnect"}
