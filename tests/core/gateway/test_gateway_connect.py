"""``/connect/SERVER``: who may connect an upstream account for a gateway user, and where the
logins in progress live. Real parts: oidc-provider (tests/oidc) as the gateway's authorization
server and the upstream's provider, the SDK's server as the protected upstream, two ``mcpconnect
serve`` processes sharing one store (a SQLite file, then Redis)."""

from __future__ import annotations

import contextlib
import logging
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mcpconnect.testing._transport_contract import free_port
from tests.core.gateway.conftest import _healthy, serve_argv, stop, wait_until
from tests.core.gateway.test_gateway_per_user import (
    Browser,
    connect_link,
    fingerprint,
    listening,
    per_user_config,
    running,
    session,
    upstream_app,
    user_key,
)
from tests.core.gateway.test_gateway_resource import claims
from tests.plugins.store_shared.storeservices import redis_storage  # noqa: F401 - a fixture

pytestmark = pytest.mark.node


async def bobs_link(gw: Any, oidc: Any) -> str:
    async with session(gw, oidc, "bob") as client:
        result = await client.call_tool("up__echo", {"message": "x"})
    assert result.is_error
    return connect_link(result.content[0].text)


async def test_a_link_opened_by_someone_else_connects_nothing(oidc_server):
    async with running(oidc_server) as gw:
        link = await bobs_link(gw, oidc_server)
        async with Browser(oidc_server.issuer, "mallory") as browser:
            page = await browser.open(link)
            assert page.status_code == 403, page.text
            assert "another user" in page.text and "nothing was connected" in page.text
            # The upstream's login never began: one authorization only, the gateway's sign-in.
            authorizations = [u for u in browser.visited if u.startswith(oidc_server.issuer) and "client_id=" in u]
            assert len(authorizations) == 1 and "nonce=" in authorizations[0]
        async with Browser(oidc_server.issuer, "bob") as browser:
            assert (await browser.open(link)).status_code == 400  # the link was spent
        for sub in ("bob", "mallory"):
            assert await gw.runtime.store().list_for_user(user_key(oidc_server, sub)) == []
        assert await gw.runtime.store().list() == []


async def test_a_callback_delivered_by_another_browser_is_refused(oidc_server):
    async with running(oidc_server) as gw:
        link = await bobs_link(gw, oidc_server)
        callback = f"{gw.base}/connect/callback"
        async with Browser(oidc_server.issuer, "bob") as bobs, Browser(oidc_server.issuer, "bob") as other:
            # bob signs in; someone else's browser (no cookie of this login) delivers the callback.
            url = await bobs.open(link, stop_at=callback)
            page = await other.open(url)
            assert page.status_code == 403 and "another browser" in page.text
            assert (await bobs.open(url)).status_code == 400  # and the callback is spent
            # The same for the upstream's callback: a new link, bob signs in, and another browser
            # delivers the upstream's answer.
            link = await bobs_link(gw, oidc_server)
            signed_in = await bobs.open(link, stop_at=callback)
            upstream = await bobs.open(signed_in, stop_at=callback)
            assert upstream != signed_in
            page = await other.open(upstream)
            assert page.status_code == 403
        assert await gw.runtime.store().list_for_user(user_key(oidc_server, "bob")) == []


async def test_no_ticket_state_or_code_reaches_a_log(oidc_server, caplog):
    from urllib.parse import parse_qs, urlsplit

    caplog.set_level(logging.DEBUG)
    async with running(oidc_server) as gw:
        link = await bobs_link(gw, oidc_server)
        async with Browser(oidc_server.issuer, "bob") as browser:
            page = await browser.open(link)
            assert page.status_code == 200, page.text
        secrets = [parse_qs(urlsplit(link).query)["ticket"][0]]
        for url in browser.visited:
            query = parse_qs(urlsplit(url).query)
            secrets += query.get("code", []) + query.get("state", []) + query.get("nonce", [])
        assert len(secrets) >= 5  # the ticket, two states, two codes, a nonce
        # The browser's and the test's own HTTP clients (httpx, httpcore) log their URLs: not the gateway's.
        records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
        assert any(r.name.startswith("mcpconnect") for r in records)
        text = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in records)
        for secret in secrets:
            assert secret not in text


