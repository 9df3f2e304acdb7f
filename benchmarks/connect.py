"""Connecting N stdio servers concurrently versus one after another, and client memory per server.

Each server is the SDK-built example server, whose start-up (importing the SDK) is CPU-bound: on
two cores, concurrency cannot do better than about half the sequential time.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "examples" / "servers" / "notes_server.py"


def _rss_kib() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _config(n: int) -> dict[str, Any]:
    servers = {f"s{i}": {"command": sys.executable, "args": [str(SERVER)], "timeout": 120} for i in range(n)}
    return {"storage": {"backend": "memory"}, "servers": servers}


async def _concurrent(n: int) -> tuple[float, float]:
    import mcpconnect

    gc.collect()
    before = _rss_kib()
    start = time.perf_counter()
    async with mcpconnect.connect(_config(n), health_interval=None, cache=False) as hub:
        elapsed = time.perf_counter() - start
        failed = [name for name, st in hub.servers.items() if getattr(st, "error", None)]
        if failed:
            raise RuntimeError(f"{len(failed)} of {n} servers failed to connect")
        gc.collect()
        per_server_kib = (_rss_kib() - before) / n
    return elapsed, per_server_kib


async def _sequential(n: int) -> float:
    import mcpconnect

    config = _config(n)
    start = time.perf_counter()
    async with contextlib.AsyncExitStack() as stack:
        for name in config["servers"]:
            hub = await stack.enter_async_context(
                mcpconnect.connect(config, servers=[name], health_interval=None, cache=False)
            )
            if getattr(hub.servers[name], "error", None):
                raise RuntimeError(f"server {name} failed to connect")
        return time.perf_counter() - start


async def _sdk(n: int, concurrent: bool) -> float:
    """The same servers opened with the SDK's own client, for a peer ratio on the same machine.

    Each client is entered and exited by a task of its own (anyio requires it); the time is until
    every client has finished its handshake.
    """
    from mcp.client import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=[str(SERVER)])
    stop = asyncio.Event()
    ready: list[asyncio.Event] = [asyncio.Event() for _ in range(n)]

    async def hold(i: int) -> None:
        async with Client(params, mode="legacy"):
            ready[i].set()
            await stop.wait()

    start = time.perf_counter()
    tasks = []
    for i in range(n):
        tasks.append(asyncio.create_task(hold(i)))
        if not concurrent:
            await ready[i].wait()
    await asyncio.gather(*(e.wait() for e in ready))
    elapsed = time.perf_counter() - start
    stop.set()
    await asyncio.gather(*tasks)
    return elapsed


def run(quick: bool) -> dict[str, Any]:
    sizes = (1, 5) if quick else (1, 10, 50)
    out: dict[str, Any] = {"wall_s": {}, "client_memory_per_server_kib": {}, "ratios": {}}
    asyncio.run(_concurrent(1))  # warm-up: imports and caches are not what is measured
    for n in sizes:
        concurrent, per_server = asyncio.run(_concurrent(n))
        sequential = asyncio.run(_sequential(n))
        out["wall_s"][f"{n} servers: concurrent"] = round(concurrent, 2)
        out["wall_s"][f"{n} servers: sequential"] = round(sequential, 2)
        out["client_memory_per_server_kib"][f"{n} servers"] = round(per_server)
        if n > 1:
            out["ratios"][f"connect_{n}_concurrent_vs_sequential"] = round(concurrent / sequential, 3)
            try:
                sdk_conc = asyncio.run(_sdk(n, True))
                sdk_seq = asyncio.run(_sdk(n, False))
                out["wall_s"][f"{n} servers: SDK concurrent"] = round(sdk_conc, 2)
                out["wall_s"][f"{n} servers: SDK sequential"] = round(sdk_seq, 2)
                out["ratios"][f"sdk_connect_{n}_concurrent_vs_sequential"] = round(sdk_conc / sdk_seq, 3)
            except Exception as exc:  # the peer is for scale; its failure must not hide ours
                out[f"sdk_{n}_error"] = f"{type(exc).__name__}: {exc}"
    return out
