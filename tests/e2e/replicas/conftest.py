from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "oidc"))

from oidc_fixtures import oidc_server, oidc_server_session  # noqa: F401

REDIS_URL = "redis://127.0.0.1:6379/0"
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _missing(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI must start it (.ci/run)")
    pytest.skip(message)


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own in the Redis at 127.0.0.1:6379, removed afterwards."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        _missing(f"Redis at 127.0.0.1:6379 is not reachable ({exc})")
    prefix = f"mcpconnect-replicas-{uuid.uuid4().hex[:10]}:"
    yield prefix
    keys = list(client.scan_iter(match=f"*{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    """A schema of this test's own in the PostgreSQL at 127.0.0.1:5432 (db ``test``), dropped afterwards."""
    import psycopg

    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=2).close()
    except psycopg.OperationalError as exc:
        _missing(f"PostgreSQL at 127.0.0.1:5432 is not reachable ({str(exc).splitlines()[0]})")
    schema = f"mcpconnect_replicas_{uuid.uuid4().hex[:10]}"
    yield schema
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@dataclass(frozen=True)
class SharedStore:
    """The store the replicas share: ``[storage]`` as a dict (for a Runtime in the test) and as TOML."""

    options: dict[str, Any]

    @property
    def backend(self) -> str:
        return str(self.options["backend"])

    @property
    def toml(self) -> str:
        return "[storage]\n" + "".join(f'{key} = "{value}"\n' for key, value in self.options.items())


@pytest.fixture(
    params=[pytest.param("redis", marks=pytest.mark.redis), pytest.param("postgres", marks=pytest.mark.postgres)]
)
def shared_store(request: pytest.FixtureRequest) -> SharedStore:
    """Each store the replicas can share across machines: Redis, then PostgreSQL, each in a
    namespace of this test's own (a key prefix, a schema)."""
    if request.param == "redis":
        return SharedStore({"backend": "redis", "url": REDIS_URL, "prefix": request.getfixturevalue("redis_prefix")})
    schema = request.getfixturevalue("postgres_schema")
    return SharedStore({"backend": "postgres", "url": POSTGRES_URL, "schema": schema})
