"""Tool-call round trips: the raw floor | the official SDK's client alone | ``hub.call_tool``.

The same server (``examples/servers/notes_server.py``, built on the SDK) answers the SDK and
mcpconnect; the peers are measured in alternating rounds in one process, so machine noise falls on
each alike, and the result is the ratio of medians.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks.timing import Sample, ratio

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "examples" / "servers" / "notes_server.py"
RAW_ECHO = Path(__file__).parent / "servers" / "raw_echo.py"
RAW_HTTP = Path(__file__).parent / "servers" / "raw_http.py"
ARGS = {"message": "hello"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def listening(argv: list[str], port: int):
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{argv} did not listen on {port}") from None
                time.sleep(0.05)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def measure(peers: dict[str, Callable[[], Awaitable[Any]]], rounds: int, per_round: int) -> dict[str, Sample]:
    samples = {name: Sample(name) for name in peers}
    for fn in peers.values():  # warm up every peer
        for _ in range(20):
            await fn()
    for _ in range(rounds):
        for name, fn in peers.items():
            for _ in range(per_round):
                start = time.perf_counter()
                await fn()
                samples[name].seconds.append(time.perf_counter() - start)
    return samples


@contextlib.asynccontextmanager
async def raw_pipe() -> AsyncIterator[Callable[[], Awaitable[Any]]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(RAW_ECHO), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdin and proc.stdout
    counter = iter(range(1, 10**9))

    async def call() -> Any:
        assert proc.stdin and proc.stdout
        msg = {
            "jsonrpc": "2.0",
            "id": next(counter),
            "method": "tools/call",
            "params": {"name": "echo", "arguments": ARGS},
        }
        proc.stdin.write((json.dumps(msg) + "\n").encode())
        await proc.stdin.drain()
        return json.loads(await proc.stdout.readline())

    try:
        yield call
    finally:
        proc.stdin.close()
        await proc.wait()


@contextlib.asynccontextmanager
async def sdk_client(server: Any) -> AsyncIterator[Callable[[], Awaitable[Any]]]:
    from mcp.client import Client

    async with Client(server, mode="legacy") as client:

        async def call() -> Any:
            return await client.call_tool("echo", ARGS)

        yield call


@contextlib.asynccontextmanager
async def hub_client(server_config: dict[str, Any]) -> AsyncIterator[Callable[[], Awaitable[Any]]]:
    import mcpconnect

    config = {"storage": {"backend": "memory"}, "servers": {"bench": server_config}}
    async with mcpconnect.connect(config, health_interval=None, cache=False, protocol="legacy") as hub:
        status = hub.servers["bench"]
        if getattr(status, "error", None):
            raise RuntimeError(f"mcpconnect could not connect: {status.error}")

        async def call() -> Any:
            return await hub.call_tool("bench", "echo", ARGS)

        yield call


async def _stdio(rounds: int, per_round: int) -> dict[str, Sample]:
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=[str(SERVER)])
    async with (
        raw_pipe() as raw,
        sdk_client(params) as sdk,
        hub_client({"command": sys.executable, "args": [str(SERVER)]}) as hub,
    ):
        return await measure({"raw pipe": raw, "SDK": sdk, "mcpconnect": hub}, rounds, per_round)


async def _http(kind: str, rounds: int, per_round: int, auth: bool = False) -> dict[str, Sample]:
    """``auth=True``: both clients send a bearer token, mcpconnect through its ``httpx.Auth``."""
    import httpx

    raw_port, port = free_port(), free_port()
    path = "/mcp" if kind == "streamable-http" else "/sse"
    url = f"http://127.0.0.1:{port}{path}"
    with (
        listening([sys.executable, str(RAW_HTTP), str(raw_port)], raw_port),
        listening([sys.executable, str(SERVER), "--transport", kind, "--port", str(port)], port),
    ):
        async with httpx.AsyncClient() as http:
            counter = iter(range(1, 10**9))

            async def raw() -> Any:
                body = {"jsonrpc": "2.0", "id": next(counter), "method": "tools/call", "params": ARGS}
                return (await http.post(f"http://127.0.0.1:{raw_port}/rpc", json=body)).json()

            token = "bench-" + "t" * 32
            headers = {"Authorization": f"Bearer {token}"} if auth else None
            server: dict[str, Any] = {"url": url, "transport": kind}
            if auth:
                os.environ["MCPCONNECT_BENCH_TOKEN"] = token
                server.update(auth="token", token_env="MCPCONNECT_BENCH_TOKEN")
            if kind == "sse":
                from mcp.client.sse import sse_client

                sdk_target: Any = sse_client(url, headers=headers)
            elif auth:
                from mcp.client.streamable_http import streamable_http_client
                from mcp.shared._httpx_utils import create_mcp_http_client

                sdk_target = streamable_http_client(url, http_client=create_mcp_http_client(headers=headers))
            else:
                sdk_target = url
            async with sdk_client(sdk_target) as sdk, hub_client(server) as hub:
                return await measure({"raw POST": raw, "SDK": sdk, "mcpconnect": hub}, rounds, per_round)


def run(quick: bool) -> dict[str, Any]:
    rounds, per_round = (5, 20) if quick else (15, 60)
    out: dict[str, Any] = {"samples": {}, "ratios": {}, "floors": {}}
    for name, coro in (
        ("stdio", _stdio(rounds, per_round)),
        ("http", _http("streamable-http", rounds, per_round)),
        ("sse", _http("sse", rounds, per_round)),
        ("http_auth", _http("streamable-http", rounds, per_round, auth=True)),
        ("sse_auth", _http("sse", rounds, per_round, auth=True)),
    ):
        try:
            samples = asyncio.run(coro)
        except Exception as exc:
            out[f"{name}_error"] = f"{type(exc).__name__}: {exc}"
            continue
        floor_name = next(k for k in samples if k.startswith("raw"))
        for label, sample in samples.items():
            out["samples"][f"{name}: {label}"] = sample.as_dict()
        out["ratios"][f"{name}_call_vs_sdk"] = ratio(samples["mcpconnect"], samples["SDK"])
        out["floors"][f"{name}: SDK / {floor_name}"] = ratio(samples["SDK"], samples[floor_name])
    return out
