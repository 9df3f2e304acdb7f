"""The token lifecycle against oidc-provider: refresh with rotation, single flight, invalid_grant,
transient failures, the circuit breaker, a 401 from a server, logout with revocation."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from mcpconnect_oidc_server import CONFIDENTIAL_SECRET
from pydantic import SecretStr

from mcpconnect._serverauth import OAuthBearerAuth
from mcpconnect.auth import NeedsLoginError, TokenManager, TransientAuthError
from mcpconnect.auth._errors import CircuitOpenError
from mcpconnect.auth._headless import follow_authorization
from mcpconnect.hookspecs import hookimpl

pytestmark = pytest.mark.node


def confidential(server) -> dict:
    return {"type": "oidc", "issuer": server.issuer, "client_id": "confidential", "client_secret": CONFIDENTIAL_SECRET}


class Events:
    """An observer plugin recording the token events the manager fires."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str, object]] = []

    @hookimpl
    def on_token_obtained(self, provider, account):
        self.seen.append(("obtained", provider, account, None))

    @hookimpl
    def on_token_refreshed(self, provider, account):
        self.seen.append(("refreshed", provider, account, None))

    @hookimpl
    def on_token_refresh_failed(self, provider, account, will_retry):
        self.seen.append(("refresh_failed", provider, account, will_retry))

    @hookimpl
    def on_token_revoked(self, provider, account, remote):
        self.seen.append(("revoked", provider, account, remote))

    def kinds(self) -> list[str]:
        return [e[0] for e in self.seen]


@pytest.fixture
async def logged_in(oidc_server, make_runtime):
    """A manager (fast backoff) logged in as alice at provider 'local', with an event recorder."""
    runtime = make_runtime({"local": confidential(oidc_server)})
    events = Events()
    runtime.host.pm.register(events)
    manager = TokenManager(runtime, backoff=0.01, breaker_threshold=3)
    await manager.login("local", on_url=follow_authorization)
    oidc_server.set(reset=1)
    return manager, events


async def expire(manager: TokenManager, *, seconds: float = -60) -> None:
    """Make the stored token expire (or expire within the margin) without touching the server."""
    stored = await manager.store.get("local", "alice")
    assert stored is not None
    now = datetime.now(UTC)
    aged = {"expires_at": now + timedelta(seconds=seconds), "obtained_at": now - timedelta(hours=1)}
    await manager.store.put(stored.token.model_copy(update=aged), expected_version=stored.version)


async def test_refresh_rotates_and_the_old_refresh_token_is_rejected(oidc_server, logged_in):
    manager, events = logged_in
    old = (await manager.store.get("local", "alice")).token
    await expire(manager)
    new = await manager.get_token("local")

    assert new.access_token != old.access_token
    assert new.refresh_token is not None and new.refresh_token != old.refresh_token
    stored = await manager.store.get("local", "alice")
    assert stored.token.refresh_token == new.refresh_token  # stored before it was handed out
    assert oidc_server.introspect(new.access_token.get_secret_value())["active"] is True
    assert "refreshed" in events.kinds()

    # The rotated-out refresh token is refused by the server: a stale copy must not be usable.
    async with manager.http() as http:
        with pytest.raises(NeedsLoginError, match="invalid_grant"):
            await manager.provider("local").refresh(http, old)


async def test_a_valid_token_is_handed_out_without_a_request(oidc_server, logged_in):
    manager, _ = logged_in
    token = await manager.get_token("local")
    assert (await manager.get_token("local", "alice")).access_token == token.access_token
    assert oidc_server.stats()["tokenRequests"] == 0


async def test_refresh_ahead_of_expiry_by_the_margin(oidc_server, logged_in):
    manager, _ = logged_in
    await expire(manager, seconds=120)  # still valid, but inside the 300 s margin
    before = (await manager.store.get("local", "alice")).token
    after = await manager.get_token("local")
    assert after.access_token != before.access_token
    assert oidc_server.stats()["refreshGrants"] == 1


async def test_1000_concurrent_callers_cause_exactly_one_refresh(oidc_server, logged_in):
    manager, _ = logged_in
    await expire(manager)
    tokens = await asyncio.gather(*(manager.get_token("local") for _ in range(1000)))
    assert len({t.access_token.get_secret_value() for t in tokens}) == 1
    assert oidc_server.stats()["refreshGrants"] == 1
    stored = await manager.store.get("local", "alice")
    assert stored.token.access_token == tokens[0].access_token


async def test_two_managers_on_one_store_refresh_once(oidc_server, logged_in):
    """Two managers stand for two processes: the store's refresh lock and the re-read keep it to one."""
    manager, _ = logged_in
    other = TokenManager(manager.runtime)
    await expire(manager)
    a, b = await asyncio.gather(manager.get_token("local"), other.get_token("local"))
    assert a.access_token == b.access_token
    assert oidc_server.stats()["refreshGrants"] == 1


