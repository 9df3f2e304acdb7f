"""mcpconnect-auth-discord against a local Discord replica."""

from __future__ import annotations

from collections.abc import Iterator

import mcpconnect_auth_discord
import pytest
from provider_suite import NAME, ProviderContract, engine_contract
from replicas import DiscordReplica

from mcpconnect.auth import TokenManager
from mcpconnect.auth.headless import deliver_callback, follow_authorization
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

    async def test_missing_iss_is_refused(self, manager: TokenManager, replica: DiscordReplica) -> None:
        async def strip_iss(url: str) -> None:
            callback = await follow_authorization(url, deliver=False)
            await deliver_callback(callback.url.replace("iss=", "was="))

        with pytest.raises(AuthError, match="issuer"):
            await manager.login(NAME, on_url=strip_iss, wait=30)
        assert await manager.store.list(NAME) == []

    async def test_public_client_with_pkce_only(self, runtime, replica: DiscordReplica) -> None:
        runtime.config.providers[NAME].client_secret = None
        manager = TokenManager(runtime, retries=1)
        token = await self.login(manager)
        request = replica.token_requests[-1]
        assert "authorization" not in request["headers"] and request["body"]["client_id"] == replica.client_id
        assert request["body"]["code_verifier"]
        assert token.account == self.account


#: The core's provider contract (mcpconnect.testing.provider_contract), configured like the suite above.
TestDiscordEngineContract = engine_contract(TestDiscordContract)
