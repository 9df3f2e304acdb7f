"""The gateway as a service of several replicas (issue #16, point 6), side by side:

* calls per second with a bounded number of concurrent clients through 1, 2 and 3
  ``mcpconnect serve --transport http`` replicas behind HAProxy sharing Redis (and 3 sharing
  PostgreSQL), against one replica on the embedded SQLite store without HAProxy, and against the
  SDK's client calling the upstream directly. Every configuration calls the same upstream: an SDK
  server over streamable HTTP that requires a bearer token (tests/e2e/replicas/bearer_upstream.py),
  whose token the gateway reads from its store (``auth = "provider:bench"``), so that each call
  costs what a team's calls cost: the store's read of the upstream token, then the upstream;
* the store's cost per tool call, for SQLite, Redis and PostgreSQL: what one replica sends to its
  store per call (Redis commands counted at the server with MONITOR; SQLite statements and
  PostgreSQL queries counted in the replica's process by benchmarks/servers/counting_serve.py),
  and a call's latency through one replica on each store, one client at a time;
* what a replica holds (for docs/sizing.md): its resident memory and open file descriptors with
  N upstream connections and with N client sessions, read from /proc.

The replicas and HAProxy are started by tests/e2e/replicas/cluster.py, the module the replica
tests use. Not part of the default run (it needs HAProxy, Redis and PostgreSQL on this machine):
``python -m benchmarks replicas`` (or ``--only replicas``) runs it and puts it into
docs/benchmarks.md beside the other sections.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM = ROOT / "tests" / "e2e" / "replicas" / "bearer_upstream.py"
COUNTING_SERVE = Path(__file__).parent / "servers" / "counting_serve.py"
REDIS_URL = os.environ.get("MCPCONNECT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get("MCPCONNECT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PROVIDER = {
    "type": "oauth2",
    "client_id": "bench",
    "authorize_url": "http://127.0.0.1:9/authorize",  # never contacted: the stored token is valid
    "token_url": "http://127.0.0.1:9/token",
}

Call = Callable[[], Awaitable[Any]]


def _cluster_module() -> Any:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.e2e.replicas import cluster

    return cluster


def _toml_table(name: str, values: dict[str, Any]) -> str:
    return f"[{name}]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items())


class Stores:
    """The three stores, each under names of this run only (a Redis prefix, a PostgreSQL schema,
    a SQLite file), holding the upstream's token; removed by :meth:`clean`."""

    def __init__(self, folder: Path, token: str) -> None:
        self.folder, self.token = folder, token
        run = uuid.uuid4().hex[:10]
        self.prefix = f"mcpconnect-bench-{run}:"
        self.schema = f"mcpconnect_bench_{run}"
        self.config: dict[str, dict[str, Any]] = {
            "sqlite": {"backend": "sqlite", "path": str(folder / "tokens.db"), "key_file": str(folder / "key")},
            "redis": {"backend": "redis", "url": REDIS_URL, "prefix": self.prefix},
            "postgres": {"backend": "postgres", "url": POSTGRES_URL, "schema": self.schema},
        }

    def toml(self, kind: str) -> str:
        return _toml_table("storage", self.config[kind]) + "\n" + _toml_table("providers.bench", PROVIDER)

    async def seed(self, kind: str) -> None:
        from pydantic import SecretStr

        from mcpconnect import Runtime
        from mcpconnect._plugins import PluginHost
        from mcpconnect.tokens import Token

        runtime = Runtime.build({"storage": self.config[kind], "providers": {"bench": PROVIDER}}, host=PluginHost())
        try:
            token = Token(
                provider="bench",
                account="bench",
                access_token=SecretStr(self.token),
                expires_at=datetime.now(UTC) + timedelta(days=1),
            )
            await runtime.store().put(token)
        finally:
            await runtime.aclose()

    def clean(self) -> None:
        with contextlib.suppress(Exception):
            import redis

            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(match=f"{self.prefix}*"))
            if keys:
                client.delete(*keys)
            client.close()
        with contextlib.suppress(Exception):
            import psycopg

            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


