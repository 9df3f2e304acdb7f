"""mcpconnect-auth-microsoft against a local Microsoft identity platform replica."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import mcpconnect_auth_microsoft
import pytest
from provider_suite import NAME, ProviderContract, engine_contract
from replicas import MicrosoftReplica

from mcpconnect.auth import NeedsLoginError, TokenManager
from mcpconnect.config.model import ProviderConfig
from mcpconnect.errors import AuthError, ConfigError


@pytest.fixture(scope="module")
def microsoft_server() -> Iterator[MicrosoftReplica]:
    replica = MicrosoftReplica()
    with replica.serve():
        yield replica


@pytest.fixture
def replica(microsoft_server: MicrosoftReplica) -> MicrosoftReplica:
    microsoft_server.reset()
    return microsoft_server


class TestMicrosoftContract(ProviderContract):
    plugin = mcpconnect_auth_microsoft
    provider_type = "microsoft"
    account = f"{MicrosoftReplica.oid}.{MicrosoftReplica.home_tenant}"
    account_name = "Megan Bowen"
    revokes = False
    device = True

    def settings(self, replica: Any) -> dict[str, Any]:
        return {**super().settings(replica), "api_url": replica.url}

    async def test_common_tenant_and_offline_access(self, manager: TokenManager, replica: MicrosoftReplica) -> None:
        token = await self.login(manager)
        assert set(replica.tenants) == {"common"}
        assert "offline_access" in replica.authorize_requests[-1]["scope"].split()
        assert token.refresh_token is not None

    async def test_offline_access_is_added_to_configured_scopes(self, runtime: Any, replica: MicrosoftReplica) -> None:
        runtime.config.providers[NAME].scopes = ["openid", "User.Read"]
        token = await self.login(TokenManager(runtime, retries=1))
        assert replica.authorize_requests[-1]["scope"].split() == ["openid", "User.Read", "offline_access"]
        assert token.refresh_token is not None

    async def test_tenant_id_is_used_and_the_id_token_issuer_checked(
        self, runtime: Any, replica: MicrosoftReplica
    ) -> None:
        runtime.config.providers[NAME].tenant = MicrosoftReplica.home_tenant
        token = await self.login(TokenManager(runtime, retries=1))
        assert set(replica.tenants) == {MicrosoftReplica.home_tenant}
        assert token.account == self.account

    async def test_id_token_from_another_tenant_is_refused(self, runtime: Any, replica: MicrosoftReplica) -> None:
        runtime.config.providers[NAME].tenant = "contoso.onmicrosoft.com"
        manager = TokenManager(runtime, retries=1)
        with pytest.raises(AuthError, match="issued by"):
            await self.login(manager)
        assert await manager.store.list(NAME) == []

    async def test_without_graph_scope_the_id_token_names_the_user(
        self, runtime: Any, replica: MicrosoftReplica
    ) -> None:
        runtime.config.providers[NAME].scopes = ["openid", "profile", "api://my-api/read"]
        token = await self.login(TokenManager(runtime, retries=1))
        assert token.account == self.account and token.account_name == "Megan Bowen"

    async def test_interaction_required_needs_login(self, manager: TokenManager, replica: MicrosoftReplica) -> None:
        await self.login(manager)
        replica.interaction_required = True
        with pytest.raises(NeedsLoginError, match="mcpconnect login"):
            await manager.refresh(NAME)


async def test_bad_tenant_is_a_config_error() -> None:
    provider = mcpconnect_auth_microsoft.MicrosoftProvider(
        "ms", ProviderConfig(type="microsoft", client_id="x", tenant="../evil")
    )
    async with httpx.AsyncClient() as http:
        with pytest.raises(ConfigError, match="tenant"):
            await provider.endpoints(http)


async def test_default_endpoints() -> None:
    provider = mcpconnect_auth_microsoft.MicrosoftProvider("ms", ProviderConfig(type="microsoft", client_id="x"))
    async with httpx.AsyncClient() as http:
        endpoints = await provider.endpoints(http)
    assert endpoints.authorize == "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
    assert endpoints.device == "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode"
    assert endpoints.userinfo == "https://graph.microsoft.com/v1.0/me"
    assert endpoints.revoke is None and endpoints.issuer is None


#: The core's provider contract (mcpconnect.testing.provider_contract), configured like the suite above.
TestMicrosoftEngineContract = engine_contract(TestMicrosoftContract)
