"""The gateway as a service on many machines (issue #16, points 3 and 4): three ``serve``
replicas behind a real HAProxy.

A client on the initialize handshake (2025-11-25 and older) has a session that lives in one
replica; the balancer keeps its requests there by the ``Mcp-Session-Id`` header (a stick table).
A stateless 2026-07-28 client needs no stickiness: any replica answers any request. When a
replica dies, its sessions' requests fail, the client opens a new session, which the balancer
sends to a live replica, and every other client goes on untouched.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.e2e.replicas.cluster import cluster

pytestmark = pytest.mark.slow


def client(url: str, served: Counter[str], mode: str = "legacy") -> tuple[httpx2.AsyncClient, Client]:
    async def record(response: httpx2.Response) -> None:
        if "x-served-by" in response.headers:
            served[response.headers["x-served-by"]] += 1

    http = httpx2.AsyncClient(event_hooks={"response": [record]}, timeout=20)
    return http, Client(streamable_http_client(url, http_client=http), mode=mode)


async def echo(sdk: Client, message: str) -> str:
    result = await sdk.call_tool("local__echo", {"message": message})
    assert not result.is_error, result
    return result.content[0].text


def leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


async def calls_in_one_session(http: httpx2.AsyncClient, sdk: Client, count: int) -> None:
    with anyio.fail_after(30):
        async with http, sdk:
            for i in range(count):
                await echo(sdk, str(i))


async def test_a_session_stays_on_its_replica_by_the_session_header(tmp_path: Path) -> None:
    with cluster(tmp_path) as group:
        per_client: list[Counter[str]] = []
        for n in range(3):  # three sessions: round robin puts them on three replicas
            served: Counter[str] = Counter()
            http, sdk = client(group.url, served)
            async with http, sdk:
                assert sdk.protocol_version != "2026-07-28"  # the initialize handshake, with a session
                for i in range(10):
                    assert await echo(sdk, f"{n}-{i}") == f"{n}-{i}"
            per_client.append(served)
        assert all(len(served) == 1 for served in per_client), per_client  # each session on one replica
        assert len({next(iter(served)) for served in per_client}) == 3, per_client  # spread over all three


async def test_without_the_stick_table_a_handshake_session_breaks(tmp_path: Path) -> None:
    """The control: the same client through plain round robin loses its session on the next
    replica. What makes the test above pass is the stickiness, not luck."""
    with cluster(tmp_path, sticky=False) as group:
        served: Counter[str] = Counter()
        http, sdk = client(group.url, served)
        with pytest.raises(BaseException) as info:  # an ExceptionGroup from the SDK's task group
            await calls_in_one_session(http, sdk, 6)
        assert "Session not found" in " ".join(map(repr, leaves(info.value))), info.value


async def test_a_stateless_client_is_served_by_any_replica(tmp_path: Path) -> None:
    with cluster(tmp_path, sticky=False) as group:
        served: Counter[str] = Counter()
        http, sdk = client(group.url, served, mode="auto")
        async with http, sdk:
            if sdk.protocol_version != "2026-07-28":
                pytest.fail(f"the SDK client negotiated {sdk.protocol_version}, not the stateless 2026-07-28")
            for i in range(12):
                assert await echo(sdk, str(i)) == str(i)
        assert len(served) == 3, served  # round robin, request by request: every replica answered


async def test_a_replica_killed_under_load_costs_only_its_own_requests(tmp_path: Path, redis_prefix: str) -> None:
    """Six clients (two sessions per replica) call in a loop; one replica is SIGKILLed halfway. A
    call that fails on it is retried once on a new session; every call completes, and the
    clients of the other replicas never retry. Restarted, the replica serves again."""
    store = f'[storage]\nbackend = "redis"\nurl = "redis://127.0.0.1:6379/0"\nprefix = "{redis_prefix}"'
    calls, clients = 20, 6
    with cluster(tmp_path, store=store) as group:
        killed = anyio.Event()
        done: Counter[int] = Counter()
        retried: Counter[int] = Counter()
        homes: dict[int, str] = {}

        async def one_client(n: int) -> None:
            served: Counter[str] = Counter()
            http, sdk = client(group.url, served)
            await http.__aenter__()
            await sdk.__aenter__()
            try:
                for i in range(calls):
                    if i == calls // 2 and n == 0:
                        group.kill("r1")
                        killed.set()
                    if i == calls // 2:
                        await killed.wait()
                    try:
                        with anyio.fail_after(15):
                            assert await echo(sdk, f"{n}:{i}") == f"{n}:{i}"
                    except Exception:
                        # Its replica is gone: a new session, on a live replica, and the call again.
                        retried[n] += 1
                        await sdk.__aexit__(None, None, None)
                        served.clear()
                        http, sdk = client(group.url, served)
                        await http.__aenter__()
                        await sdk.__aenter__()
                        with anyio.fail_after(15):
                            assert await echo(sdk, f"{n}:{i}") == f"{n}:{i}"
                    done[n] += 1
                    if i == 0:
                        homes[n] = next(iter(served))
            finally:
                await sdk.__aexit__(None, None, None)
                await http.aclose()

        with anyio.fail_after(180):
            async with anyio.create_task_group() as tasks:
                for n in range(clients):
                    tasks.start_soon(one_client, n)
        assert all(done[n] == calls for n in range(clients)), done
        on_r1 = {n for n, home in homes.items() if home == "r1"}
        assert on_r1, homes  # the killed replica had sessions
        assert set(retried) == on_r1, (retried, homes)  # only its clients retried, once each
        assert all(retried[n] == 1 for n in on_r1), retried
        # Started again, it serves: new sessions reach every replica.
        group.start("r1")
        seen = {group.served_by() for _ in range(12)}
        assert seen == {"r1", "r2", "r3"}, seen


@pytest.mark.node
@pytest.mark.redis
async def test_a_token_expiring_under_load_is_refreshed_once_across_the_replicas(
    tmp_path: Path, oidc_server, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upstream's OAuth token (oidc-provider) nears expiry while six clients call through
    three replicas sharing Redis: oidc-provider counts one refresh grant, and every replica
    moves to the new token (the upstream logs which token each request carried)."""
    import sys
    from datetime import UTC, datetime, timedelta

    from mcpconnect_oidc_server import CONFIDENTIAL_SECRET

    from mcpconnect._plugins import PluginHost
    from mcpconnect._runtime import Runtime
    from mcpconnect.auth import TokenManager
    from mcpconnect.auth._headless import follow_authorization
    from mcpconnect.testing._transport_contract import free_port, http_server

    storage = {"backend": "redis", "url": "redis://127.0.0.1:6379/0", "prefix": redis_prefix}
    provider = {"type": "oidc", "issuer": oidc_server.issuer, "client_id": "confidential"}
    runtime = Runtime.build(
        {"storage": storage, "providers": {"local": {**provider, "client_secret": CONFIDENTIAL_SECRET}}},
        host=PluginHost(),
    )
    manager = TokenManager(runtime)
    await manager.login("local", on_url=follow_authorization)
    stored = await manager.store.get("local", "alice")
    # Valid at start-up, inside the refresh margin a few seconds into the load.
    soon = stored.token.model_copy(
        update={"obtained_at": datetime.now(UTC), "expires_at": datetime.now(UTC) + timedelta(seconds=40)}
    )
    await manager.store.put(soon, expected_version=stored.version)
    await runtime.aclose()
    oidc_server.set(reset=1)

    log = tmp_path / "tokens.log"
    port = free_port()
    upstream = [sys.executable, str(Path(__file__).with_name("bearer_upstream.py")), "--port", str(port)]
    store = (
        "refresh_margin = 30\n"
        f'[storage]\nbackend = "redis"\nurl = "{storage["url"]}"\nprefix = "{redis_prefix}"\n'
        f'[providers.local]\ntype = "oidc"\nissuer = "{oidc_server.issuer}"\nclient_id = "confidential"\n'
        'client_secret_env = "LOCAL_SECRET"\n'
    )
    servers = (
        f'[servers.up]\nurl = "http://127.0.0.1:{port}/mcp"\ntransport = "streamable-http"\nauth = "provider:local"'
    )
    monkeypatch.setenv("LOCAL_SECRET", CONFIDENTIAL_SECRET)  # the replicas inherit it
    with (
        http_server([*upstream, "--log", str(log)], port),
        cluster(tmp_path, store=store, servers=servers) as group,
    ):
        stop = anyio.Event()

        async def one_client(n: int) -> None:
            http, sdk = client(group.url, Counter())
            async with http, sdk:
                i = 0
                while not stop.is_set():
                    result = await sdk.call_tool("up__echo", {"message": f"{n}:{i}"})
                    assert not result.is_error, result
                    i += 1
                    await anyio.sleep(0.05)

        async def until_two_tokens_then_a_while() -> None:
            while len(set(log.read_text().split())) < 2:
                await anyio.sleep(0.2)
            await anyio.sleep(3)
            stop.set()

        with anyio.fail_after(120):
            async with anyio.create_task_group() as tasks:
                for n in range(6):
                    tasks.start_soon(one_client, n)
                tasks.start_soon(until_two_tokens_then_a_while)
        seen = log.read_text().split()
    assert oidc_server.stats()["refreshGrants"] == 1
    _old, new = dict.fromkeys(seen)  # two tokens, in the order they first appeared
    assert seen[-12:] == [new] * 12, seen[-12:]  # every replica moved to the new token