async def test_invalid_grant_marks_needs_login_and_says_so(oidc_server, logged_in):
    manager, events = logged_in
    stale = (await manager.store.get("local", "alice")).token
    await manager.refresh("local")  # rotates: the stale copy's refresh token is now spent
    stored = await manager.store.get("local", "alice")
    await manager.store.put(stale.model_copy(update={"expires_at": datetime.now(UTC)}), expected_version=stored.version)

    with pytest.raises(NeedsLoginError, match="run 'mcpconnect login local'") as info:
        await manager.get_token("local")
    assert "invalid_grant" in str(info.value) or "needs renewing" in str(info.value)
    marked = (await manager.store.get("local", "alice")).token
    assert marked.needs_login and marked.summary()["state"] == "needs login"
    assert ("refresh_failed", "local", "alice", False) in events.seen
    # Later callers are told at once, without another request.
    requests = oidc_server.stats()["tokenRequests"]
    with pytest.raises(NeedsLoginError):
        await manager.get_token("local")
    assert oidc_server.stats()["tokenRequests"] == requests


async def test_transient_failures_retry_and_never_touch_the_stored_token(oidc_server, logged_in):
    manager, events = logged_in
    await expire(manager)
    before = await manager.store.get("local", "alice")
    oidc_server.set(failToken=100)
    with pytest.raises(TransientAuthError, match="try again later"):
        await manager.get_token("local")
    after = await manager.store.get("local", "alice")
    assert after.version == before.version and after.token == before.token
    assert oidc_server.stats()["tokenRequests"] == 3  # retried with backoff
    assert [e[3] for e in events.seen if e[0] == "refresh_failed"] == [True, True, False]


async def test_transient_failure_before_expiry_hands_out_the_still_valid_token(oidc_server, logged_in, caplog):
    manager, _ = logged_in
    await expire(manager, seconds=120)
    before = await manager.store.get("local", "alice")
    oidc_server.set(failToken=100)
    with caplog.at_level(logging.WARNING, logger="mcpconnect"):
        token = await manager.get_token("local")
    assert token.access_token == before.token.access_token
    assert any("still valid" in r.getMessage() for r in caplog.records)
    assert (await manager.store.get("local", "alice")).version == before.version


async def test_circuit_breaker_opens_then_probes_half_open(oidc_server, oidc_server_session, make_runtime):
    now = [1000.0]
    manager = TokenManager(
        make_runtime({"local": confidential(oidc_server)}),
        backoff=0.0,
        retries=1,
        breaker_threshold=3,
        breaker_cooldown=30,
        clock=lambda: now[0],
    )
    await manager.login("local", on_url=follow_authorization)
    await expire(manager)
    oidc_server.set(reset=1, failToken=100)
    for _ in range(3):
        with pytest.raises(TransientAuthError, match="try again later"):
            await manager.get_token("local")
    assert manager.breaker("local").state == "open"
    with pytest.raises(CircuitOpenError, match="circuit open"):
        await manager.get_token("local")
    assert oidc_server.stats()["tokenRequests"] == 3  # no request while open

    oidc_server.set(failToken=0)
    now[0] += 31
    assert manager.breaker("local").state == "half-open"
    token = await manager.get_token("local")  # the probe succeeds and closes the breaker
    assert not token.is_expiring()
    assert manager.breaker("local").state == "closed"


async def test_half_open_probe_failure_reopens(oidc_server, make_runtime):
    now = [0.0]
    manager = TokenManager(
        make_runtime({"local": confidential(oidc_server)}),
        backoff=0.0,
        retries=1,
        breaker_threshold=2,
        clock=lambda: now[0],
    )
    await manager.login("local", on_url=follow_authorization)
    await expire(manager)
    oidc_server.set(failToken=100)
    for _ in range(2):
        with pytest.raises(TransientAuthError):
            await manager.get_token("local")
    now[0] += 31
    with pytest.raises(TransientAuthError, match="try again later"):
        await manager.get_token("local")  # the probe fails
    assert manager.breaker("local").state == "open"


async def test_a_401_from_a_server_refreshes_once_then_retries(oidc_server, logged_in):
    manager, _ = logged_in
    stored = await manager.store.get("local", "alice")
    # A token the server no longer accepts, though it has not expired locally.
    broken = stored.token.model_copy(update={"access_token": SecretStr("no-longer-valid-access-token-0000")})
    await manager.store.put(broken, expected_version=stored.version)
    auth = OAuthBearerAuth(manager, "local", "alice")
    async with httpx.AsyncClient(auth=auth) as http:
        response = await http.get(f"{oidc_server.issuer}/me")
    assert response.status_code == 200 and response.json()["sub"] == "alice"
    assert oidc_server.stats()["refreshGrants"] == 1
    assert "no-longer-valid" not in repr(auth)


