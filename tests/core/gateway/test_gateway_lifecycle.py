"""Every process ``serve`` and ``proxy`` start ends with them, however they end; an upstream
that is down at first is reconnected, and its tools then reach the client."""

from __future__ import annotations

import contextlib
import os
import signal
import sys

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters

from mcpconnect.testing._transport_contract import free_port, http_server


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as fh:
        return int(fh.read().rsplit(")", 1)[1].split()[1])


def parent_of(pid: int) -> int:
    """The process that started upstream ``pid``: its parent, past the stdio transport's guard
    (the guard sits between a client and its server and dies with them)."""
    parent = _parent(pid)
    with open(f"/proc/{parent}/cmdline", "rb") as fh:
        if b"_guard.py" in fh.read():
            return _parent(parent)
    return parent


def two_stdio_upstreams(folder, gw):
    config = folder / "mcpconnect.toml"
    config.write_text(
        f'[storage]\nbackend = "memory"\n'
        f'[servers.a]\ncommand = "{sys.executable}"\nargs = ["{gw.UPSTREAM}"]\n'
        f'[servers.b]\ncommand = "{sys.executable}"\nargs = ["{gw.UPSTREAM}"]\n'
    )
    return config


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
async def test_killing_serve_over_stdio_leaves_no_upstream(gw, mcpconnect_isolated, sig):
    config = two_stdio_upstreams(mcpconnect_isolated, gw)
    params = StdioServerParameters(command=gw.MCPCONNECT, args=gw.serve_argv(config)[1:], env=dict(os.environ))
    with contextlib.suppress(Exception):
        async with Client(params, mode="legacy") as client:
            pids = [(await client.call_tool(f"{s}__pid", {})).structured_content["result"] for s in ("a", "b")]
            serve_pid = parent_of(pids[0])
            assert parent_of(pids[1]) == serve_pid and all(gw.alive(p) for p in pids)
            os.kill(serve_pid, sig)
            await anyio.to_thread.run_sync(
                lambda: gw.wait_until(lambda: not any(gw.alive(p) for p in pids), what="upstreams gone")
            )
    assert not any(gw.alive(p) for p in pids)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
async def test_killing_serve_over_http_leaves_no_upstream(gw, mcpconnect_isolated, sig):
    config = two_stdio_upstreams(mcpconnect_isolated, gw)
    with gw.serve_http(config) as (base, process):
        async with Client(f"{base}/mcp") as client:
            pids = [(await client.call_tool(f"{s}__pid", {})).structured_content["result"] for s in ("a", "b")]
        assert {parent_of(p) for p in pids} == {process.pid}
        process.send_signal(sig)
        process.wait(timeout=30)
        if sig == signal.SIGTERM:
            assert process.returncode == 0
        gw.wait_until(lambda: not any(gw.alive(p) for p in pids), what="upstreams gone")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
async def test_killing_proxy_leaves_no_upstream(gw, mcpconnect_isolated, sig):
    config = two_stdio_upstreams(mcpconnect_isolated, gw)
    argv = [gw.MCPCONNECT, "--config", str(config), "proxy", "a"]
    params = StdioServerParameters(command=argv[0], args=argv[1:], env=dict(os.environ))
    with contextlib.suppress(Exception):
        async with Client(params) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            assert "echo" in tools and "pid" in tools  # names unchanged
            pid = (await client.call_tool("pid", {})).structured_content["result"]
            os.kill(parent_of(pid), sig)
            await anyio.to_thread.run_sync(lambda: gw.wait_until(lambda: not gw.alive(pid), what="upstream gone"))
    assert not gw.alive(pid)


async def test_client_closing_stdin_stops_serve_and_its_upstreams(gw, mcpconnect_isolated):
    config = two_stdio_upstreams(mcpconnect_isolated, gw)
    params = StdioServerParameters(command=gw.MCPCONNECT, args=gw.serve_argv(config)[1:], env=dict(os.environ))
    async with Client(params, mode="legacy") as client:
        pids = [(await client.call_tool(f"{s}__pid", {})).structured_content["result"] for s in ("a", "b")]
        serve_pid = parent_of(pids[0])
    gw.wait_until(lambda: not gw.alive(serve_pid) and not any(gw.alive(p) for p in pids), what="all gone")


async def test_an_upstream_down_at_first_is_reconnected_and_announced(gw, mcpconnect_isolated):
    port = free_port()
    config = mcpconnect_isolated / "mcpconnect.toml"
    config.write_text(
        f'[storage]\nbackend = "memory"\n'
        f'[servers.a]\ncommand = "{sys.executable}"\nargs = ["{gw.UPSTREAM}"]\n'
        f'[servers.late]\nurl = "http://127.0.0.1:{port}/mcp"\ntransport = "streamable-http"\ntimeout = 5\n'
    )
    changed = anyio.Event()

    async def on_message(message):
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            changed.set()

    with gw.serve_http(config) as (base, _):
        assert httpx.get(f"{base}/healthz").json()["ready"] == 1
        async with Client(f"{base}/mcp", mode="legacy", message_handler=on_message) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            assert "a__echo" in tools and not any(t.startswith("late__") for t in tools)
            down = await client.call_tool("late__echo", {"message": "x"})
            assert down.is_error and "server 'late': connection refused" in down.content[0].text
            with http_server(gw.upstream_argv("streamable-http", port), port):
                with anyio.fail_after(60):
                    await changed.wait()
                await anyio.to_thread.run_sync(
                    lambda: gw.wait_until(lambda: httpx.get(f"{base}/healthz").json()["ready"] == 2, what="late ready")
                )
                tools = {t.name for t in (await client.list_tools()).tools}
                assert "late__echo" in tools and "a__echo" in tools
                result = await client.call_tool("late__echo", {"message": "back"})
                assert result.content[0].text == "back"
            # The other server keeps serving while late is gone again.
            assert (await client.call_tool("a__echo", {"message": "still"})).content[0].text == "still"
