"""mcpconnect-otel against real servers: spans, trace context in params._meta, request metrics."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mcpconnect

TRACED = str(Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "traced_server.py")
SECRET_ARGUMENT = "hunter2-do-not-record"


def _config(**extra: dict) -> dict:
    return {"servers": {"t": {"command": sys.executable, "args": [TRACED]}, **extra}}


def _every_attribute_value(spans: list) -> str:
    return json.dumps([dict(s.attributes or {}) for s in spans], default=str) + json.dumps(
        [[dict(e.attributes or {}) for e in s.events] for s in spans], default=str
    )


async def test_a_tool_call_is_a_span_and_the_server_joins_its_trace(otel, host):
    from opentelemetry.trace import SpanKind, StatusCode

    tracer = otel.tracer_provider.get_tracer("the-gateway")
    async with mcpconnect.connect(_config(), host=host, cache=False, health_interval=None) as hub:
        # As a gateway would: its own span around the call, current while the hub works.
        with tracer.start_as_current_span("gateway tools/call"):
            result = await hub.call_tool("t", "traced", {"secret_word": SECRET_ARGUMENT})
    seen = result.structured_content
    assert seen is not None

    call = otel.span("tools/call traced")
    gateway = otel.span("gateway tools/call")
    assert call.kind is SpanKind.INTERNAL  # the SDK's "MCP send" span under it is the CLIENT one
    assert call.parent is not None and call.parent.span_id == gateway.context.span_id
    # The server received our traceparent in params._meta and continued that very trace.
    trace_id = format(call.context.trace_id, "032x")
    version, sent_trace, sent_parent, flags = seen["traceparent"].split("-")
    assert (version, sent_trace, sent_parent) == ("00", trace_id, format(call.context.span_id, "016x"))
    assert int(flags, 16) & 1  # sampled
    assert seen["trace_id"] == trace_id
    assert seen["parent_span_id"] == format(call.context.span_id, "016x")

    attributes = dict(call.attributes)
    assert attributes["mcp.method.name"] == "tools/call"
    assert attributes["gen_ai.tool.name"] == "traced"
    assert attributes["gen_ai.operation.name"] == "execute_tool"
    assert attributes["mcpconnect.server"] == "t"
    assert attributes["mcpconnect.transport"] == "stdio"
    assert attributes["network.transport"] == "pipe"
    assert attributes["mcpconnect.outcome"] == "ok"
    assert attributes["mcp.protocol.version"]
    assert "error.type" not in attributes
    assert call.status.status_code is not StatusCode.ERROR

    connect = otel.span("mcpconnect.connect t")
    assert dict(connect.attributes)["mcpconnect.outcome"] == "ok"
    assert dict(connect.attributes)["mcp.protocol.version"] == attributes["mcp.protocol.version"]
    # The argument's value is nowhere: not in an attribute, not in an event.
    assert SECRET_ARGUMENT not in _every_attribute_value(otel.spans())


async def test_resources_prompts_tool_errors_and_unreachable_servers(otel, host):
    from opentelemetry.trace import StatusCode

    config = _config(gone={"command": "no-such-command-mcpconnect"})
    async with mcpconnect.connect(config, host=host, cache=False, reconnect=False, health_interval=None) as hub:
        assert (await hub.call_tool("t", "broken")).is_error
        read = await hub.read_resource("t", "trace://context/x")
        with pytest.raises(mcpconnect.TransportError, match="Unknown resource"):
            await hub.read_resource("t", "trace://context/x?key=sk-live-secret#frag")
        prompt = await hub.get_prompt("t", "traced_prompt")
        with pytest.raises(mcpconnect.TransportError):
            await hub.call_tool("gone", "anything")

    broken = otel.span("tools/call broken")
    assert broken.status.status_code is StatusCode.ERROR
    assert dict(broken.attributes)["error.type"] == "tool_error"
    assert dict(broken.attributes)["mcpconnect.outcome"] == "tool_error"

    resource, refused = [s for s in otel.spans() if s.name == "resources/read"]  # no URI in the name
    assert dict(resource.attributes)["mcp.resource.uri"] == "trace://context/x"
    # A URI's query may hold a key: it is in neither the attributes nor the error's description.
    assert dict(refused.attributes)["mcp.resource.uri"] == "trace://context/x"
    assert refused.status.status_code is StatusCode.ERROR and "Unknown resource" in refused.status.description
    assert "sk-live-secret" not in _every_attribute_value(otel.spans()) + refused.status.description
    # Each request carried its own span's context to the server.
    for span, text in ((resource, read.contents[0].text), (otel.span("prompts/get traced_prompt"), None)):
        if text is not None:
            assert json.loads(text)["parent_span_id"] == format(span.context.span_id, "016x")
    assert json.loads(prompt.messages[0].content.text)["traceparent"].split("-")[2] == format(
        otel.span("prompts/get traced_prompt").context.span_id, "016x"
    )

    failed_connect = otel.span("mcpconnect.connect gone")
    assert failed_connect.status.status_code is StatusCode.ERROR
    assert dict(failed_connect.attributes)["error.type"] == "transport"
    unreachable = otel.span("tools/call anything")
    assert dict(unreachable.attributes)["error.type"] == "transport"

    # Metrics: calls and latency by server, tool and outcome; the servers' states.
    assert otel.value("mcpconnect.requests", gen_ai__tool__name="broken", mcpconnect__outcome="tool_error") == 1
    assert otel.value("mcpconnect.requests", mcp__method__name="resources/read", mcpconnect__outcome="ok") == 1
    assert otel.value("mcpconnect.requests", mcp__method__name="resources/read", mcpconnect__outcome="error") == 1
    assert otel.value("mcp.client.operation.duration", gen_ai__prompt__name="traced_prompt") == 1
    assert otel.value("mcpconnect.requests", mcpconnect__server="gone", error__type="transport") == 1
    assert otel.value("mcpconnect.connect.duration", mcpconnect__server="t", mcpconnect__outcome="ok") == 1
    assert otel.value("mcpconnect.server.state", mcpconnect__server="t", mcpconnect__state="ready") == 1
    assert otel.value("mcpconnect.server.state", mcpconnect__server="t", mcpconnect__state="failed") == 0
    assert otel.value("mcpconnect.server.state", mcpconnect__server="gone", mcpconnect__state="failed") == 1
    # No metric carries a resource URI (unbounded cardinality).
    assert "trace://" not in json.dumps(otel.metrics(), default=str)


async def test_arguments_are_recorded_only_when_enabled(host, make_otel, monkeypatch):
    import mcpconnect_otel

    monkeypatch.setenv(mcpconnect_otel.CAPTURE_ARGUMENTS_ENV, "true")
    otel = make_otel()  # capture_arguments from the variable
    async with mcpconnect.connect(_config(), host=host, cache=False, health_interval=None) as hub:
        await hub.call_tool("t", "traced", {"secret_word": SECRET_ARGUMENT})
    recorded = dict(otel.span("tools/call traced").attributes)["gen_ai.tool.call.arguments"]
    assert json.loads(recorded) == {"secret_word": SECRET_ARGUMENT}


async def test_disabled_the_otel_way_records_nothing(host, make_otel, monkeypatch):
    monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "requests, mcpconnect")
    otel = make_otel()
    async with mcpconnect.connect(_config(), host=host, cache=False, health_interval=None) as hub:
        result = await hub.call_tool("t", "traced", {})
    assert otel.spans() == []
    assert result.structured_content["traceparent"] is None  # nothing was propagated either


async def test_without_an_sdk_the_plugin_adds_nothing_to_requests(host):
    import mcpconnect_otel

    mcpconnect_otel.configure()  # the global providers: the API's no-op ones in this process
    async with mcpconnect.connect(_config(), host=host, cache=False, health_interval=None) as hub:
        result = await hub.call_tool("t", "traced", {})
    assert result.structured_content["traceparent"] is None


def test_the_installed_plugin_is_found_as_an_observer():
    from mcpconnect._plugins import PluginHost

    rows = {r.name: r for r in PluginHost(load=["mcpconnect-otel"]).load_observers()}
    assert rows["otel"].status == "ok", rows["otel"].error
    assert rows["otel"].distribution == "mcpconnect-otel"


def test_importing_the_entry_module_does_not_import_opentelemetry():
    import subprocess

    code = "import sys, mcpconnect_otel; print(any(m.startswith('opentelemetry') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@given(
    st.sampled_from(["https", "file", "trace", "s3"]),
    st.text(alphabet="abcdefgh:", min_size=1, max_size=8),
    st.text(min_size=1, max_size=20),
    st.text(min_size=1, max_size=20),
)
def test_resource_uris_lose_credentials_query_and_fragment(scheme, user, query, fragment):
    from mcpconnect.errors import safe_url

    uri = f"{scheme}://{user}@host.example/path?q={query}#{fragment}"
    safe = safe_url(uri)
    assert "?" not in safe and "#" not in safe and "@" not in safe
    assert safe.startswith(f"{scheme}://") and safe.endswith("/path")
