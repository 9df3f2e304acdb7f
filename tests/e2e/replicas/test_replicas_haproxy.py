"""The gateway as a service on many machines (issue #16, points 3 and 4): three ``serve``
replicas behind a real HAProxy.

A client on the initialize handshake (2025-11-25 and older) has a session that lives in one
replica; the balancer keeps its requests there by the ``Mcp-Session-Id`` header (a stick table).
A stateless 2026-07-28 client needs no stickiness: any replica answers any request. When a
replica dies, its sessions' requests fail, the client opens a new session, which the balancer
sends to a live replica, and every other client goes on untouched.

What depends on the shared store (any replica answering, a replica killed under load, a refresh
once across replicas, each user's own upstream token) runs on Redis and on PostgreSQL
(``shared_store``); the balancer's stickiness and its control do not, and run once. oidc-provider
(tests/oidc) is the authorization server of the replicas (a protected resource behind HAProxy)
and of the upstream.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

# The code flow (PKCE, resource indicator) of oidc-provider's public client: a real access token,
# a JWT whose ``aud`` is the resource asked for.
from tests.core.gateway.test_gateway_resource import login as oidc_login
from tests.e2e.replicas.bearer_upstream import fingerprint, read_log
from tests.e2e.replicas.cluster import cluster
from tests.e2e.replicas.conftest import SharedStore

pytestmark = pytest.mark.slow

BEARER_UPSTREAM = str(Path(__file__).with_name("bearer_upstream.py"))
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
MCP_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


def client(
    url: str, served: Counter[str], mode: str = "legacy", token: str | None = None
) -> tuple[httpx2.AsyncClient, Client]:
    async def record(response: httpx2.Response) -> None:
        if "x-served-by" in response.headers:
            served[response.headers["x-served-by"]] += 1

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = httpx2.AsyncClient(event_hooks={"response": [record]}, timeout=30, headers=headers)
    return http, Client(streamable_http_client(url, http_client=http), mode=mode)


def provider_toml(name: str, issuer: str) -> str:
    """``[providers.NAME]``: oidc-provider's confidential client, its secret in ``LOCAL_SECRET``."""
    return (
        f'[providers.{name}]\ntype = "oidc"\nissuer = "{issuer}"\nclient_id = "confidential"\n'
        'client_secret_env = "LOCAL_SECRET"\n'
    )


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


async def test_a_stateless_client_is_served_by_any_replica(tmp_path: Path, shared_store: SharedStore) -> None:
    with cluster(tmp_path, sticky=False, store=shared_store.toml) as group:
        served: Counter[str] = Counter()
        http, sdk = client(group.url, served, mode="auto")
        async with http, sdk:
            if sdk.protocol_version != "2026-07-28":
                pytest.fail(f"the SDK client negotiated {sdk.protocol_version}, not the stateless 2026-07-28")
            for i in range(12):
                assert await echo(sdk, str(i)) == str(i)
        assert len(served) == 3, served  # round robin, request by request: every replica answered


async def test_a_replica_killed_under_load_costs_only_its_own_requests(
    tmp_path: Path, shared_store: SharedStore
) -> None:
    """Six clients (two sessions per replica) call in a loop; one replica is SIGKILLed halfway. A
    call that fails on it is retried once on a new session; every call completes, and the
    clients of the other replicas never retry. Restarted, the replica serves again."""
    calls, clients = 20, 6
    with cluster(tmp_path, store=shared_store.toml) as group:
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
        # Started again, it serves: new sessions reach every replica (once HAProxy's health check
        # has seen it up again: polled, with a deadline only so that a hang fails).
        group.start("r1")
        seen: set[str] = set()
        deadline = time.monotonic() + 60
        while seen != {"r1", "r2", "r3"} and time.monotonic() < deadline:
            seen.add(group.served_by())
            await anyio.sleep(0.2)
        assert seen == {"r1", "r2", "r3"}, seen