async def test_a_401_without_a_refresh_token_asks_for_a_login(oidc_server, logged_in):
    manager, _ = logged_in
    stored = await manager.store.get("local", "alice")
    broken = stored.token.model_copy(
        update={"access_token": SecretStr("no-longer-valid-access-token-0000"), "refresh_token": None}
    )
    await manager.store.put(broken, expected_version=stored.version)
    async with httpx.AsyncClient(auth=OAuthBearerAuth(manager, "local", "alice")) as http:
        with pytest.raises(NeedsLoginError, match=r"rejected the token .* run 'mcpconnect login local'"):
            await http.get(f"{oidc_server.issuer}/me")


async def test_logout_revokes_at_the_provider_and_deletes(oidc_server, logged_in):
    manager, events = logged_in
    token = (await manager.store.get("local", "alice")).token
    result = await manager.logout("local")
    assert result.remote is True and result.warning is None
    assert await manager.store.list() == []
    assert oidc_server.introspect(token.access_token.get_secret_value())["active"] is False
    assert oidc_server.introspect(token.refresh_token.get_secret_value())["active"] is False
    assert ("revoked", "local", "alice", True) in events.seen


async def test_logout_deletes_locally_when_the_provider_is_down(oidc_server, logged_in):
    manager, events = logged_in
    provider = manager.provider("local")
    endpoints = await provider.endpoints(manager.http())
    # The revocation endpoint stops answering (a closed port).
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider._endpoints = type(endpoints)(**{**endpoints.__dict__, "revoke": f"http://127.0.0.1:{port}/revoke"})
    result = await manager.logout("local")
    assert result.remote is False
    assert "cannot reach the revocation endpoint" in result.warning and "deleted locally" in result.warning
    assert await manager.store.list() == []
    assert ("revoked", "local", "alice", False) in events.seen


async def test_not_logged_in_says_what_to_run(make_runtime, oidc_server):
    manager = TokenManager(make_runtime({"local": confidential(oidc_server)}))
    with pytest.raises(NeedsLoginError, match="provider 'local': not logged in; run 'mcpconnect login local'"):
        await manager.get_token("local")
    with pytest.raises(Exception, match="no provider named 'nope' is configured"):
        manager.provider("nope")


async def test_health_reports_reachability_login_and_expiry(oidc_server, logged_in, make_runtime):
    manager, _ = logged_in
    report = await manager.health("local")
    assert report["reachable"] is True and report["logged_in"] is True and report["problem"] is None
    (account,) = report["accounts"]
    assert account["account"] == "alice" and account["expires_in_seconds"] > 3000
    assert account["access_token"] is None
    down = TokenManager(make_runtime({"down": {"type": "oidc", "issuer": "http://127.0.0.1:9", "client_id": "x"}}))
    report = await down.health("down")
    assert report["logged_in"] is False and "cannot reach the issuer" in report["problem"]


async def test_two_stores_on_one_sqlite_file_refresh_once(oidc_server, tmp_path):
    """Two runtimes, each with its own sqlite connection to one file, stand for two processes."""
    pytest.importorskip("mcpconnect_store_sqlite", reason="needs the sqlite store plugin installed")
    from mcpconnect._plugins import PluginHost
    from mcpconnect._runtime import Runtime

    config = {
        "storage": {"backend": "sqlite", "path": str(tmp_path / "tokens.db")},
        "providers": {"local": confidential(oidc_server)},
    }
    first = Runtime.build(config, host=PluginHost(load=["sqlite"]))
    second = Runtime.build(config, host=PluginHost(load=["sqlite"]))
    try:
        one, two = TokenManager(first), TokenManager(second)
        await one.login("local", on_url=follow_authorization)
        await expire(one)
        oidc_server.set(reset=1)
        results = await asyncio.gather(*(m.get_token("local") for m in (one, two) for _ in range(50)))
        assert len({t.access_token.get_secret_value() for t in results}) == 1
        assert oidc_server.stats()["refreshGrants"] == 1
    finally:
        await first.aclose()
        await second.aclose()


async def test_short_lived_tokens_are_not_refreshed_on_every_use(oidc_server, logged_in):
    manager, _ = logged_in
    stored = await manager.store.get("local", "alice")
    now = datetime.now(UTC)
    # A 4-minute token, fresh: inside the 300 s margin, but not yet half-way through its life.
    short = stored.token.model_copy(update={"obtained_at": now, "expires_at": now + timedelta(minutes=4)})
    await manager.store.put(short, expected_version=stored.version)
    assert (await manager.get_token("local")).access_token == short.access_token
    assert oidc_server.stats()["refreshGrants"] == 0
    # Past half its life it is refreshed.
    stored = await manager.store.get("local", "alice")
    older = short.model_copy(
        update={"obtained_at": now - timedelta(minutes=3), "expires_at": now + timedelta(minutes=1)}
    )
    await manager.store.put(older, expected_version=stored.version)
    assert (await manager.get_token("local")).access_token != short.access_token
    assert oidc_server.stats()["refreshGrants"] == 1
