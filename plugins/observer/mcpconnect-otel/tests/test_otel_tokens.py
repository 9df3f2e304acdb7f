"""mcpconnect-otel and the token manager against oidc-provider: login and refresh spans, token
expiry, refreshes, refresh failures by reason, logins needed, the circuit breaker."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from mcpconnect_oidc_server import CONFIDENTIAL_SECRET

from mcpconnect.auth import NeedsLoginError, TokenManager, TransientAuthError
from mcpconnect.auth._headless import follow_authorization

pytestmark = pytest.mark.node


@pytest.fixture
def runtime(oidc_server, host):
    from mcpconnect._runtime import Runtime

    provider = {
        "type": "oidc",
        "issuer": oidc_server.issuer,
        "client_id": "confidential",
        "client_secret": CONFIDENTIAL_SECRET,
    }
    return Runtime.build({"storage": {"backend": "memory"}, "providers": {"local": provider}}, host=host)


async def _expire(manager: TokenManager) -> None:
    stored = await manager.store.get("local", "alice")
    now = datetime.now(UTC)
    aged = {"expires_at": now - timedelta(seconds=60), "obtained_at": now - timedelta(hours=1)}
    await manager.store.put(stored.token.model_copy(update=aged), expected_version=stored.version)


def _secrets(token) -> list[str]:
    return [s.get_secret_value() for s in (token.access_token, token.refresh_token, token.id_token) if s is not None]


async def test_login_and_refresh_spans_and_metrics_hold_no_secret(oidc_server, runtime, otel):
    manager = TokenManager(runtime, backoff=0.0)
    first = await manager.login("local", on_url=follow_authorization)
    login = otel.span("mcpconnect.login local")
    assert dict(login.attributes) | {} == {
        "mcpconnect.provider": "local",
        "mcpconnect.grant": "browser",
        "mcpconnect.outcome": "ok",
        "mcpconnect.account": "alice",
    }
    expires_in = otel.value("mcpconnect.token.expires_in", mcpconnect__provider="local", mcpconnect__account="alice")
    assert 0 < expires_in <= first.expires_in().total_seconds() + 1

    await _expire(manager)
    second = await manager.get_token("local")
    refresh = otel.span("mcpconnect.refresh local")
    assert dict(refresh.attributes)["mcpconnect.refresh.attempts"] == 1
    assert dict(refresh.attributes)["mcpconnect.circuit.state"] == "closed"
    assert otel.value("mcpconnect.token.refreshes", mcpconnect__provider="local", mcpconnect__outcome="ok") == 1
    assert otel.value("mcpconnect.logins", mcpconnect__grant="browser", mcpconnect__outcome="ok") == 1
    assert otel.value("mcpconnect.auth.duration", mcpconnect__operation="refresh") == 1
    assert (
        otel.value("mcpconnect.provider.circuit.state", mcpconnect__provider="local", mcpconnect__state="closed") == 1
    )
    assert otel.value("mcpconnect.token.expires_in", mcpconnect__account="alice") > 0

    recorded = json.dumps([dict(s.attributes) for s in otel.spans()]) + json.dumps(otel.metrics(), default=str)
    for secret in _secrets(first) + _secrets(second) + [CONFIDENTIAL_SECRET]:
        assert secret not in recorded


async def test_a_rejected_refresh_token_counts_as_a_login_needed(oidc_server, runtime, otel):
    manager = TokenManager(runtime, backoff=0.0)
    await manager.login("local", on_url=follow_authorization)
    stale = (await manager.store.get("local", "alice")).token
    await manager.refresh("local")  # rotates: the stale copy's refresh token is spent
    stored = await manager.store.get("local", "alice")
    await manager.store.put(stale.model_copy(update={"expires_at": datetime.now(UTC)}), expected_version=stored.version)
    assert otel.value("mcpconnect.token.login_needed", mcpconnect__provider="local") == 0

    with pytest.raises(NeedsLoginError):
        await manager.get_token("local")
    assert otel.value("mcpconnect.token.login_needed", mcpconnect__provider="local") == 1
    assert otel.value("mcpconnect.token.refresh.failures", error__type="invalid_grant") == 1
    failed = [s for s in otel.spans() if s.name == "mcpconnect.refresh local"][-1]
    assert dict(failed.attributes)["error.type"] == "invalid_grant"
    assert otel.value("mcpconnect.token.refreshes", mcpconnect__outcome="error") == 1

    await manager.login("local", on_url=follow_authorization)  # a new login clears it
    assert otel.value("mcpconnect.token.login_needed", mcpconnect__provider="local") == 0


async def test_transient_failures_and_the_open_circuit_are_reported_by_reason(oidc_server, runtime, otel):
    now = [1000.0]
    manager = TokenManager(runtime, backoff=0.0, retries=2, breaker_threshold=2, clock=lambda: now[0])
    await manager.login("local", on_url=follow_authorization)
    await _expire(manager)
    oidc_server.set(failToken=100)
    with pytest.raises(TransientAuthError):
        await manager.get_token("local")
    assert (
        otel.value(
            "mcpconnect.token.refresh.failures", error__type="temporarily_unavailable", mcpconnect__will_retry=True
        )
        == 1
    )
    assert (
        otel.value(
            "mcpconnect.token.refresh.failures", error__type="temporarily_unavailable", mcpconnect__will_retry=False
        )
        == 1
    )
    assert otel.value("mcpconnect.provider.circuit.state", mcpconnect__state="open") == 1

    with pytest.raises(TransientAuthError, match="circuit open"):
        await manager.get_token("local")  # refused without a request
    assert otel.value("mcpconnect.token.refresh.failures", error__type="circuit_open") == 1
    refused = [s for s in otel.spans() if s.name == "mcpconnect.refresh local"][-1]
    assert dict(refused.attributes)["mcpconnect.refresh.attempts"] == 0
    assert dict(refused.attributes)["error.type"] == "circuit_open"

    oidc_server.set(failToken=0)
    now[0] += 31
    await manager.get_token("local")  # the half-open probe succeeds
    assert otel.value("mcpconnect.provider.circuit.state", mcpconnect__state="closed") == 1
    assert otel.value("mcpconnect.provider.circuit.state", mcpconnect__state="open") == 0


async def test_logout_forgets_the_token_gauges(oidc_server, runtime, otel):
    manager = TokenManager(runtime)
    await manager.login("local", on_url=follow_authorization)
    assert "mcpconnect.token.expires_in" in otel.metrics()
    await manager.logout("local")
    assert "mcpconnect.token.expires_in" not in otel.metrics()