@pytest.mark.node
async def test_a_token_expiring_under_load_is_refreshed_once_across_the_replicas(
    tmp_path: Path, oidc_server, shared_store: SharedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upstream's OAuth token (oidc-provider) nears expiry while six clients call through
    three replicas sharing the store: oidc-provider counts one refresh grant, and every replica
    moves to the new token (the upstream logs which token each request carried)."""
    from datetime import UTC, datetime, timedelta

    from mcpconnect_oidc_server import CONFIDENTIAL_SECRET

    from mcpconnect import Runtime
    from mcpconnect._plugins import PluginHost
    from mcpconnect.auth import TokenManager
    from mcpconnect.testing import follow_authorization, free_port, http_server

    provider = {"type": "oidc", "issuer": oidc_server.issuer, "client_id": "confidential"}
    runtime = Runtime.build(
        {"storage": shared_store.options, "providers": {"local": {**provider, "client_secret": CONFIDENTIAL_SECRET}}},
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
    upstream = [sys.executable, BEARER_UPSTREAM, "--port", str(port)]
    store = "refresh_margin = 30\n" + shared_store.toml + provider_toml("local", oidc_server.issuer)
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
            while len({token for token, _call in read_log(log)}) < 2:
                await anyio.sleep(0.2)
            await anyio.sleep(3)
            stop.set()

        with anyio.fail_after(120):
            async with anyio.create_task_group() as tasks:
                for n in range(6):
                    tasks.start_soon(one_client, n)
                tasks.start_soon(until_two_tokens_then_a_while)
        seen = [token for token, _call in read_log(log)]
    assert oidc_server.stats()["refreshGrants"] == 1
    _old, new = dict.fromkeys(seen)  # two tokens, in the order they first appeared
    assert seen[-12:] == [new] * 12, seen[-12:]  # every replica moved to the new token


@pytest.mark.node
async def test_the_replicas_are_a_protected_resource_of_oidc_provider(tmp_path: Path, oidc_server) -> None:
    """Behind HAProxy, every replica refuses a request without a token (401 pointing at the RFC
    9728 metadata, served through the balancer) or with a token for another resource, and admits
    a real access token of oidc-provider for the balancer's resource URI, whichever replica
    answers."""
    with cluster(tmp_path, sticky=False, authorization_server=oidc_server.issuer) as group:
        oidc_server.add_resource(group.url, "jwt")
        elsewhere = "http://127.0.0.1:9/mcp"  # another gateway of the same issuer
        oidc_server.add_resource(elsewhere, "jwt")
        token = await oidc_login(oidc_server, group.url, account="alice")
        foreign = await oidc_login(oidc_server, elsewhere, account="alice")
        metadata = f"{group.base}/.well-known/oauth-protected-resource/mcp"
        refused: Counter[str] = Counter()
        async with httpx.AsyncClient(timeout=30) as http:
            for _ in range(6):
                for bearer, error in ((None, False), (foreign, True)):
                    headers = {**MCP_HEADERS, **({"authorization": f"Bearer {bearer}"} if bearer else {})}
                    answer = await http.post(group.url, json=INITIALIZE, headers=headers)
                    assert answer.status_code == 401, answer.text
                    challenge = answer.headers["www-authenticate"]
                    assert challenge.startswith("Bearer ") and f'resource_metadata="{metadata}"' in challenge
                    assert ('error="invalid_token"' in challenge) == error, challenge
                    refused[answer.headers["x-served-by"]] += 1
            document = (await http.get(metadata)).json()
        assert set(refused) == {"r1", "r2", "r3"}, refused  # every replica refused
        assert document["resource"] == group.url
        assert document["authorization_servers"] == [oidc_server.issuer]
        served: Counter[str] = Counter()
        http2, sdk = client(group.url, served, mode="auto", token=token)
        async with http2, sdk:
            for i in range(9):
                assert await echo(sdk, str(i)) == str(i)
        assert set(served) == {"r1", "r2", "r3"}, served  # every replica validated the token


@pytest.mark.node
async def test_users_a_and_b_each_get_their_own_upstream_token_on_every_replica(
    tmp_path: Path, oidc_server, shared_store: SharedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alice and Bob (real gateway tokens of oidc-provider) call a ``tokens = "per_user"``
    upstream at once, three stateless clients each, every request balanced anew over the three
    replicas. Each has connected the upstream with their own login (kept in the shared store):
    the upstream records which token each call carried, and no call of one carries the other's."""
    from mcpconnect_oidc_server import CONFIDENTIAL_SECRET

    from mcpconnect import Runtime
    from mcpconnect._gateway.resource import User
    from mcpconnect._plugins import PluginHost
    from mcpconnect.auth import token_manager
    from mcpconnect.testing import follow_authorization, free_port, http_server

    users, clients, calls = ("alice", "bob"), 3, 8
    # Each user connects the upstream as themself (what /connect/up does), into the shared store.
    provider = {"type": "oidc", "issuer": oidc_server.issuer, "client_id": "confidential"}
    runtime = Runtime.build(
        {"storage": shared_store.options, "providers": {"up": {**provider, "client_secret": CONFIDENTIAL_SECRET}}},
        host=PluginHost(),
    )
    upstream_token: dict[str, str] = {}
    try:
        for sub in users:

            async def as_user(url: str, sub: str = sub) -> Any:
                return await follow_authorization(f"{url}&login_hint={sub}")

            key = User(oidc_server.issuer, sub).key
            token = await token_manager(runtime).login("up", on_url=as_user, user=key)
            assert token.account == sub
            upstream_token[sub] = fingerprint(token.access_token.get_secret_value())
    finally:
        await runtime.aclose()
    assert upstream_token["alice"] != upstream_token["bob"]

    log = tmp_path / "tokens.log"
    port = free_port()
    store = shared_store.toml + provider_toml("up", oidc_server.issuer) + provider_toml("gw", oidc_server.issuer)
    servers = (
        f'[servers.up]\nurl = "http://127.0.0.1:{port}/mcp"\ntransport = "streamable-http"\n'
        'auth = "provider:up"\ntokens = "per_user"'
    )
    monkeypatch.setenv("LOCAL_SECRET", CONFIDENTIAL_SECRET)  # the replicas inherit it
    with (
        http_server([sys.executable, BEARER_UPSTREAM, "--port", str(port), "--log", str(log)], port),
        cluster(
            tmp_path,
            sticky=False,
            store=store,
            servers=servers,
            authorization_server=oidc_server.issuer,
            sign_in_provider="gw",
        ) as group,
    ):
        oidc_server.add_resource(group.url, "jwt")
        gateway_token = {sub: await oidc_login(oidc_server, group.url, account=sub) for sub in users}
        served: dict[str, Counter[str]] = {sub: Counter() for sub in users}
        answered: Counter[str] = Counter()

        async def one_client(sub: str, n: int) -> None:
            http, sdk = client(group.url, served[sub], mode="auto", token=gateway_token[sub])
            async with http, sdk:
                assert sdk.protocol_version == "2026-07-28", sdk.protocol_version
                for i in range(calls):
                    message = f"{sub}:{n}:{i}"
                    with anyio.fail_after(60):  # only so that a hang fails
                        result = await sdk.call_tool("up__echo", {"message": message})
                    assert not result.is_error, result
                    assert result.content[0].text == message
                    answered[sub] += 1

        with anyio.fail_after(240):
            async with anyio.create_task_group() as tasks:
                for sub in users:
                    for n in range(clients):
                        tasks.start_soon(one_client, sub, n)
        seen = read_log(log)
    assert answered == {sub: clients * calls for sub in users}, answered
    for sub in users:
        assert set(served[sub]) == {"r1", "r2", "r3"}, (sub, served[sub])  # on every replica
    carried = [(token, call) for token, call in seen if call is not None]
    sent = {f"{sub}:{n}:{i}" for sub in users for n in range(clients) for i in range(calls)}
    assert {call for _token, call in carried} == sent  # every call reached the upstream
    owner = {fp: sub for sub, fp in upstream_token.items()}
    crossed = [(call, owner.get(token, "nobody")) for token, call in carried if owner.get(token) != call.split(":")[0]]
    assert not crossed, f"calls that carried another user's token (call, whose token): {crossed}"
    # Nor any other request to the upstream (initialize, listings): only these two tokens, ever.
    assert {token for token, _call in seen} == set(upstream_token.values())
