from __future__ import annotations

import sys
from pathlib import Path

import pytest

#: The repository's root: the official plugins' tests share its test machinery.
ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "tests" / "oidc"))

from oidc_fixtures import oidc_server, oidc_server_session  # noqa: E402, F401 - fixtures


@pytest.fixture(autouse=True)
def _isolated(mcpconnect_isolated: Path) -> Path:
    """Every test in a home and working folder of its own (the ``mcpconnect.testing`` pytest
    plugin's fixture): nothing reads or writes the user's real configuration or tokens."""
    return mcpconnect_isolated


class Telemetry:
    """The OpenTelemetry SDK with an in-memory span exporter and metric reader, and
    mcpconnect-otel configured to report to them."""

    def __init__(self, capture_arguments: bool | None = None) -> None:
        import mcpconnect_otel
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.instrumentation = mcpconnect_otel.configure(
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            capture_arguments=capture_arguments,
        )

    def spans(self) -> list:
        return list(self.exporter.get_finished_spans())

    def span(self, name: str):
        found = [s for s in self.spans() if s.name == name]
        assert found, f"no span {name!r}; spans: {[s.name for s in self.spans()]}"
        return found[-1]

    def metrics(self) -> dict[str, list[tuple[dict, object]]]:
        """``{name: [(attributes, value), ...]}``: a sum's or gauge's value, a histogram's count."""
        out: dict[str, list[tuple[dict, object]]] = {}
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        value = getattr(point, "value", None)
                        if value is None:
                            value = point.count
                        out.setdefault(metric.name, []).append((dict(point.attributes), value))
        return out

    def value(self, name: str, **attributes: object) -> object:
        """The one point of ``name`` whose attributes include ``attributes`` (dots as ``__``)."""
        wanted = {k.replace("__", "."): v for k, v in attributes.items()}
        points = [v for a, v in self.metrics().get(name, []) if all(a.get(k) == w for k, w in wanted.items())]
        assert len(points) == 1, f"{name} {wanted}: {self.metrics().get(name)}"
        return points[0]

    def shutdown(self) -> None:
        import mcpconnect_otel

        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()
        mcpconnect_otel.configure()  # back to the (no-op) global providers


@pytest.fixture
def make_otel():
    """``make_otel(capture_arguments=None)``: a fresh :class:`Telemetry`, shut down afterwards."""
    made: list[Telemetry] = []

    def make(capture_arguments: bool | None = None) -> Telemetry:
        made.append(Telemetry(capture_arguments))
        return made[-1]

    yield make
    for telemetry in made:
        telemetry.shutdown()


@pytest.fixture
def otel(make_otel):
    return make_otel()


@pytest.fixture
def host():
    """A plugin host with the stdio transport and mcpconnect-otel registered."""
    import mcpconnect_otel

    from mcpconnect._plugins import PluginHost

    host = PluginHost(load=["stdio"])
    host.register_plugin(mcpconnect_otel, kind="plugin", name="otel")
    return host
