"""mcpconnect-auth-microsoft against a local Microsoft identity platform replica."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import mcpconnect_auth_microsoft
import pytest
from provider_suite import NAME, ProviderContract, engine_contract
from replicas import MicrosoftReplica

from mcpconnect._config.model import ProviderConfig
from mcpconnect.auth import NeedsLoginError, OAuthError, TokenManager
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

    async def test_domain_tenant_logs_in_with_the_issuer_its_discovery_states(
        self, runtime: Any, replica: MicrosoftReplica
    ) -> None:
        # The docs' own example: Entra puts the tenant's GUID in iss, not the domain.
        runtime.config.providers[NAME].tenant = "contoso.onmicrosoft.com"
        manager = TokenManager(runtime, retries=1)
        token = await self.login(manager)
        assert token.account == self.account
        assert token.issuer == f"{replica.url}/{MicrosoftReplica.home_tenant}/v2.0"
        assert "contoso.onmicrosoft.com" in replica.tenants

    async def test_id_token_from_another_tenant_is_refused(self, runtime: Any, replica: MicrosoftReplica) -> None:
        runtime.config.providers[NAME].tenant = "fabrikam.onmicrosoft.com"
        manager = TokenManager(runtime, retries=1)
        with pytest.raises(AuthError, match="issued by"):
            await self.login(manager)
        assert await manager.store.list(NAME) == []

    async def test_unknown_tenant_is_named_with_its_aadsts_code(self, runtime: Any, replica: MicrosoftReplica) -> None:
        runtime.config.providers[NAME].tenant = "nowhere.onmicrosoft.com"
        manager = TokenManager(runtime, retries=1)
        with pytest.raises(AuthError) as info:
            await self.login(manager)
        assert "AADSTS90002" in str(info.value) and "check tenant" in str(info.value)
        assert await manager.store.list(NAME) == []

    @pytest.mark.parametrize(
        ("error", "code", "advice"),
        [
            ("invalid_grant", 50173, "sign-in session was revoked"),
            ("invalid_grant", 700082, "expired after 90 days"),
            ("invalid_grant", 65001, "consent for this app is missing or was revoked"),
            ("interaction_required", 50076, "multi-factor authentication"),
        ],
    )
    async def test_rejected_refresh_keeps_the_aadsts_reason(
        self, manager: TokenManager, replica: MicrosoftReplica, error: str, code: int, advice: str
    ) -> None:
        await self.login(manager)
        replica.refresh_error = (error, code, "replica text")
        with pytest.raises(NeedsLoginError) as info:
            await manager.refresh(NAME)
        message = str(info.value)
        assert f"AADSTS{code}" in message and advice in message and f"mcpconnect login {NAME}" in message
        assert "its refresh token was rejected" not in message
        # The reason stays with the login: a later use says the same, not a generic line.
        with pytest.raises(NeedsLoginError) as later:
            await manager.get_token(NAME)
        assert f"AADSTS{code}" in str(later.value) and advice in str(later.value)

    async def test_declined_device_login_says_so(self, manager: TokenManager, replica: MicrosoftReplica) -> None:
        from provider_suite import no_wait

        replica.decline_devices = True
        with pytest.raises(OAuthError) as info:
            await manager.login(
                NAME, method="device", on_device_code=lambda auth: replica.approve(auth.user_code), device_sleep=no_wait
            )
        assert info.value.error == "authorization_declined"
        assert "declined" in str(info.value) and f"mcpconnect login {NAME} --device" in str(info.value)
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


#: The core's provider contract (mcpconnect.testing._provider_contract), configured like the suite above.
TestMicrosoftEngineContract = engine_contract(TestMicrosoftContract)
