"""``/metrics`` of ``mcpconnect serve --transport http`` (mcpconnect-otel with its ``prometheus``
extra): the real process on a port of the system's choosing, scraped and parsed the way Prometheus
parses it, behind the same Host rule and client keys as ``/mcp``."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from mcp import Client

TRACED = str(Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "traced_server.py")
MCPCONNECT = str(Path(sys.executable).with_name("mcpconnect"))
KEYS_ENV = "MCPCONNECT_H17M_TEST_KEYS"
KEY = "k" * 40


@contextlib.contextmanager
def serve(config: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """``mcpconnect serve --transport http --port 0``; yields its base URL (read from the line it
    prints) once ``/healthz`` says every server has settled."""
    argv = [MCPCONNECT, "--config", str(config), "serve", "--transport", "http", "--port", "0"]
    process = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}, text=True
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def drain() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=drain, daemon=True).start()
    try:
        said: list[str] = []
        base = None
        while base is None:
            line = lines.get(timeout=60)
            if line is None:
                raise AssertionError(f"serve exited ({process.wait()}): {''.join(said)}")
            said.append(line)
            found = re.search(r" at (http://127\.0\.0\.1:\d+)/mcp", line)
            base = found.group(1) if found else None
        deadline = time.monotonic() + 60  # only so that a hang fails instead of blocking
        while httpx.get(f"{base}/healthz").json()["status"] != "ok":
            assert time.monotonic() < deadline, "serve never settled"
            time.sleep(0.05)
        yield base
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def scrape(base: str, **headers: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """``{sample name: [(labels, value), ...]}`` of one scrape, parsed as Prometheus parses it."""
    from prometheus_client.parser import text_string_to_metric_families

    response = httpx.get(f"{base}/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return out


def value(samples: dict, name: str, **labels: str) -> float:
    """The one sample of ``name`` whose labels include ``labels``."""
    found = [v for lab, v in samples.get(name, []) if all(lab.get(k) == w for k, w in labels.items())]
    assert len(found) == 1, f"{name} {labels}: {samples.get(name)}"
    return found[0]


@pytest.mark.node
async def test_metrics_count_calls_and_refreshes_and_show_stored_logins(oidc_server, mcpconnect_isolated):
    from mcpconnect_oidc_server import CONFIDENTIAL_SECRET

    from mcpconnect._runtime import Runtime
    from mcpconnect.auth import TokenManager
    from mcpconnect.auth._headless import follow_authorization

    provider = (
        f'type = "oidc"\nissuer = "{oidc_server.issuer}"\nclient_id = "confidential"\n'
        f'client_secret_env = "MCPCONNECT_H17M_SECRET"\n'
    )
    config = mcpconnect_isolated / "mcpconnect.toml"
    config.write_text(
        f'[storage]\nbackend = "sqlite"\npath = "{mcpconnect_isolated / "tokens.db"}"\n'
        f"[providers.local]\n{provider}[providers.spare]\n{provider}"
        f'[servers.t]\ncommand = "{sys.executable}"\nargs = ["{TRACED}"]\n'
        'auth = "provider:local"\ntoken_to_env = "TRACED_TOKEN"\n'
    )
    env = {"MCPCONNECT_H17M_SECRET": CONFIDENTIAL_SECRET}
    os.environ.update(env)  # the runtime below reads the secret too
    try:
        runtime = Runtime.build(str(config))
        manager = TokenManager(runtime)
        await manager.login("spare", on_url=follow_authorization)  # no server uses it: only the store knows
        await manager.login("local", on_url=follow_authorization)
        stored = await manager.store.get("local", "alice")
        expired = {"expires_at": datetime.now(UTC) - timedelta(seconds=60)}
        await manager.store.put(stored.token.model_copy(update=expired), expected_version=stored.version)
        await runtime.aclose()
    finally:
        for name in env:
            os.environ.pop(name, None)

    with serve(config, env) as base:  # connecting t refreshes local's expired token
        async with Client(f"{base}/mcp") as client:
            result = await client.call_tool("t__traced", {})
            assert not result.is_error
            broken = await client.call_tool("t__broken", {})
            assert broken.is_error
        samples = scrape(base)

    tool = {"mcpconnect_server": "t", "gen_ai_tool_name": "traced"}
    assert value(samples, "mcpconnect_requests_total", **tool, mcpconnect_outcome="ok") == 1
    assert value(samples, "mcpconnect_requests_total", gen_ai_tool_name="broken", mcpconnect_outcome="tool_error") == 1
    assert value(samples, "mcp_client_operation_duration_seconds_count", **tool) == 1
    assert value(samples, "mcpconnect_server_state", mcpconnect_server="t", mcpconnect_state="ready") == 1
    refreshed = {"mcpconnect_provider": "local", "mcpconnect_outcome": "ok"}
    assert value(samples, "mcpconnect_token_refreshes_total", **refreshed) == 1
    assert value(samples, "mcpconnect_provider_circuit_state", mcpconnect_provider="local", mcpconnect_state="closed")
    # Refreshed: local's token now has its new lifetime ahead of it.
    assert value(samples, "mcpconnect_token_expires_in_seconds", mcpconnect_provider="local") > 0
    # Seeded from the store at start: a login no refresh or call has touched.
    assert value(samples, "mcpconnect_token_expires_in_seconds", mcpconnect_provider="spare") > 0
    assert "mcpconnect_token_refresh_failures_total" not in samples
    assert CONFIDENTIAL_SECRET not in str(samples)


def _keyed_config(root: Path) -> Path:
    config = root / "mcpconnect.toml"
    config.write_text(
        f'[storage]\nbackend = "memory"\n[gateway]\napi_keys_env = "{KEYS_ENV}"\n'
        f'[servers.t]\ncommand = "{sys.executable}"\nargs = ["{TRACED}"]\n'
    )
    return config


def test_metrics_need_the_client_key_and_an_allowed_host(mcpconnect_isolated):
    with serve(_keyed_config(mcpconnect_isolated), {KEYS_ENV: KEY}) as base:
        refused = httpx.get(f"{base}/metrics")
        assert refused.status_code == 401
        assert "mcpconnect_" not in refused.text
        assert httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer " + "x" * 40}).status_code == 401
        bearer = {"Authorization": f"Bearer {KEY}"}
        misdirected = httpx.get(f"{base}/metrics", headers={**bearer, "Host": "evil.example:80"})
        assert misdirected.status_code == 421
        assert "mcpconnect_" not in misdirected.text
        samples = scrape(base, **bearer)
        assert value(samples, "mcpconnect_server_state", mcpconnect_server="t", mcpconnect_state="ready") == 1


def test_without_the_plugin_metrics_say_what_to_install(mcpconnect_isolated):
    with serve(_keyed_config(mcpconnect_isolated), {KEYS_ENV: KEY, "MCPCONNECT_DISABLE_PLUGINS": "otel"}) as base:
        missing = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {KEY}"})
    assert missing.status_code == 404
    assert "pip install 'mcpconnect-otel[prometheus]'" in missing.text


def test_the_prometheus_reader_sits_beside_the_configured_provider(otel, host):
    from prometheus_client.parser import text_string_to_metric_families

    from mcpconnect.tokens import Token

    expires = datetime.now(UTC) + timedelta(hours=1)
    stored = [
        Token(provider="h17m-seeded", account="a", access_token="s" * 40, expires_at=expires),
        Token(provider="h17m-seeded", account="b", access_token="t" * 40, needs_login=True),
    ]
    render = host.gateway_metrics(stored)
    assert render is not None
    assert host.gateway_metrics([]) is not None  # asked again: the same reader, nothing counted twice
    op = host.start_operation("request", server="h17m-beside", method="tools/call", target="x")
    host.finish_operation(op)

    # The configured (in-memory) reader still gets everything...
    assert otel.value("mcpconnect.requests", mcpconnect__server="h17m-beside") == 1
    # ...and so does the Prometheus one, seeded from the tokens given.
    body, content_type = render("")
    assert content_type.startswith("text/plain")
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    assert value(samples, "mcpconnect_requests_total", mcpconnect_server="h17m-beside") == 1
    assert 3500 < value(samples, "mcpconnect_token_expires_in_seconds", mcpconnect_account="a") <= 3600
    assert value(samples, "mcpconnect_token_login_needed", mcpconnect_provider="h17m-seeded") == 1
    assert value(samples, "target_info")  # the OpenTelemetry resource
    assert "s" * 40 not in body.decode() and "t" * 40 not in body.decode()
    openmetrics, kind = render("application/openmetrics-text; version=1.0.0")
    assert kind.startswith("application/openmetrics-text") and openmetrics.rstrip().endswith(b"# EOF")
