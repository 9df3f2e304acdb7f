"""Shared by the store tests: the Redis and PostgreSQL services (skip, or fail under CI=true,
when one is down), a fresh namespace on each per test, and the multi-process single-flight runner.

Import from a test module as ``from ..store_shared.storeservices import ...``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

REDIS_URL = os.environ.get("MCPCONNECT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get("MCPCONNECT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
WORKER = Path(__file__).with_name("single_flight_worker.py")


def service_missing(what: str, why: str) -> None:
    """Fail under CI (which starts every service), skip elsewhere, with the reason."""
    message = f"{what} is not reachable ({why})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI must start it (.ci/run)")
    pytest.skip(f"{message}; start it to run these tests")


def _port_open(host: str, port: int) -> str | None:
    try:
        with socket.create_connection((host, port), timeout=1):
            return None
    except OSError as exc:
        return exc.strerror or str(exc)


@pytest.fixture
def redis_storage() -> Iterator[dict[str, Any]]:
    """``[storage]`` options for the real Redis, under a prefix of this test's own; its keys are
    deleted afterwards."""
    from urllib.parse import urlsplit

    parts = urlsplit(REDIS_URL)
    problem = _port_open(parts.hostname or "127.0.0.1", parts.port or 6379)
    if problem:
        service_missing(f"Redis at {REDIS_URL}", problem)
    prefix = f"mcpconnect-test-{uuid.uuid4().hex[:12]}:"
    yield {"backend": "redis", "url": REDIS_URL, "prefix": prefix}
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def postgres_storage() -> Iterator[dict[str, Any]]:
    """``[storage]`` options for the real PostgreSQL, in a schema of this test's own, dropped
    afterwards."""
    import psycopg

    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=2).close()
    except psycopg.OperationalError as exc:
        service_missing(f"PostgreSQL at {POSTGRES_URL}", str(exc).splitlines()[0])
    schema = f"mcpct_{uuid.uuid4().hex[:12]}"
    yield {"backend": "postgres", "url": POSTGRES_URL, "schema": schema}
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def backend_options(storage: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in storage.items() if k != "backend"}


# -- a token endpoint that counts refreshes -------------------------------------------------------


@dataclass
class CountingTokenServer:
    """A local OAuth-like token endpoint: each POST is one refresh, answered with a new token."""

    delay: float = 0.05
    refreshes: int = 0
    bodies: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/token"

    def __enter__(self) -> CountingTokenServer:
        owner = self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                with lock:
                    owner.refreshes += 1
                    owner.bodies.append(body)
                    n = owner.refreshes
                time.sleep(owner.delay)  # a slow server widens the window for a second refresher
                answer = json.dumps(
                    {"access_token": f"refreshed-access-{n}-" + "x" * 20, "token_type": "Bearer", "expires_in": 3600}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()


# -- N processes, one refresh ------------------------------------------------------------------------


def run_single_flight(
    storage: dict[str, Any],
    *,
    processes: int,
    refresh_url: str,
    provider: str = "acme",
    account: str = "alice",
    worker: Path = WORKER,
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> list[dict[str, Any]]:
    """Start ``processes`` workers on the store ``storage`` (``[storage]`` as a dict), release them
    at once, and return what each printed (one JSON object).

    Each worker reads the token of ``provider``/``account``, finds it expired, and does the
    read-check-refresh-CAS sequence under the store's refresh lock (see
    ``single_flight_worker.py``; pass ``worker`` to run another, e.g. the OAuth engine's own).
    """
    cmd = [
        sys.executable,
        str(worker),
        "--storage",
        json.dumps(storage),
        "--provider",
        provider,
        "--account",
        account,
        "--refresh-url",
        refresh_url,
        *extra_args,
    ]
    procs = [
        subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        for _ in range(processes)
    ]
    try:
        for proc in procs:  # each says "ready" once its store is open
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if line.strip() != "ready":
                _, err = proc.communicate(timeout=timeout)
                raise AssertionError(f"worker did not start: {line!r} {err}")
        for proc in procs:  # then all go at once
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=timeout)
            assert proc.returncode == 0, f"worker failed ({proc.returncode}): {err}"
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


# -- a writer killed mid-write -------------------------------------------------------------------

CRASH_WRITER = Path(__file__).with_name("crash_writer.py")


def kill_writer_mid_write(storage: dict[str, Any], *, start: int, after: float) -> None:
    """Start a writer that rewrites ``acme/alice`` in a loop (counters above ``start``), let it
    write for ``after`` seconds past its first write, and SIGKILL it."""
    proc = subprocess.Popen(
        [sys.executable, str(CRASH_WRITER), "--storage", json.dumps(storage), "--start", str(start)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "ready", f"writer did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
        time.sleep(after)
    finally:
        proc.kill()
        proc.communicate()
