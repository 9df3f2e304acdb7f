"""Cross-process single flight against a real authorization server: 8 processes sharing one Redis
(and one PostgreSQL) store find the same token expired; oidc-provider counts one refresh grant,
and every process ends with the new token."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from mcpconnect_oidc_server import CONFIDENTIAL_SECRET

from mcpconnect._plugins import PluginHost
from mcpconnect._runtime import Runtime
from mcpconnect.auth import TokenManager
from mcpconnect.auth._headless import follow_authorization

pytestmark = pytest.mark.node

REDIS_URL = os.environ.get("MCPCONNECT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get("MCPCONNECT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PROCESSES = 8

WORKER = """
import asyncio, json, sys
from mcpconnect.auth import TokenManager
from mcpconnect._plugins import PluginHost
from mcpconnect._runtime import Runtime

async def main():
    runtime = Runtime.build(json.loads(sys.argv[1]), host=PluginHost())
    try:
        token = await TokenManager(runtime).get_token("local")
        print(token.access_token.get_secret_value())
    finally:
        await runtime.aclose()

asyncio.run(main())
"""


def require(url: str, default_port: int, what: str) -> None:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1).close()
    except OSError as exc:
        message = f"{what} at {parts.hostname}:{parts.port or default_port} is not reachable ({exc.strerror})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI must start it (.ci/run)")
        pytest.skip(message)


@pytest.fixture(
    params=[pytest.param("redis", marks=pytest.mark.redis), pytest.param("postgres", marks=pytest.mark.postgres)]
)
def shared_storage(request):
    run = uuid.uuid4().hex[:10]
    if request.param == "redis":
        require(REDIS_URL, 6379, "Redis")
        storage = {"backend": "redis", "url": REDIS_URL, "prefix": f"mcpconnect-e2e-{run}:"}
        yield storage
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"*mcpconnect-e2e-{run}:*"))
        if keys:
            client.delete(*keys)
        client.close()
    else:
        require(POSTGRES_URL, 5432, "PostgreSQL")
        storage = {"backend": "postgres", "url": POSTGRES_URL, "schema": f"mcpconnect_e2e_{run}"}
        yield storage
        import psycopg

        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "mcpconnect_e2e_{run}" CASCADE')


async def test_eight_processes_refresh_one_expired_token_once(oidc_server, shared_storage):
    provider = {
        "type": "oidc",
        "issuer": oidc_server.issuer,
        "client_id": "confidential",
        "client_secret": CONFIDENTIAL_SECRET,
    }
    config = {"storage": shared_storage, "providers": {"local": provider}}
    runtime = Runtime.build(config, host=PluginHost())
    manager = TokenManager(runtime)
    await manager.login("local", on_url=follow_authorization)
    stored = await manager.store.get("local", "alice")
    old = stored.token.access_token.get_secret_value()
    expired = stored.token.model_copy(update={"expires_at": datetime.now(UTC) - timedelta(minutes=1)})
    await manager.store.put(expired, expected_version=stored.version)
    oidc_server.set(reset=1)

    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", WORKER, json.dumps(config), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(PROCESSES)
    ]
    results = [await asyncio.wait_for(p.communicate(), 120) for p in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err.decode()
    tokens = {out.decode().strip() for out, _ in results}

    assert oidc_server.stats()["refreshGrants"] == 1
    assert len(tokens) == 1 and old not in tokens
    (new,) = tokens
    assert (await manager.store.get("local", "alice")).token.access_token.get_secret_value() == new
    assert oidc_server.introspect(new)["active"] is True
    await runtime.aclose()
