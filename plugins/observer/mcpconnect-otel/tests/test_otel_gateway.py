"""mcpconnect-otel through the gateway: a client's tool call is one trace, from the client through
the gateway's request span to the upstream, which receives that trace's ``traceparent``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mcp import Client

from mcpconnect._gateway import open_gateway
from mcpconnect._runtime import Runtime

TRACED = str(Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "traced_server.py")


async def test_a_call_through_the_gateway_is_one_trace_the_upstream_joins(otel, host, mcpconnect_isolated):
    from opentelemetry.trace import SpanKind

    config = {"storage": {"backend": "memory"}, "servers": {"t": {"command": sys.executable, "args": [TRACED]}}}
    runtime = Runtime.build(config, host=host)
    tracer = otel.tracer_provider.get_tracer("the-client")
    try:
        async with (
            open_gateway(runtime, ["t"], cache=False, health_interval=None) as gateway,
            Client(gateway.server) as client,
        ):
            # The client's own span: the SDK sends its traceparent in the request's _meta.
            with tracer.start_as_current_span("client", kind=SpanKind.CLIENT) as client_span:
                result = await client.call_tool("t__traced", {"secret_word": "not-recorded"})
            prompt = await client.get_prompt("t__traced_prompt")
            resource = await client.read_resource("mcpconnect://t/trace://context/x")
    finally:
        await runtime.aclose()
    seen = result.structured_content
    assert seen is not None and not result.is_error

    call = otel.span("tools/call traced")  # the gateway's request span
    trace_id = client_span.get_span_context().trace_id
    assert call.context.trace_id == trace_id  # joined the client's trace
    assert call.parent is not None and call.parent.trace_id == trace_id
    assert dict(call.attributes)["mcpconnect.server"] == "t"
    assert dict(call.attributes)["mcpconnect.outcome"] == "ok"
    # The upstream received the traceparent of that very trace, its parent the gateway's span.
    version, sent_trace, sent_parent, _flags = seen["traceparent"].split("-")
    assert (version, sent_trace, sent_parent) == ("00", format(trace_id, "032x"), format(call.context.span_id, "016x"))
    assert seen["trace_id"] == format(trace_id, "032x")
    # Prompts and resources through the gateway are request spans too, propagated the same way.
    got = otel.span("prompts/get traced_prompt")
    assert json.loads(prompt.messages[0].content.text)["parent_span_id"] == format(got.context.span_id, "016x")
    read = otel.span("resources/read")
    assert json.loads(resource.contents[0].text)["parent_span_id"] == format(read.context.span_id, "016x")
    assert otel.value("mcpconnect.requests", gen_ai__tool__name="traced", mcpconnect__outcome="ok") == 1
