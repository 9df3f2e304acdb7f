"""Configured the OpenTelemetry way: ``opentelemetry-instrument`` reads the ``OTEL_*`` variables,
the installed mcpconnect-otel is loaded by the CLI as an observer, and the console exporter prints
the spans and metrics of one ``mcpconnect call``: ours, the MCP SDK's own under them, and the
server's view of the propagated trace context."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TRACED = str(Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "traced_server.py")


def _objects(text: str) -> list[dict]:
    """The console exporter prints JSON objects one after another."""
    decoder, at, out = json.JSONDecoder(), 0, []
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return out
        obj, at = decoder.raw_decode(text, at)
        out.append(obj)


def test_opentelemetry_instrument_exports_a_call_with_its_trace(tmp_path):
    instrument = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))
    if instrument is None:
        message = "opentelemetry-instrument (opentelemetry-distro) is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    (tmp_path / "mcpconnect.toml").write_text(
        f"[storage]\nbackend = 'memory'\n\n[servers.t]\ncommand = {sys.executable!r}\nargs = [{TRACED!r}]\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCPCONNECT_", "OTEL_"))}
    env.update(
        HOME=str(tmp_path),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        OTEL_SERVICE_NAME="mcpconnect-under-test",
        OTEL_TRACES_EXPORTER="console",
        OTEL_METRICS_EXPORTER="console",
        OTEL_LOGS_EXPORTER="none",
    )
    done = subprocess.run(
        [
            instrument,
            sys.executable,
            "-c",
            "from mcpconnect._cli import main; main()",
            "call",
            "t",
            "traced",
            "--args",
            '{"secret_word": "never-exported"}',
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    objects = _objects(done.stdout)
    seen = next(o for o in objects if "meta_keys" in o)  # the tool's result: what the server received
    spans = {o["name"]: o for o in objects if "context" in o and "name" in o}
    ours = spans["tools/call traced"]
    sdk = spans["MCP send tools/call traced"]
    assert ours["resource"]["attributes"]["service.name"] == "mcpconnect-under-test"
    assert ours["attributes"]["gen_ai.tool.name"] == "traced"
    assert sdk["parent_id"] == ours["context"]["span_id"]  # the SDK's client span is under ours
    assert seen["trace_id"] == ours["context"]["trace_id"].removeprefix("0x")  # the server joined
    assert seen["parent_span_id"] == sdk["context"]["span_id"].removeprefix("0x")
    assert "mcpconnect.connect t" in spans
    metric_names = {
        m["name"]
        for o in objects
        for r in o.get("resource_metrics", [])
        for s in r["scope_metrics"]
        for m in s["metrics"]
    }
    assert {"mcpconnect.requests", "mcp.client.operation.duration", "mcpconnect.server.state"} <= metric_names
    exported = [o for o in objects if o is not seen]
    assert "never-exported" not in json.dumps(exported)  # only in the tool's own result


def test_a_call_through_serve_is_one_trace_from_the_gateway_to_the_upstream(tmp_path):
    """``mcpconnect serve --transport http`` under ``opentelemetry-instrument``: one tool call of an
    SDK client through the gateway is one trace, from the gateway's request span to the upstream,
    which received the gateway's ``traceparent`` and joined that trace."""
    import signal
    import time

    import anyio
    import httpx
    from mcp import Client

    from mcpconnect.testing._transport_contract import free_port

    instrument = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))
    if instrument is None:
        message = "opentelemetry-instrument (opentelemetry-distro) is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    (tmp_path / "mcpconnect.toml").write_text(
        f"[storage]\nbackend = 'memory'\n\n[servers.t]\ncommand = {sys.executable!r}\nargs = [{TRACED!r}]\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCPCONNECT_", "OTEL_"))}
    env.update(
        HOME=str(tmp_path),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        OTEL_SERVICE_NAME="gateway-under-test",
        OTEL_TRACES_EXPORTER="console",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
    )
    port = free_port()
    argv = [instrument, sys.executable, "-c", "from mcpconnect._cli import main; main()"]
    serve = subprocess.Popen(
        [*argv, "serve", "--transport", "http", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # only so that a hang fails
        while True:
            assert serve.poll() is None, serve.stderr.read() if serve.stderr else ""
            assert time.monotonic() < deadline, "serve did not start"
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)

        async def call() -> dict:
            async with Client(f"{base}/mcp") as client:
                result = await client.call_tool("t__traced", {"secret_word": "never-exported"})
                return result.structured_content or json.loads(result.content[0].text)

        seen = anyio.run(call)
    finally:
        serve.send_signal(signal.SIGTERM)
        out, err = serve.communicate(timeout=30)
    assert serve.returncode == 0, err
    spans = {o["name"]: o for o in _objects(out) if "context" in o and "name" in o}
    ours = spans["tools/call traced"]  # the gateway's request to the upstream
    assert ours["resource"]["attributes"]["service.name"] == "gateway-under-test"
    assert seen["traceparent"], seen  # the upstream received trace context
    assert seen["trace_id"] == ours["context"]["trace_id"].removeprefix("0x")  # and joined our trace
    assert "never-exported" not in out