async def test_logins_in_progress_are_taken_once_and_expire(tmp_path: Path):
    from mcpconnect._runtime import Runtime

    runtime = Runtime.build({"storage": {"backend": "sqlite", "path": str(tmp_path / "tokens.db")}})
    try:
        store = runtime.store()
        now = time.time()
        await store.put_flow("ticket-1", {"user": "u"}, expires_at=now + 60)
        await store.put_flow("ticket-2", {"user": "v"}, expires_at=now + 60)
        await store.put_flow("ticket-3", {"user": "w"}, expires_at=now - 1)
        keys = list(await store.backend.list("login-flow"))
        assert len(keys) == 3 and not any("ticket" in k for k in keys)  # keyed by the secret's digest
        assert await store.take_flow("ticket-1") == {"user": "u"}
        assert await store.take_flow("ticket-1") is None  # one use
        assert await store.take_flow("ticket-2", now=now + 61) is None  # expired
        assert await store.take_flow("ticket-3") is None
        await store.put_flow("ticket-4", {"user": "x"}, expires_at=now - 1)
        await store.put_flow("ticket-5", {"user": "y"}, expires_at=now + 60)
        assert await store.sweep_flows() == 1
        assert await store.take_flow("ticket-5") == {"user": "y"}
        # Two takers at once: one gets the record.
        await store.put_flow("ticket-6", {"user": "z"}, expires_at=now + 60)
        got = []

        async def take() -> None:
            got.append(await store.take_flow("ticket-6"))

        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(take)
        assert sorted(got, key=lambda g: g is None) == [{"user": "z"}, None, None, None, None]
    finally:
        await runtime.aclose()


# -- two replicas sharing one store ------------------------------------------------------------------


def _toml(value: Any) -> str:
    import json

    if isinstance(value, dict):
        raise TypeError("tables are written by _tables")
    return json.dumps(value)


def _tables(data: dict[str, Any], prefix: str = "") -> str:
    plain = {k: v for k, v in data.items() if not isinstance(v, dict)}
    nested = {k: v for k, v in data.items() if isinstance(v, dict)}
    out = f"[{prefix}]\n" if prefix and plain else ""
    out += "".join(f"{k} = {_toml(v)}\n" for k, v in plain.items())
    for key, value in nested.items():
        out += _tables(value, f"{prefix}.{key}" if prefix else key)
    return out


@contextlib.contextmanager
def replica(config: Path, port: int) -> Iterator[str]:
    """``mcpconnect serve --transport http`` on ``port``, once its /healthz says ok."""
    argv = serve_argv(config, "--transport", "http", "--port", str(port))
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _healthy(base, process), what=f"serve on port {port}")
        yield base
    finally:
        stop(process)


@contextlib.contextmanager
def two_replicas(tmp_path: Path, oidc: Any, up_base: str, storage: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Two ``mcpconnect serve`` processes with one configuration (public_url: the first's URL, as
    a balancer's would be) and one store; yields their base URLs."""
    a, b = free_port(), free_port()
    config = per_user_config(oidc, up_base, f"http://127.0.0.1:{a}", storage)
    path = tmp_path / "mcpconnect.toml"
    path.write_text(_tables(config))
    path.chmod(0o600)
    with replica(path, a) as first, replica(path, b) as second:
        yield first, second


@contextlib.asynccontextmanager
async def upstream(oidc: Any) -> Any:
    from mcpconnect._gateway.http import serve_app

    recorder = upstream_app(oidc)
    sock, base = listening()
    stop = anyio.Event()
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(serve_app, recorder, sock, stop)
            yield base, recorder
            stop.set()
    finally:
        sock.close()


async def call_as(base: str, public: str, oidc: Any, sub: str, message: str) -> Any:
    token = oidc.sign(claims(oidc, f"{public}/mcp", sub=sub))
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    async with http, Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client:
        return await client.call_tool("up__echo", {"message": message})


async def connect_across_replicas(tmp_path: Path, oidc: Any, storage: dict[str, Any]) -> None:
    async with upstream(oidc) as (up_base, recorder):
        with two_replicas(tmp_path, oidc, up_base, storage) as (a, b):
            result = await call_as(a, a, oidc, "bob", "x")
            assert result.is_error and f"{a}/connect/up?ticket=" in result.content[0].text
            link = connect_link(result.content[0].text)
            hops: list[str] = []

            def balance(url: str) -> str:
                # The balancer sends every other /connect request to the other replica: the link is
                # opened on a, the sign-in's callback lands on b, the upstream's callback on a.
                if url.startswith(f"{a}/connect/"):
                    target = (a, b)[len(hops) % 2]
                    hops.append(target)
                    return target + url[len(a) :]
                return url

            async with Browser(oidc.issuer, "bob", route=balance) as browser:
                page = await browser.open(link)
                assert page.status_code == 200, page.text
            assert hops == [a, b, a]
            # bob's calls on either replica now carry bob's token.
            for base in (b, a):
                before = len(recorder.seen)
                result = await call_as(base, a, oidc, "bob", f"via {base}")
                assert not result.is_error, result.content[0].text
                assert {who for _, who in recorder.seen[before:]} == {"bob"}
            fps = {fp for fp, _ in recorder.seen}
            assert len(fps) == 1 and all(len(fp) == len(fingerprint("x")) for fp in fps)


async def test_a_connect_begun_on_one_replica_finishes_on_another_sqlite(oidc_server, tmp_path):
    storage = {"backend": "sqlite", "path": str(tmp_path / "shared.db")}
    await connect_across_replicas(tmp_path, oidc_server, storage)


async def test_a_connect_begun_on_one_replica_finishes_on_another_redis(oidc_server, tmp_path, redis_storage):  # noqa: F811
    await connect_across_replicas(tmp_path, oidc_server, redis_storage)
