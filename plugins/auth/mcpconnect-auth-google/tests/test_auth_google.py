"""mcpconnect-auth-google against a local Google replica."""

from __future__ import annotations

from collections.abc import Iterator

import mcpconnect_auth_google
import pytest
from provider_suite import NAME, ProviderContract, engine_contract
from replicas import GoogleReplica

from mcpconnect.auth import TokenManager
from mcpconnect.auth._headless import deliver_callback, follow_authorization
from mcpconnect.errors import AuthError


@pytest.fixture(scope="module")
def google_server() -> Iterator[GoogleReplica]:
    replica = GoogleReplica()
    with replica.serve():
        yield replica


@pytest.fixture
def replica(google_server: GoogleReplica) -> GoogleReplica:
    google_server.reset()
    return google_server


class TestGoogleContract(ProviderContract):
    plugin = mcpconnect_auth_google
    provider_type = "google"
    account = "110169484474386276334"
    account_name = "Ada Lovelace"
    rotates = False
    device = True

    async def test_offline_access_and_consent_are_asked(self, manager: TokenManager, replica: GoogleReplica) -> None:
        token = await self.login(manager)
        sent = replica.authorize_requests[-1]
        assert sent["access_type"] == "offline" and sent["prompt"] == "consent"
        assert sent["scope"] == "openid email profile"
        assert token.refresh_token is not None  # given only because of the two parameters

    async def test_refresh_keeps_the_refresh_token(self, manager: TokenManager, replica: GoogleReplica) -> None:
        first = await self.login(manager)
        second = await manager.refresh(NAME)
        assert second.refresh_token is not None and first.refresh_token is not None
        assert second.refresh_token.get_secret_value() == first.refresh_token.get_secret_value()

    async def test_revocation_ends_the_grant(self, manager: TokenManager, replica: GoogleReplica) -> None:
        token = await self.login(manager)
        result = await manager.logout(NAME)
        assert result.remote and result.warning is None
        assert token.refresh_token is not None
        assert replica.revoked == [token.refresh_token.get_secret_value()]  # one call ends it all
        assert replica.access == {} and replica.refresh == {}

    async def test_callback_from_another_issuer_is_refused(self, manager: TokenManager, replica: GoogleReplica) -> None:
        async def tamper(url: str) -> None:
            callback = await follow_authorization(url, deliver=False)
            await deliver_callback(callback.url.replace("iss=", "iss=https%3A%2F%2Fevil.example&x="))

        with pytest.raises(AuthError, match="mix-up"):
            await manager.login(NAME, on_url=tamper, wait=30)
        assert await manager.store.list(NAME) == []


#: The core's provider contract (mcpconnect.testing._provider_contract), configured like the suite above.
TestGoogleEngineContract = engine_contract(TestGoogleContract)
