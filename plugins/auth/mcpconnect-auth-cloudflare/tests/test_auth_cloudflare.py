"""mcpconnect-auth-cloudflare against a local Cloudflare replica."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import mcpconnect_auth_cloudflare
import pytest
from provider_suite import NAME, ProviderContract, engine_contract
from replicas import CloudflareReplica

from mcpconnect.auth import TokenManager


@pytest.fixture(scope="module")
def cloudflare_server() -> Iterator[CloudflareReplica]:
    replica = CloudflareReplica()
    with replica.serve():
        yield replica


@pytest.fixture
def replica(cloudflare_server: CloudflareReplica) -> CloudflareReplica:
    cloudflare_server.reset()
    return cloudflare_server


class TestCloudflareContract(ProviderContract):
    plugin = mcpconnect_auth_cloudflare
    provider_type = "cloudflare"
    account = "7c5dae5552338874e5053f2534d2767a"
    account_name = "Ada Lovelace"

    def settings(self, replica: Any) -> dict[str, Any]:
        return {**super().settings(replica), "api_url": f"{replica.url}/client/v4"}

    async def test_offline_access_is_always_asked(self, runtime: Any, replica: CloudflareReplica) -> None:
        runtime.config.providers[NAME].scopes = ["user-details.read", "workers:write"]
        token = await self.login(TokenManager(runtime, retries=1))
        assert replica.authorize_requests[-1]["scope"].split() == [
            "user-details.read",
            "workers:write",
            "offline_access",
        ]
        assert token.refresh_token is not None

    async def test_without_user_details_the_account_is_the_sub(self, runtime: Any, replica: CloudflareReplica) -> None:
        runtime.config.providers[NAME].scopes = ["workers:write"]
        token = await self.login(TokenManager(runtime, retries=1))
        assert token.account == self.account and token.account_name is None


#: The core's provider contract (mcpconnect.testing._provider_contract), configured like the suite above.
TestCloudflareEngineContract = engine_contract(TestCloudflareContract)