@contextlib.asynccontextmanager
async def _client(url: str, headers: dict[str, str] | None = None) -> AsyncIterator[Call]:
    """The SDK's client on ``url`` (initialize handshake), as a function making one echo call."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async with (
        httpx2.AsyncClient(headers=headers or {}, timeout=60) as http,
        Client(streamable_http_client(url, http_client=http), mode="legacy") as peer,
    ):
        name = next(t.name for t in (await peer.list_tools()).tools if t.name.endswith("echo"))

        async def call() -> Any:
            result = await peer.call_tool(name, {"message": "hi"})
            if result.is_error:
                raise RuntimeError(f"the benchmark call through {url} failed: {result.content}")
            return result

        yield call


async def _throughput(
    targets: dict[str, tuple[str, dict[str, str] | None]], clients: int, calls: int, rounds: int
) -> dict[str, Any]:
    """Calls per second of ``clients`` concurrent clients each making ``calls`` calls, for every
    target (label -> URL and headers) in turn, ``rounds`` times (alternating, so that a change in
    the machine's load falls on every target alike); the median of the rounds. The sessions are
    opened first and warmed up."""
    import anyio

    rates: dict[str, list[float]] = {label: [] for label in targets}
    async with contextlib.AsyncExitStack() as stack:
        pools = {
            label: [await stack.enter_async_context(_client(url, headers)) for _ in range(clients)]
            for label, (url, headers) in targets.items()
        }
        for pool in pools.values():
            for call in pool:
                await call()
        for _ in range(rounds):
            for label, pool in pools.items():
                started = time.perf_counter()
                async with anyio.create_task_group() as tasks:
                    for call in pool:

                        async def many(call: Call = call) -> None:
                            for _ in range(calls):
                                await call()

                        tasks.start_soon(many)
                rates[label].append(clients * calls / (time.perf_counter() - started))
    return {
        label: {"calls_per_s": round(statistics.median(found), 1), "rounds": [round(r, 1) for r in found]}
        for label, found in rates.items()
    }


async def _latency(call: Call, n: int) -> float:
    """Median ms of one call, one at a time."""
    for _ in range(10):
        await call()
    seconds = []
    for _ in range(n):
        started = time.perf_counter()
        await call()
        seconds.append(time.perf_counter() - started)
    return round(statistics.median(seconds) * 1000, 3)


def _servers_toml(upstream_port: int, count: int = 1) -> str:
    names = ["up"] if count == 1 else [f"up{i}" for i in range(count)]
    return "\n".join(
        _toml_table(
            f"servers.{name}",
            {"url": f"http://127.0.0.1:{upstream_port}/mcp", "transport": "streamable-http", "auth": "provider:bench"},
        )
        for name in names
    )


@contextlib.contextmanager
def _single(folder: Path, store: str, servers: str, command: list[str] | None = None) -> Iterator[Any]:
    """One replica without HAProxy (the Cluster of tests/e2e/replicas/cluster.py, with no balancer)."""
    cluster = _cluster_module()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mcpconnect.toml").write_text(f"{store}\n{servers}\n")
    port = cluster.free_port()
    group = cluster.Cluster(folder, port, {"solo": port}, command=command or [cluster.MCPCONNECT])
    try:
        group.start("solo")
        yield group
    finally:
        group.stop()


def _proc(pid: int) -> dict[str, float]:
    """Resident memory (MiB) and open file descriptors of a process, from /proc."""
    rss_kib = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kib = int(line.split()[1])
    return {"rss_mib": round(rss_kib / 1024, 1), "fds": len(os.listdir(f"/proc/{pid}/fd"))}


class _RedisMonitor:
    """Counts the commands Redis receives that name this run's keys (MONITOR, at the server);
    the commands a Lua script runs inside Redis are not round trips and are not counted."""

    def __init__(self, prefix: str) -> None:
        import redis

        self.prefix, self.count = prefix, 0
        self.stop_word = f"{prefix}stop-{secrets.token_hex(4)}"
        self._client = redis.Redis.from_url(REDIS_URL)
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)

    def _listen(self) -> None:
        with self._client.monitor() as monitor:  # type: ignore[no-untyped-call]
            self._ready.set()
            for entry in monitor.listen():
                command = entry.get("command", "")
                if self.stop_word in command:
                    return
                if entry.get("client_type") != "lua" and self.prefix in command:
                    self.count += 1

    def __enter__(self) -> _RedisMonitor:
        self._thread.start()
        self._ready.wait(10)
        time.sleep(0.2)  # MONITOR is registered once its reply has come back
        return self

    def __exit__(self, *_: object) -> None:
        import redis

        other = redis.Redis.from_url(REDIS_URL)
        other.echo(self.stop_word)
        other.close()
        self._thread.join(10)
        self._client.close()


async def _store_latency(folder: Path, stores: Stores, upstream: int, calls: int) -> dict[str, float]:
    """Median ms of one call through one replica on each store, one call at a time, the stores
    (and the upstream called directly, for scale) in alternating rounds."""
    from benchmarks.calls import measure

    servers = _servers_toml(upstream)
    with contextlib.ExitStack() as replicas:
        groups = {
            kind: replicas.enter_context(_single(folder / f"latency-{kind}", stores.toml(kind), servers))
            for kind in stores.config
        }
        async with contextlib.AsyncExitStack() as stack:
            peers = {
                kind: await stack.enter_async_context(_client(f"http://127.0.0.1:{group.front}/mcp"))
                for kind, group in groups.items()
            }
            peers["direct"] = await stack.enter_async_context(
                _client(f"http://127.0.0.1:{upstream}/mcp", {"authorization": f"Bearer {stores.token}"})
            )
            samples = await measure(peers, 10, max(1, calls // 10))
    return {kind: round(sample.median * 1000, 3) for kind, sample in samples.items()}


async def _round_trips(folder: Path, stores: Stores, upstream: int, kind: str, calls: int) -> float:
    """What one replica sends to its store per tool call (after a warm-up)."""
    servers = _servers_toml(upstream)
    if kind == "redis":
        with _single(folder / "count-redis", stores.toml(kind), servers) as group:
            async with _client(f"http://127.0.0.1:{group.front}/mcp") as call:
                for _ in range(10):
                    await call()
                with _RedisMonitor(stores.prefix) as monitor:
                    for _ in range(calls):
                        await call()
        return round(monitor.count / calls, 2)
    counter = folder / f"count-{kind}"
    counter.write_bytes(b"")
    os.environ["MCPCONNECT_BENCH_STORE_COUNT"] = str(counter)  # the replica inherits them
    os.environ["PSYCOPG_IMPL"] = "python"
    try:
        command = [sys.executable, str(COUNTING_SERVE)]
        with _single(folder / f"count-{kind}.d", stores.toml(kind), servers, command) as group:
            async with _client(f"http://127.0.0.1:{group.front}/mcp") as call:
                for _ in range(10):
                    await call()
                before = counter.stat().st_size
                for _ in range(calls):
                    await call()
                return round((counter.stat().st_size - before) / calls, 2)
    finally:
        del os.environ["MCPCONNECT_BENCH_STORE_COUNT"], os.environ["PSYCOPG_IMPL"]


async def _store_read_ms(stores: Stores, kind: str, n: int) -> float:
    """Median ms of reading a valid token (``get_token``) from the store, in this process."""
    from mcpconnect import Runtime
    from mcpconnect._plugins import PluginHost
    from mcpconnect.auth import TokenManager

    runtime = Runtime.build({"storage": stores.config[kind], "providers": {"bench": PROVIDER}}, host=PluginHost())
    try:
        manager = TokenManager(runtime)

        async def read() -> Any:
            return await manager.get_token("bench")

        return await _latency(read, n)
    finally:
        await runtime.aclose()


async def _footprint(folder: Path, stores: Stores, upstream: int, counts: list[int]) -> dict[str, Any]:
    """A replica's memory and file descriptors with N upstream connections (N servers on the same
    upstream), then with N client sessions on one upstream."""
    out: dict[str, Any] = {"upstreams": {}, "sessions": {}}
    for n in counts:
        with _single(folder / f"upstreams-{n}", stores.toml("redis"), _servers_toml(upstream, n)) as group:
            await asyncio.sleep(1)
            out["upstreams"][n] = _proc(group.processes["solo"].pid)
    with _single(folder / "sessions", stores.toml("redis"), _servers_toml(upstream)) as group:
        pid, url = group.processes["solo"].pid, f"http://127.0.0.1:{group.front}/mcp"
        out["sessions"][0] = _proc(pid)
        async with contextlib.AsyncExitStack() as stack:
            opened = 0
            for n in counts:
                while opened < n:
                    call = await stack.enter_async_context(_client(url))
                    await call()
                    opened += 1
                out["sessions"][n] = _proc(pid)
    return out


def _per_unit_kib(table: dict[int, dict[str, float]]) -> float | None:
    counts = sorted(table)
    if len(counts) < 2:
        return None
    low, high = counts[0], counts[-1]
    return round((table[high]["rss_mib"] - table[low]["rss_mib"]) * 1024 / (high - low))


async def _run(folder: Path, quick: bool) -> dict[str, Any]:
    from mcpconnect.testing import http_server

    cluster = _cluster_module()
    haproxy = cluster.find_haproxy()
    if haproxy is None:
        raise RuntimeError("HAProxy is not installed (apt-get install haproxy)")
    clients, calls, rounds = (4, 10, 1) if quick else (8, 25, 7)
    token = "bench-" + secrets.token_urlsafe(24)
    stores = Stores(folder, token)
    out: dict[str, Any] = {
        "clients": clients,
        "calls_per_client": calls,
        "cores": os.cpu_count(),
        "throughput": {},
        "store_cost": {},
    }
    upstream = cluster.free_port()
    argv = [sys.executable, str(UPSTREAM), "--port", str(upstream), "--log", str(folder / "upstream.log")]
    try:
        for kind in stores.config:
            await stores.seed(kind)
        with http_server(argv, upstream), contextlib.ExitStack() as running:
            servers = _servers_toml(upstream)
            targets: dict[str, tuple[str, dict[str, str] | None]] = {
                "the upstream directly (SDK client, bearer token)": (
                    f"http://127.0.0.1:{upstream}/mcp",
                    {"authorization": f"Bearer {token}"},
                )
            }
            for kind, name in (("sqlite", "SQLite"), ("redis", "Redis")):
                group = running.enter_context(_single(folder / f"solo-{kind}", stores.toml(kind), servers))
                targets[f"1 replica, {name}, no HAProxy"] = (group.url, None)
            for n, kind, name in (
                (1, "redis", "Redis"),
                (2, "redis", "Redis"),
                (3, "redis", "Redis"),
                (3, "postgres", "PostgreSQL"),
            ):
                group = running.enter_context(
                    cluster.cluster(
                        _fresh(folder / f"haproxy-{kind}-{n}"),
                        replicas=n,
                        store=stores.toml(kind),
                        servers=servers,
                        binary=haproxy,
                    )
                )
                targets[f"{n} replica{'s' if n > 1 else ''} behind HAProxy, {name}"] = (group.url, None)
            out["throughput"] = await _throughput(targets, clients, calls, rounds)
            running.close()
            n = 30 if quick else 200
            latency = await _store_latency(folder, stores, upstream, n)
            out["direct_call_ms"] = latency["direct"]
            for kind in stores.config:
                out["store_cost"][kind] = {
                    "round_trips_per_call": await _round_trips(folder, stores, upstream, kind, n),
                    "call_ms": latency[kind],
                    "store_read_ms": await _store_read_ms(stores, kind, n),
                }
            counts = [1, 10] if quick else [1, 10, 50]
            out["footprint"] = await _footprint(folder, stores, upstream, counts)
    finally:
        stores.clean()
    # Each row against the single SQLite replica of the same round (the machine's load changes
    # between rounds, not within one), the median over the rounds.
    base = out["throughput"]["1 replica, SQLite, no HAProxy"]["rounds"]
    out["ratios_vs_single_sqlite"] = {
        label: round(statistics.median(r / b for r, b in zip(row["rounds"], base, strict=True)), 2)
        for label, row in out["throughput"].items()
    }
    out["footprint"]["kib_per_upstream_connection"] = _per_unit_kib(out["footprint"]["upstreams"])
    out["footprint"]["kib_per_client_session"] = _per_unit_kib(out["footprint"]["sessions"])
    return out


def _fresh(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run(quick: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mcpconnect-bench-replicas-") as tmp:
        return asyncio.run(_run(Path(tmp), quick))


def render(section: dict[str, Any]) -> list[str]:
    """The section's Markdown for docs/benchmarks.md."""
    cores = section["cores"]
    costs = section["store_cost"].values()
    share = 100 * max(c["store_read_ms"] for c in costs) / min(c["call_ms"] for c in costs)
    client_max = max(max(row["rounds"]) for row in section["throughput"].values())
    lines = [
        f"Calls per second with {section['clients']} concurrent clients (each "
        f"{section['calls_per_client']} calls per round; median of the rounds), every row calling "
        "the same upstream (an SDK server over streamable HTTP that requires a bearer token; the "
        "gateway reads that token from its store on every call). Ratio: against one replica on "
        "SQLite without HAProxy.",
        "",
        "| configuration | calls/s | ratio | rounds |",
        "|---|---|---|---|",
    ]
    for label, row in section["throughput"].items():
        ratio = section["ratios_vs_single_sqlite"][label]
        lines.append(f"| {label} | {row['calls_per_s']} | {ratio} | {', '.join(map(str, row['rounds']))} |")
    lines += [
        "",
        f"This machine has **{cores} cores**, and the clients, HAProxy, the upstream, the store "
        "and the replicas all run on them. A replica is one Python process, which computes on one "
        "core at a time: a second replica can use a second core, a third one on "
        f"{cores} cores has none of its own. So 3 replicas on {cores} cores cannot scale "
        "linearly: read `1 -> 2 replicas` as what a second core gives a gateway whose every call is "
        "CPU work, and `2 -> 3` as what a replica without a core of its own gives (little or "
        "nothing: it competes with the rest for the same cores). The other rows show the cost of "
        "the pieces: SQLite against Redis "
        f"on one replica is the store's share of a call (the table below: about {share:.1f}% of a "
        "call's time), with and "
        "without HAProxy on one replica the balancer's hop. Other work shared the machine during "
        "the run: the rounds move together, which is why every ratio is taken within a round "
        "(the median of each round's ratio). The clients run in the benchmark's one process, which "
        f"made up to {client_max} calls/s to the upstream directly: they are not what limits the "
        "replica rows. On machines of their own, each replica brings its "
        "own cores: a call needs nothing from a replica but what the store holds (see "
        "[Sizing](sizing.md)).",
        "",
        "The store's cost per tool call through one replica (one client, calls one at a time):",
        "",
        "| store | round trips per call | call ms (median) | one token read ms, in process |",
        "|---|---|---|---|",
    ]
    if "direct_call_ms" in section:
        lines.append(f"| (the upstream called directly, for scale) | - | {section['direct_call_ms']} | - |")
    for kind, cost in section["store_cost"].items():
        lines.append(
            f"| {kind} | {cost.get('round_trips_per_call', '-')} | {cost['call_ms']} | {cost['store_read_ms']} |"
        )
    lines += [
        "",
        "Round trips: Redis commands naming the run's keys, counted at the server with `MONITOR` "
        "(commands a Lua script runs inside Redis are not round trips); PostgreSQL queries and SQLite "
        "statements counted in the replica's process (`benchmarks/servers/counting_serve.py`: libpq's "
        "send calls through psycopg's pure-Python binding; sqlite3's trace callback).",
    ]
    fp = section.get("footprint", {})
    if fp:
        lines += [
            "",
            "What one replica holds (resident memory and open file descriptors from /proc; HTTP "
            "upstreams on the same upstream server, Redis store):",
            "",
            "| replica with | RSS MiB | file descriptors |",
            "|---|---|---|",
        ]
        for n, row in fp["upstreams"].items():
            lines.append(f"| {n} upstream connection{'s' if int(n) != 1 else ''} | {row['rss_mib']} | {row['fds']} |")
        for n, row in fp["sessions"].items():
            lines.append(
                f"| 1 upstream, {n} client session{'s' if int(n) != 1 else ''} | {row['rss_mib']} | {row['fds']} |"
            )
        lines += [
            "",
            f"About {fp.get('kib_per_upstream_connection')} KiB per upstream connection and "
            f"{fp.get('kib_per_client_session')} KiB per client session (the difference between the "
            "smallest and largest row, divided by the count).",
        ]
    return lines
