"""mcpconnect-auth-discord against a local Discord replica."""

from __future__ import annotations

from collections.abc import Iterator

import mcpconnect_auth_discord
import pytest
from provider_suite import NAME, ProviderContract, engine_contract
from replicas import DiscordReplica

from mcpconnect.auth import TokenManager
from mcpconnect.auth._headless import deliver_callback, follow_authorization
from mcpconnect.errors import AuthError


@pytest.fixture(scope="module")
def discord_server() -> Iterator[DiscordReplica]:
    replica = DiscordReplica()
    with replica.serve():
        yield replica


@pytest.fixture
def replica(discord_server: DiscordReplica) -> DiscordReplica:
    discord_server.reset()
    return discord_server


class TestDiscordContract(ProviderContract):
    plugin = mcpconnect_auth_discord
    provider_type = "discord"
    account = "80351110224678912"
    account_name = "Nelly"

    async def test_documented_redirect_without_iss_logs_in(
        self, manager: TokenManager, replica: DiscordReplica
    ) -> None:
        seen: list[str] = []

        async def browser(url: str) -> None:
            callback = await follow_authorization(url, deliver=False)
            seen.append(callback.url)
            await deliver_callback(callback.url)

        token = await manager.login(NAME, on_url=browser, wait=30)
        assert token.account == self.account
        assert "iss=" not in seen[0] and "code=" in seen[0] and "state=" in seen[0]

    async def test_an_iss_that_is_sent_is_still_checked(self, manager: TokenManager, replica: DiscordReplica) -> None:
        async def mix_up(url: str) -> None:
            callback = await follow_authorization(url, deliver=False)
            await deliver_callback(callback.url + "&iss=https%3A%2F%2Fevil.example")

        with pytest.raises(AuthError, match="mix-up"):
            await manager.login(NAME, on_url=mix_up, wait=30)
        assert await manager.store.list(NAME) == []

    async def test_iss_required_when_configured(self, runtime, replica: DiscordReplica) -> None:
        runtime.config.providers[NAME].options["iss_parameter_supported"] = True
        with pytest.raises(AuthError, match="issuer"):
            await self.login(TokenManager(runtime, retries=1))

    async def test_rate_limit_honours_retry_after_and_keeps_the_token(self, runtime, replica: DiscordReplica) -> None:
        from mcpconnect.auth import TransientAuthError

        manager = TokenManager(runtime, retries=3, backoff=0)
        token = await self.login(manager)
        replica.rate_limited = 12.5
        before = len(replica.token_requests)
        with pytest.raises(TransientAuthError) as info:
            await manager.refresh(NAME)
        assert info.value.retry_after == 13.0  # the Retry-After header, rounded up by Discord
        assert "rate limiting" in str(info.value) and "try again in 13 s" in str(info.value)
        assert len(replica.token_requests) == before + 1
        stored = (await manager.stored(NAME)).token
        assert not stored.needs_login and stored.access_token == token.access_token

    async def test_public_client_with_pkce_only(self, runtime, replica: DiscordReplica) -> None:
        runtime.config.providers[NAME].client_secret = None
        manager = TokenManager(runtime, retries=1)
        token = await self.login(manager)
        request = replica.token_requests[-1]
        assert "authorization" not in request["headers"] and request["body"]["client_id"] == replica.client_id
        assert request["body"]["code_verifier"]
        assert token.account == self.account


#: The core's provider contract (mcpconnect.testing._provider_contract), configured like the suite above.
TestDiscordEngineContract = engine_contract(TestDiscordContract)
