"""Real upstreams (one SDK server over stdio, SSE and streamable HTTP) and ``mcpconnect serve``
started as the process a client would start."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mcpconnect.testing._transport_contract import free_port, http_server

# oidc-provider (tests/oidc/server.mjs) as the gateway's authorization server.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "oidc"))
from oidc_fixtures import oidc_server, oidc_server_session  # noqa: F401

UPSTREAM = str(Path(__file__).with_name("upstream_server.py"))
MCPCONNECT = str(Path(sys.executable).with_name("mcpconnect"))


def upstream_argv(transport: str = "stdio", port: int = 0, *extra: str) -> list[str]:
    return [sys.executable, UPSTREAM, "--transport", transport, "--port", str(port), *extra]


def toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


@pytest.fixture(scope="module")
def streamable_url() -> Iterator[str]:
    port = free_port()
    with http_server(upstream_argv("streamable-http", port), port):
        yield f"http://127.0.0.1:{port}/mcp"


@pytest.fixture(scope="module")
def sse_url() -> Iterator[str]:
    port = free_port()
    with http_server(upstream_argv("sse", port), port):
        yield f"http://127.0.0.1:{port}/sse"


@pytest.fixture
def three_upstreams(mcpconnect_isolated: Path, streamable_url: str, sse_url: str) -> Path:
    """A project with a stdio, a streamable-HTTP and an SSE upstream (each filtered) and a dead one."""
    config = mcpconnect_isolated / "mcpconnect.toml"
    config.write_text(
        f"""
[storage]
backend = "memory"

[servers.local]
command = "{sys.executable}"
args = ["{UPSTREAM}"]

[servers.local.tools]
deny = ["secret_*"]

[servers.local.resources]
deny = ["mem://hidden"]

[servers.remote]
url = "{streamable_url}"
transport = "streamable-http"

[servers.remote.tools]
allow = ["echo", "count"]

[servers.remote.prompts]
allow = []

[servers.old]
url = "{sse_url}"
transport = "sse"

[servers.dead]
command = "mcpconnect-no-such-server-command"
"""
    )
    return config


def serve_argv(config: Path, *args: str) -> list[str]:
    return [MCPCONNECT, "--config", str(config), "serve", *args]


ServeProcess = tuple[str, subprocess.Popen[bytes]]


@contextlib.contextmanager
def serve_http(config: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[ServeProcess]:
    """``mcpconnect serve --transport http`` on a free port; yields its base URL and process."""
    port = free_port()
    argv = serve_argv(config, "--transport", "http", "--port", str(port), *args)
    environ = {**os.environ, **(env or {})}
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environ)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _healthy(base, process), what=f"serve on port {port}")
        yield base, process
    finally:
        stop(process)


def _healthy(base: str, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        err = process.stderr.read().decode(errors="replace") if process.stderr else ""
        raise RuntimeError(f"serve exited with code {process.returncode}: {err[-2000:]}")
    try:
        return httpx.get(f"{base}/healthz", timeout=1).json()["status"] == "ok"
    except httpx.HTTPError:
        return False


def wait_until(check, *, what: str, within: float = 30.0) -> None:
    """Poll ``check`` until true; a generous deadline only so that a hang fails instead of blocking."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still not so after {within:g} s")
        time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stderr:
        process.stderr.close()


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def gw():
    class Helpers:
        pass

    h = Helpers()
    h.serve_argv = serve_argv
    h.serve_http = serve_http
    h.upstream_argv = upstream_argv
    h.wait_until = wait_until
    h.alive = alive
    h.stop = stop
    h.toml_list = toml_list
    h.UPSTREAM = UPSTREAM
    h.MCPCONNECT = MCPCONNECT
    return h
