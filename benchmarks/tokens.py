"""Getting a valid token: per store against its raw driver doing the same read; then single-flight
refresh under load (1000 concurrent callers, and 8 processes on Redis and on PostgreSQL) against a
real authorization server (oidc-provider from tests/node), counting refresh grants at the server.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.timing import Sample, ratio

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("MCPCONNECT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get("MCPCONNECT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PROVIDER = {
    "type": "oauth2",
    "client_id": "bench",
    "authorize_url": "http://127.0.0.1:9/a",
    "token_url": "http://127.0.0.1:9/t",
}


def _runtime(storage: dict[str, Any], providers: dict[str, Any] | None = None) -> Any:
    from mcpconnect._plugins import PluginHost
    from mcpconnect._runtime import Runtime

    return Runtime.build({"storage": storage, "providers": providers or {"bench": PROVIDER}}, host=PluginHost())


def _token(**kw: Any) -> Any:
    from pydantic import SecretStr

    from mcpconnect.tokens import Token

    base = dict(
        provider="bench",
        account="alice",
        access_token=SecretStr("at-" + "x" * 40),
        refresh_token=SecretStr("rt-" + "y" * 40),
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
    base.update(kw)
    return Token(**base)


async def _time(fn: Any, n: int, label: str) -> Sample:
    for _ in range(20):
        await fn()
    sample = Sample(label)
    start = time.perf_counter()
    for _ in range(n):
        await fn()
    sample.seconds = [(time.perf_counter() - start) / n]
    return sample


async def _store_reads(n: int) -> dict[str, Any]:
    from mcpconnect.auth import TokenManager

    tmp = Path(tempfile.mkdtemp(prefix="mcpconnect-bench-"))
    key_file = tmp / "key"
    run_id = uuid.uuid4().hex[:8]

    # Raw drivers reading the same record the store wrote (bytes as stored: a dict lookup, a file
    # read + JSON parse, a SELECT, a GET), so the ratio is mcpconnect's own cost per read.
    def raw_memory(runtime: Any) -> Any:
        data = runtime.store().backend._data  # the dict the memory backend keeps

        async def read() -> Any:
            return data[("token", "bench/alice")]

        return read

    def raw_file(path: Path) -> Any:
        async def read() -> Any:
            return json.loads(path.read_bytes())

        return read

    def raw_sqlite(path: Path) -> Any:
        conn = sqlite3.connect(path, check_same_thread=False)

        async def read() -> Any:
            return await asyncio.to_thread(
                lambda: conn.execute(
                    "SELECT data, version FROM records WHERE namespace=? AND key=?", ("token", "bench/alice")
                ).fetchone()
            )

        return read

    async def raw_redis() -> Any:
        import redis.asyncio as redis

        client = redis.from_url(REDIS_URL)
        keys = [k async for k in client.scan_iter(match=f"bench{run_id}:*")]
        key = keys[0]
        kind = (await client.type(key)).decode()

        async def read() -> Any:
            return await (client.hgetall(key) if kind == "hash" else client.get(key))

        return read

    async def raw_postgres(schema: str) -> Any:
        import psycopg

        conn = await psycopg.AsyncConnection.connect(POSTGRES_URL, autocommit=True)

        async def read() -> Any:
            cur = await conn.execute(
                f'SELECT data, version FROM "{schema}".records WHERE namespace=%s AND key=%s', ("token", "bench/alice")
            )
            return await cur.fetchone()

        return read

    configs: dict[str, dict[str, Any]] = {
        "memory": {"backend": "memory"},
        "file": {"backend": "file", "path": str(tmp / "tokens.json"), "key_file": str(key_file)},
        "sqlite": {"backend": "sqlite", "path": str(tmp / "tokens.db"), "key_file": str(key_file)},
        "redis": {"backend": "redis", "url": REDIS_URL, "prefix": f"bench{run_id}:"},
        "postgres": {"backend": "postgres", "url": POSTGRES_URL, "schema": f"bench_{run_id}"},
    }
    out: dict[str, Any] = {"get_token_per_s": {}, "raw_read_per_s": {}, "ratios": {}, "errors": {}}
    for name, storage in configs.items():
        try:
            runtime = _runtime(storage)
            manager = TokenManager(runtime)
            await runtime.store().put(_token())

            async def get(manager: Any = manager) -> Any:
                return await manager.get_token("bench", "alice")

            ours = await _time(get, n, f"{name}: get_token")
            if name == "memory":
                raw_fn = raw_memory(runtime)
            elif name == "file":
                raw_fn = raw_file(Path(storage["path"]))
            elif name == "sqlite":
                raw_fn = raw_sqlite(Path(storage["path"]))
            elif name == "redis":
                raw_fn = await raw_redis()
            else:
                raw_fn = await raw_postgres(storage["schema"])
            raw = await _time(raw_fn, n, f"{name}: raw read")
            out["get_token_per_s"][name] = round(1 / ours.median)
            out["raw_read_per_s"][name] = round(1 / raw.median)
            out["ratios"][f"get_token_{name}_vs_raw_read"] = ratio(ours, raw)
            await runtime.aclose()
        except Exception as exc:  # a store that cannot run here is reported, not hidden
            out["errors"][name] = f"{type(exc).__name__}: {exc}"
    if not out["errors"]:
        del out["errors"]
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "bench_{run_id}" CASCADE')
    except Exception:
        pass
    return out


def _oidc() -> Any:
    sys.path.insert(0, str(ROOT / "tests" / "oidc"))
    from mcpconnect_oidc_server import CONFIDENTIAL_SECRET, running_server  # type: ignore[import-not-found]

    return running_server, CONFIDENTIAL_SECRET


async def _concurrent_refresh(issuer: str, secret: str, server: Any, callers: int) -> dict[str, Any]:
    from mcpconnect.auth import TokenManager
    from mcpconnect.auth._headless import follow_authorization

    provider = {"type": "oidc", "issuer": issuer, "client_id": "confidential", "client_secret": secret}
    runtime = _runtime({"backend": "memory"}, {"local": provider})
    manager = TokenManager(runtime)
    await manager.login("local", on_url=follow_authorization)
    stored = await manager.store.get("local", "alice")
    expired = stored.token.model_copy(update={"expires_at": datetime.now(UTC) - timedelta(minutes=1)})
    await manager.store.put(expired, expected_version=stored.version)
    server.set(reset=1)
    latencies: list[float] = []

    async def caller() -> None:
        start = time.perf_counter()
        await manager.get_token("local")
        latencies.append(time.perf_counter() - start)

    await asyncio.gather(*(caller() for _ in range(callers)))
    sample = Sample("latency", latencies)
    return {
        "refresh_requests": server.stats()["refreshGrants"],
        "p50_ms": round(sample.quantile(0.5) * 1000, 1),
        "p99_ms": round(sample.quantile(0.99) * 1000, 1),
    }


def _processes(backend: str, issuer: str, secret: str, server: Any, n: int) -> int:
    """n processes share one store, find the same token expired, and refresh it; returns the grants."""
    run_id = uuid.uuid4().hex[:8]
    storage = (
        {"backend": "redis", "url": REDIS_URL, "prefix": f"bench{run_id}:"}
        if backend == "redis"
        else {"backend": "postgres", "url": POSTGRES_URL, "schema": f"bench_{run_id}"}
    )
    provider = {"type": "oidc", "issuer": issuer, "client_id": "confidential", "client_secret": secret}
    config = json.dumps({"storage": storage, "providers": {"local": provider}})

    async def prepare() -> None:
        from mcpconnect.auth import TokenManager
        from mcpconnect.auth._headless import follow_authorization

        runtime = _runtime(storage, {"local": provider})
        manager = TokenManager(runtime)
        await manager.login("local", on_url=follow_authorization)
        stored = await manager.store.get("local", "alice")
        expired = stored.token.model_copy(update={"expires_at": datetime.now(UTC) - timedelta(minutes=1)})
        await manager.store.put(expired, expected_version=stored.version)
        await runtime.aclose()

    asyncio.run(prepare())
    server.set(reset=1)
    worker = (
        "import asyncio, json, sys\n"
        "from mcpconnect.auth import TokenManager\n"
        "from mcpconnect._plugins import PluginHost\n"
        "from mcpconnect._runtime import Runtime\n"
        "async def main():\n"
        "    runtime = Runtime.build(json.loads(sys.argv[1]), host=PluginHost())\n"
        "    token = await TokenManager(runtime).get_token('local')\n"
        "    print(token.expires_at.isoformat())\n"
        "    await runtime.aclose()\n"
        "asyncio.run(main())\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", worker, config], stdout=subprocess.PIPE, text=True) for _ in range(n)
    ]
    outputs = [p.communicate(timeout=120)[0].strip() for p in procs]
    if any(p.returncode for p in procs) or len(set(outputs)) != 1:
        raise RuntimeError(f"{backend}: the processes did not all end with the same new token: {outputs}")
    grants = int(server.stats()["refreshGrants"])
    if backend == "postgres":
        import psycopg

        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "bench_{run_id}" CASCADE')
    return grants


def run(quick: bool) -> dict[str, Any]:
    out: dict[str, Any] = asyncio.run(_store_reads(200 if quick else 2000))
    out["refresh_requests"] = {}
    running_server, secret = _oidc()
    try:
        with running_server() as server:
            concurrent = asyncio.run(_concurrent_refresh(server.issuer, secret, server, 1000))
            out["concurrent_1000"] = concurrent
            out["refresh_requests"]["concurrent_1000"] = concurrent["refresh_requests"]
            for backend in ("redis", "postgres"):
                try:
                    out["refresh_requests"][f"{backend}_8_procs"] = _processes(
                        backend, server.issuer, secret, server, 8
                    )
                except Exception as exc:
                    out[f"{backend}_8_procs_error"] = f"{type(exc).__name__}: {exc}"
    except BaseException as exc:  # pytest.skip/fail from the fixture helper are BaseExceptions
        out["refresh_error"] = f"{type(exc).__name__}: {exc}"
    return out
