"""``serve --transport http`` is safe by default: loopback only, Host/Origin checked against DNS
rebinding, client keys required on any other address, ``/healthz`` for probes."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mcpconnect.testing._transport_contract import free_port

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
KEYS = "gw-key-aaaaaaaaaaaaaaaa, gw-key-bbbbbbbbbbbbbbbb"


@pytest.fixture(scope="module")
def one_upstream(tmp_path_factory):
    from tests.core.gateway.conftest import UPSTREAM

    folder = tmp_path_factory.mktemp("gateway-security")
    config = folder / "mcpconnect.toml"
    config.write_text(
        f'[storage]\nbackend = "memory"\n[servers.local]\ncommand = "{sys.executable}"\nargs = ["{UPSTREAM}"]\n'
    )
    return config


@pytest.fixture(scope="module")
def loopback_gateway(one_upstream):
    from tests.core.gateway.conftest import serve_http

    with serve_http(one_upstream) as (base, _):
        yield base


def post(base, headers=None, **kwargs):
    return httpx.post(f"{base}/mcp", json=INITIALIZE, headers={**HEADERS, **(headers or {})}, **kwargs)


def test_loopback_admits_its_own_host_and_local_pages(loopback_gateway):
    port = loopback_gateway.rsplit(":", 1)[1]
    assert post(loopback_gateway).status_code == 200
    assert post(loopback_gateway, {"host": f"localhost:{port}"}).status_code == 200
    assert post(loopback_gateway, {"origin": "http://localhost:6274"}).status_code == 200  # an inspector page
    assert httpx.get(f"{loopback_gateway}/healthz").json() == {"status": "ok", "servers": 1, "ready": 1, "per_user": 0}


def test_dns_rebinding_is_refused(loopback_gateway):
    port = loopback_gateway.rsplit(":", 1)[1]
    assert post(loopback_gateway, {"host": f"evil.example:{port}"}).status_code == 421
    assert post(loopback_gateway, {"host": "127.0.0.1:1"}).status_code == 421
    assert post(loopback_gateway, {"origin": "http://evil.example"}).status_code == 403
    assert post(loopback_gateway, {"origin": f"http://evil.example:{port}"}).status_code == 403
    assert post(loopback_gateway, {"origin": "null"}).status_code == 403
    # /healthz keeps the same Host rule: a rebinding page must not read even the counts.
    assert httpx.get(f"{loopback_gateway}/healthz", headers={"host": f"evil.example:{port}"}).status_code == 421
    assert httpx.get(f"{loopback_gateway}/healthz", headers={"host": f"localhost:{port}"}).status_code == 200


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    host=st.from_regex(r"[a-z0-9.-]{1,30}(:[0-9]{1,5})?", fullmatch=True),
    origin=st.from_regex(r"https?://[a-z0-9.-]{1,30}(:[0-9]{1,5})?", fullmatch=True),
)
def test_hostile_host_and_origin_never_reach_the_server(loopback_gateway, host, origin):
    port = loopback_gateway.rsplit(":", 1)[1]
    local_hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
    local_origin = origin.split("://", 1)[1].split(":")[0] in {"127.0.0.1", "localhost"} and ":" in origin[8:]
    status = post(loopback_gateway, {"host": host}).status_code
    assert status == (200 if host in local_hosts else 421)
    status = post(loopback_gateway, {"origin": origin}).status_code
    assert status == (200 if local_origin and origin.startswith("http://") else 403)


def test_other_address_without_keys_refuses_to_start(gw, one_upstream):
    result = subprocess.run(
        [*gw.serve_argv(one_upstream), "--transport", "http", "--host", "0.0.0.0", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "api_keys_env" in result.stderr and "0.0.0.0" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "MY_GATEWAY_KEYS, which is not set"), ("", "which is not set or empty"), ("short", "shorter than 16")],
)
def test_unusable_keys_are_a_configuration_error(gw, one_upstream, tmp_path, value, expected):
    import os

    config = tmp_path / "mcpconnect.toml"
    config.write_text(one_upstream.read_text() + '[gateway]\napi_keys_env = "MY_GATEWAY_KEYS"\n')
    env = {k: v for k, v in os.environ.items() if k != "MY_GATEWAY_KEYS"}
    if value is not None:
        env["MY_GATEWAY_KEYS"] = value
    result = subprocess.run(
        [*gw.serve_argv(config), "--transport", "http", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 2 and expected in result.stderr
    assert value is None or not value or value not in result.stderr.replace("shorter", "")


def test_bad_gateway_config_names_the_key(gw, one_upstream, tmp_path):
    config = tmp_path / "mcpconnect.toml"
    config.write_text(one_upstream.read_text() + '[gateway]\napi_keys_env = "not a variable"\n')
    argv = gw.serve_argv(config)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 2 and "gateway.api_keys_env" in result.stderr


async def test_client_keys_are_required_and_checked(gw, one_upstream, tmp_path):
    config = tmp_path / "mcpconnect.toml"
    config.write_text(one_upstream.read_text() + '[gateway]\napi_keys_env = "MY_GATEWAY_KEYS"\n')
    with gw.serve_http(config, "--host", "0.0.0.0", env={"MY_GATEWAY_KEYS": KEYS}) as (base, _):
        assert httpx.get(f"{base}/healthz").status_code == 200  # probes need no key
        missing = post(base)
        assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
        for wrong in ("Bearer gw-key-cccccccccccccccc", "Bearer", "Basic Z3cta2V5LWFhYWFhYWFhYWFhYWFhYWE=", "gw-key"):
            assert post(base, {"authorization": wrong}).status_code == 401
        assert post(base, {"authorization": "Bearer gw-key-aaaaaaaaaaaaaaa"}).status_code == 401  # a prefix
        for key in ("gw-key-aaaaaaaaaaaaaaaa", "gw-key-bbbbbbbbbbbbbbbb"):
            assert post(base, {"authorization": f"Bearer {key}"}).status_code == 200
        keyed = httpx2.AsyncClient(headers={"Authorization": "Bearer gw-key-bbbbbbbbbbbbbbbb"})
        async with keyed, Client(streamable_http_client(f"{base}/mcp", http_client=keyed)) as client:
            result = await client.call_tool("local__echo", {"message": "keyed"})
            assert result.content[0].text == "keyed"


def test_a_port_in_use_is_a_clear_error(gw, one_upstream, loopback_gateway):
    port = loopback_gateway.rsplit(":", 1)[1]
    result = subprocess.run(
        [*gw.serve_argv(one_upstream), "--transport", "http", "--port", port],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_session_idle_timeout_must_be_positive(gw, one_upstream, tmp_path):
    config = tmp_path / "mcpconnect.toml"
    config.write_text(one_upstream.read_text() + "[gateway]\nsession_idle_timeout = 0\n")
    result = subprocess.run(gw.serve_argv(config), capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 2 and "gateway.session_idle_timeout" in result.stderr


def test_an_idle_session_is_closed(gw, one_upstream, tmp_path):
    config = tmp_path / "mcpconnect.toml"
    config.write_text(one_upstream.read_text() + "[gateway]\nsession_idle_timeout = 0.5\n")
    with gw.serve_http(config) as (base, _):
        opened = post(base)
        assert opened.status_code == 200
        session = {"mcp-session-id": opened.headers["mcp-session-id"], "mcp-protocol-version": "2025-11-25"}
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}

        def answer() -> int:
            return httpx.post(f"{base}/mcp", json=ping, headers={**HEADERS, **session}).status_code

        assert answer() == 200  # the session is there while it is used

        def idle_then_answer() -> bool:
            time.sleep(1.0)  # left idle longer than the timeout (each look is a request, so it waits first)
            return answer() == 404

        # Left idle, the session manager closes it: its id is then unknown (404), as the SDK answers.
        gw.wait_until(idle_then_answer, what="the idle session closed")


def test_healthz_is_503_until_every_server_has_connected_or_failed_once(tmp_path):
    """A readiness probe holds traffic back while a server is still connecting (here one that
    never answers initialize within its timeout)."""
    import time

    from tests.core.gateway.conftest import serve_argv, stop

    config = tmp_path / "mcpconnect.toml"
    config.write_text('[storage]\nbackend = "memory"\n[servers.mute]\ncommand = "sleep"\nargs = ["60"]\ntimeout = 4\n')
    port = free_port()
    process = subprocess.Popen(
        serve_argv(config, "--transport", "http", "--port", str(port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        first = None
        while first is None:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                first = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            except httpx.TransportError:
                time.sleep(0.05)
        assert first.status_code == 503 and first.json()["status"] == "starting"
        deadline = time.monotonic() + 60  # only so that a hang fails
        while (answer := httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)).status_code != 200:
            assert time.monotonic() < deadline, answer.text
            time.sleep(0.1)
        assert answer.json() == {"status": "ok", "servers": 1, "ready": 0, "per_user": 0}  # failed once: started
    finally:
        stop(process)


def test_a_gateway_behind_client_keys_is_not_mistaken_for_mcp_authorization(gw, one_upstream, tmp_path):
    # `auth = "mcp"` (what `proxy URL` assumes for an unknown URL) against a key-protected
    # gateway: no metadata anywhere, and the default /register is not one. The error says the
    # server offers no MCP authorization and how to give it a key, not "refused to register".
    config = tmp_path / "mcpconnect.toml"
    config.write_text(one_upstream.read_text() + '[gateway]\napi_keys_env = "MY_GATEWAY_KEYS"\n')
    with gw.serve_http(config, env={"MY_GATEWAY_KEYS": KEYS}) as (base, _):
        client = tmp_path / "client.toml"
        client.write_text(
            f'[storage]\nbackend = "memory"\n[servers.gw]\nurl = "{base}/mcp"\ntransport = "streamable-http"\n'
            'auth = "mcp"\nallow_insecure_http = true\n'
        )
        result = subprocess.run(
            [gw.MCPCONNECT, "--config", str(client), "login", "gw"],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "offers no MCP authorization" in result.stderr and 'auth = "token"' in result.stderr, result.stderr
    assert "refused to register" not in result.stderr
