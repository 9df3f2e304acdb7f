"""mcpconnect-auth-linear against a local Linear replica."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import mcpconnect_auth_linear
import pytest
from provider_suite import NAME, ProviderContract, engine_contract
from replicas import LinearReplica

from mcpconnect.auth import TokenManager


@pytest.fixture(scope="module")
def linear_server() -> Iterator[LinearReplica]:
    replica = LinearReplica()
    with replica.serve():
        yield replica


@pytest.fixture
def replica(linear_server: LinearReplica) -> LinearReplica:
    linear_server.reset()
    return linear_server


class TestLinearContract(ProviderContract):
    plugin = mcpconnect_auth_linear
    provider_type = "linear"
    account = "2f8d5c1e-lin-user"
    account_name = "Grace Hopper"

    async def test_scopes_are_comma_separated(self, runtime: Any, replica: LinearReplica) -> None:
        runtime.config.providers[NAME].scopes = ["read", "write", "issues:create"]
        token = await self.login(TokenManager(runtime, retries=1))
        assert replica.authorize_requests[-1]["scope"] == "read,write,issues:create"
        assert token.scopes == ("read", "write", "issues:create")

    async def test_form_body_carries_the_client_secret(self, manager: TokenManager, replica: LinearReplica) -> None:
        token = await self.login(manager)
        request = replica.token_requests[-1]
        assert request["body"]["client_secret"] == replica.client_secret
        assert "authorization" not in request["headers"]
        assert token.expires_at is not None and token.refresh_token is not None


#: The core's provider contract (mcpconnect.testing._provider_contract), configured like the suite above.
TestLinearEngineContract = engine_contract(TestLinearContract)


async def test_graphql_errors_with_a_bad_token_are_clear(replica: LinearReplica) -> None:
    import httpx

    from mcpconnect._config.model import ProviderConfig
    from mcpconnect.auth import OAuthError, TokenResponse

    provider = mcpconnect_auth_linear.LinearProvider(
        "lin", ProviderConfig(type="linear", client_id=replica.client_id, base_url=replica.url)
    )
    async with httpx.AsyncClient() as http:
        with pytest.raises(OAuthError, match="refused the viewer query") as info:
            await provider.identity(http, TokenResponse(access_token="lin_oauth_not-a-real-token"))
    assert "Authentication required" in str(info.value)
    assert "not-a-real-token" not in str(info.value)
