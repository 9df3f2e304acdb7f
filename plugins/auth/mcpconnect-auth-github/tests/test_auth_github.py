"""mcpconnect-auth-github against a local GitHub replica."""

from __future__ import annotations

from collections.abc import Iterator

import mcpconnect_auth_github
import pytest
from provider_suite import NAME, ProviderContract, engine_contract, no_wait
from pydantic import SecretStr
from replicas import GitHubReplica

from mcpconnect._config.model import ProviderConfig
from mcpconnect.auth import NeedsLoginError, OAuthError, TokenManager
from mcpconnect.errors import AuthError


@pytest.fixture(scope="module")
def github_server() -> Iterator[GitHubReplica]:
    replica = GitHubReplica()
    with replica.serve():
        yield replica


@pytest.fixture
def replica(github_server: GitHubReplica) -> GitHubReplica:
    github_server.reset()
    return github_server


class TestGitHubContract(ProviderContract):
    plugin = mcpconnect_auth_github
    provider_type = "github"
    account = "583231"
    account_name = "The Octocat"
    device = True

    async def test_oauth_app_token_without_refresh_stays_usable(
        self, manager: TokenManager, replica: GitHubReplica
    ) -> None:
        from mcpconnect.auth._errors import NotRefreshableError

        replica.expiring = False  # an OAuth App: the token never expires, no refresh token
        token = await self.login(manager)
        assert token.refresh_token is None and token.expires_at is None
        before = len(replica.token_requests)
        with pytest.raises(NotRefreshableError) as info:
            await manager.refresh(NAME)
        message = str(info.value)
        assert "cannot be refreshed" in message and "no refresh token" in message and "does not expire" in message
        assert "rejected" not in message
        assert len(replica.token_requests) == before  # no request reached GitHub
        stored = (await manager.stored(NAME)).token
        assert not stored.needs_login
        assert (await manager.get_token(NAME)).access_token == token.access_token

    async def test_secondary_rate_limit_is_transient_and_keeps_the_token(self, runtime, replica: GitHubReplica) -> None:
        from mcpconnect.auth import TransientAuthError

        manager = TokenManager(runtime, retries=3, backoff=0)
        token = await self.login(manager)
        replica.secondary_limit = 120
        before = len(replica.token_requests)
        with pytest.raises(TransientAuthError) as info:
            await manager.refresh(NAME)
        assert info.value.retry_after == 120 and "try again in 2 min" in str(info.value)
        assert len(replica.token_requests) == before + 1
        stored = (await manager.stored(NAME)).token
        assert not stored.needs_login and stored.refresh_token == token.refresh_token

    async def test_form_encoded_answers_are_read(self, manager: TokenManager, replica: GitHubReplica) -> None:
        replica.ignore_accept = True  # as GitHub answers without Accept: application/json
        token = await self.login(manager)
        assert token.account == "583231"
        assert token.refresh_token is not None and token.expires_at is not None
        assert token.refresh_expires_at is not None  # refresh_token_expires_in, sent as a string here
        assert token.scopes == ("read:user",)

    async def test_bad_verification_code_with_http_200(self, manager: TokenManager, replica: GitHubReplica) -> None:
        replica.codes_expire = True
        with pytest.raises(NeedsLoginError) as info:
            await self.login(manager)
        assert info.value.error == "bad_verification_code"
        assert "wrong or has expired" in str(info.value)
        assert await manager.store.list(NAME) == []

    async def test_form_encoded_error_is_an_error_too(self, manager: TokenManager, replica: GitHubReplica) -> None:
        replica.ignore_accept = True
        replica.codes_expire = True
        with pytest.raises(NeedsLoginError, match="bad_verification_code"):
            await self.login(manager)
        assert await manager.store.list(NAME) == []

    async def test_wrong_secret_names_the_setting(self, replica: GitHubReplica, runtime) -> None:
        runtime.config.providers[NAME].client_secret = SecretStr("wrong-secret")
        manager = TokenManager(runtime, retries=1)
        with pytest.raises(OAuthError) as info:
            await self.login(manager)
        assert info.value.error == "incorrect_client_credentials"
        assert f"[providers.{NAME}]" in str(info.value)
        assert "wrong-secret" not in str(info.value)
        assert await manager.store.list(NAME) == []

    async def test_oauth_app_tokens_never_expire(self, manager: TokenManager, replica: GitHubReplica) -> None:
        replica.expiring = False
        token = await self.login(manager)
        assert token.expires_at is None and token.refresh_token is None
        again = await manager.get_token(NAME)
        assert again.access_token.get_secret_value() == token.access_token.get_secret_value()

    async def test_device_flow_sends_no_secret_and_reports_disabled(
        self, manager: TokenManager, replica: GitHubReplica
    ) -> None:
        replica.device_flow_enabled = False
        with pytest.raises(OAuthError, match="enable it in the app's settings"):
            await manager.login(NAME, method="device", on_device_code=lambda _: None, device_sleep=no_wait)
        assert await manager.store.list(NAME) == []

    async def test_revocation_needs_the_secret(self, replica: GitHubReplica, runtime) -> None:
        manager = TokenManager(runtime, retries=1)
        token = await self.login(manager)
        runtime.config.providers[NAME].client_secret = None
        manager._providers.clear()
        result = await manager.logout(NAME)
        assert result.remote is False and result.warning is not None
        assert "client secret" in result.warning
        assert token.access_token.get_secret_value() in replica.access  # still valid at GitHub
        assert await manager.store.list(NAME) == []


async def test_enterprise_server_urls() -> None:
    import httpx

    provider = mcpconnect_auth_github.GitHubProvider(
        "ghe", ProviderConfig(type="github", client_id="x", base_url="https://ghe.example.com")
    )
    async with httpx.AsyncClient() as http:
        endpoints = await provider.endpoints(http)
    assert endpoints.authorize == "https://ghe.example.com/login/oauth/authorize"
    assert endpoints.token == "https://ghe.example.com/login/oauth/access_token"
    assert endpoints.userinfo == "https://ghe.example.com/api/v3/user"
    cloud = mcpconnect_auth_github.GitHubProvider("gh", ProviderConfig(type="github", client_id="x"))
    async with httpx.AsyncClient() as http:
        assert (await cloud.endpoints(http)).userinfo == "https://api.github.com/user"


async def test_plain_http_to_another_host_is_refused() -> None:
    import httpx

    provider = mcpconnect_auth_github.GitHubProvider(
        "ghe", ProviderConfig(type="github", client_id="x", base_url="http://ghe.example.com")
    )
    async with httpx.AsyncClient() as http:
        with pytest.raises(AuthError, match="plain http"):
            await provider.endpoints(http)


#: The core's provider contract (mcpconnect.testing._provider_contract), configured like the suite above.
TestGitHubEngineContract = engine_contract(TestGitHubContract)
