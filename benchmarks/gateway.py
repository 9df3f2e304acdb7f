"""``mcpconnect serve`` and ``proxy`` side by side with their peers, one tool call at a time:

* the SDK's client through ``serve --transport http`` to a stdio upstream, against the SDK's client
  on that upstream directly (target: the gateway adds at most half a direct call);
* the SDK's client through ``proxy URL`` (stdio) to a streamable-HTTP server, against the same
  through ``mcp-remote`` (the pinned npm peer in tests/node) and against the SDK on the URL directly
  (target: ``proxy`` at or below mcp-remote);
* FastMCP's proxy (``create_proxy``, pinned in requirements/benchmarks.txt) over streamable HTTP in
  front of the same stdio server, beside ``serve --transport http``, one call at a time and with
  concurrent clients (target: ``serve`` at least twice FastMCP's calls per second). Left out, with a
  note, where FastMCP is not installed.

Peers are measured in alternating rounds in one run; results are ratios of medians.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks.calls import ARGS, SERVER, free_port, listening, measure
from benchmarks.timing import ratio

ROOT = Path(__file__).resolve().parents[1]
MCPCONNECT = str(Path(sys.executable).with_name("mcpconnect"))
NODE_BIN = ROOT / "tests" / "node" / "node_modules" / ".bin"
FASTMCP_PROXY = Path(__file__).parent / "servers" / "fastmcp_proxy.py"


def have_fastmcp() -> bool:
    import importlib.util

    return importlib.util.find_spec("fastmcp") is not None


def fastmcp_argv(port: int) -> list[str]:
    return [sys.executable, str(FASTMCP_PROXY), str(port), str(SERVER)]


@contextlib.asynccontextmanager
async def client(target: Any) -> AsyncIterator[Callable[[], Awaitable[Any]]]:
    from mcp import Client

    async with Client(target, mode="legacy") as peer:

        async def call() -> Any:
            result = await peer.call_tool(name, ARGS)
            if result.is_error:
                raise RuntimeError(f"the benchmark call failed: {result.content}")
            return result

        name = next(t.name for t in (await peer.list_tools()).tools if t.name.endswith("echo"))
        yield call


def stdio(command: str, *args: str) -> Any:
    from mcp import StdioServerParameters

    return StdioServerParameters(command=command, args=list(args), env=dict(os.environ))


async def _serve_http(folder: Path, rounds: int, per_round: int) -> dict[str, Any]:
    config = folder / "mcpconnect.toml"
    config.write_text(
        f'[storage]\nbackend = "memory"\n[servers.notes]\ncommand = "{sys.executable}"\n'
        f'args = ["{SERVER}"]\nprotocol = "legacy"\n'
    )
    port, fastmcp_port = free_port(), free_port()
    argv = [MCPCONNECT, "--config", str(config), "serve", "--transport", "http", "--port", str(port)]
    with contextlib.ExitStack() as processes:
        processes.enter_context(listening(argv, port))
        if have_fastmcp():
            processes.enter_context(listening(fastmcp_argv(fastmcp_port), fastmcp_port))
        async with contextlib.AsyncExitStack() as stack:
            peers = {
                "SDK -> serve (http) -> stdio": await stack.enter_async_context(client(f"http://127.0.0.1:{port}/mcp")),
                "SDK -> serve (stdio) -> stdio": await stack.enter_async_context(
                    client(stdio(MCPCONNECT, "--config", str(config), "serve"))
                ),
            }
            if have_fastmcp():
                peers["SDK -> FastMCP proxy (http) -> stdio"] = await stack.enter_async_context(
                    client(f"http://127.0.0.1:{fastmcp_port}/mcp")
                )
            peers["SDK -> stdio"] = await stack.enter_async_context(client(stdio(sys.executable, str(SERVER))))
            return await measure(peers, rounds, per_round)


async def _proxy(folder: Path, rounds: int, per_round: int) -> dict[str, Any]:
    config = folder / "mcpconnect.toml"
    config.write_text('[storage]\nbackend = "memory"\n')
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    with listening([sys.executable, str(SERVER), "--transport", "streamable-http", "--port", str(port)], port):
        peers: dict[str, Callable[[], Awaitable[Any]]] = {}
        async with contextlib.AsyncExitStack() as stack:
            proxy = stdio(MCPCONNECT, "--config", str(config), "proxy", url)
            peers["SDK -> proxy -> http"] = await stack.enter_async_context(client(proxy))
            if (NODE_BIN / "mcp-remote").exists():
                remote = stdio(str(NODE_BIN / "node"), str(NODE_BIN / "mcp-remote"), url, "--allow-http")
                peers["SDK -> mcp-remote -> http"] = await stack.enter_async_context(client(remote))
            peers["SDK -> http"] = await stack.enter_async_context(client(url))
            return await measure(peers, rounds, per_round)


async def _throughput(folder: Path, clients: int, calls: int) -> dict[str, float]:
    """Calls per second with ``clients`` concurrent SDK clients, each making ``calls`` calls: through
    ``serve --transport http`` to one stdio server, through FastMCP's proxy to the same (when
    installed), and directly to the same server over HTTP."""
    import time

    import anyio

    config = folder / "throughput.toml"
    config.write_text(
        f'[storage]\nbackend = "memory"\n[servers.notes]\ncommand = "{sys.executable}"\n'
        f'args = ["{SERVER}"]\nprotocol = "legacy"\n'
    )
    gateway_port, direct_port, fastmcp_port = free_port(), free_port(), free_port()
    serve = [MCPCONNECT, "--config", str(config), "serve", "--transport", "http", "--port", str(gateway_port)]
    direct = [sys.executable, str(SERVER), "--transport", "streamable-http", "--port", str(direct_port)]
    targets = [
        ("serve (http) -> stdio", f"http://127.0.0.1:{gateway_port}/mcp"),
        ("SDK server over http", f"http://127.0.0.1:{direct_port}/mcp"),
    ]
    out: dict[str, float] = {}
    with contextlib.ExitStack() as processes:
        processes.enter_context(listening(serve, gateway_port))
        processes.enter_context(listening(direct, direct_port))
        if have_fastmcp():
            processes.enter_context(listening(fastmcp_argv(fastmcp_port), fastmcp_port))
            targets.append(("FastMCP proxy (http) -> stdio", f"http://127.0.0.1:{fastmcp_port}/mcp"))
        for label, url in targets:
            async with contextlib.AsyncExitStack() as stack:
                peers = [await stack.enter_async_context(client(url)) for _ in range(clients)]
                started = time.perf_counter()
                async with anyio.create_task_group() as tg:
                    for call in peers:

                        async def many(call: Callable[[], Awaitable[Any]] = call) -> None:
                            for _ in range(calls):
                                await call()

                        tg.start_soon(many)
                out[label] = round(clients * calls / (time.perf_counter() - started), 1)
    return out


def run(quick: bool) -> dict[str, Any]:
    rounds, per_round = (3, 10) if quick else (10, 40)
    out: dict[str, Any] = {"samples": {}, "ratios": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, coro in (
            ("serve", _serve_http(Path(tmp), rounds, per_round)),
            ("proxy", _proxy(Path(tmp), rounds, per_round)),
        ):
            try:
                samples = asyncio.run(coro)
            except Exception as exc:
                out[f"{name}_error"] = f"{type(exc).__name__}: {exc}"
                continue
            for label, sample in samples.items():
                out["samples"][f"{name}: {label}"] = sample.as_dict()
            if name == "serve":
                out["ratios"]["serve_http_vs_direct_stdio"] = ratio(
                    samples["SDK -> serve (http) -> stdio"], samples["SDK -> stdio"]
                )
                out["ratios"]["serve_stdio_vs_direct_stdio"] = ratio(
                    samples["SDK -> serve (stdio) -> stdio"], samples["SDK -> stdio"]
                )
                if "SDK -> FastMCP proxy (http) -> stdio" in samples:
                    out["ratios"]["serve_http_vs_fastmcp_proxy"] = ratio(
                        samples["SDK -> serve (http) -> stdio"], samples["SDK -> FastMCP proxy (http) -> stdio"]
                    )
            else:
                out["ratios"]["proxy_vs_direct_http"] = ratio(samples["SDK -> proxy -> http"], samples["SDK -> http"])
                if "SDK -> mcp-remote -> http" in samples:
                    out["ratios"]["proxy_vs_mcp_remote"] = ratio(
                        samples["SDK -> proxy -> http"], samples["SDK -> mcp-remote -> http"]
                    )
        clients, calls = (16, 5) if quick else (64, 20)
        try:
            rates = asyncio.run(_throughput(Path(tmp), clients, calls))
            out["throughput_calls_per_s"] = {"clients": clients, **rates}
            out["ratios"]["serve_throughput_vs_sdk_server"] = round(
                rates["serve (http) -> stdio"] / rates["SDK server over http"], 3
            )
            if "FastMCP proxy (http) -> stdio" in rates:
                out["ratios"]["fastmcp_proxy_throughput_vs_serve"] = round(
                    rates["FastMCP proxy (http) -> stdio"] / rates["serve (http) -> stdio"], 3
                )
        except Exception as exc:
            out["throughput_error"] = f"{type(exc).__name__}: {exc}"
    if not have_fastmcp():
        out["not_measured"] = "FastMCP's proxy: not installed here (pip install -r requirements/benchmarks.txt)"
    return out
