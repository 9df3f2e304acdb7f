"""mcpconnect-auth-notion against a local Notion replica."""

from __future__ import annotations

from collections.abc import Iterator

import mcpconnect_auth_notion
import pytest
from provider_suite import NAME, ProviderContract, engine_contract
from replicas import NotionReplica

from mcpconnect.auth import TokenManager


@pytest.fixture(scope="module")
def notion_server() -> Iterator[NotionReplica]:
    replica = NotionReplica()
    with replica.serve():
        yield replica


@pytest.fixture
def replica(notion_server: NotionReplica) -> NotionReplica:
    notion_server.reset()
    return notion_server


class TestNotionContract(ProviderContract):
    plugin = mcpconnect_auth_notion
    provider_type = "notion"
    account = "c2f20311-9e54-4d11-8c79-7398424ae41e"
    account_name = "Ada Lovelace (Acme)"
    pkce = False

    async def test_token_request_is_json_with_basic_and_version(
        self, manager: TokenManager, replica: NotionReplica
    ) -> None:
        await self.login(manager)
        sent = replica.authorize_requests[-1]
        assert sent["owner"] == "user" and "scope" not in sent
        request = replica.token_requests[-1]
        assert request["headers"]["content-type"].startswith("application/json")
        assert request["headers"]["notion-version"]
        assert request["headers"]["authorization"].startswith("Basic ")
        assert "client_secret" not in request["body"]

    async def test_legacy_tokens_never_expire(self, manager: TokenManager, replica: NotionReplica) -> None:
        replica.legacy = True
        token = await self.login(manager)
        assert token.refresh_token is None and token.expires_at is None
        assert token.account == "1e4b7c3a-52a9-4bd2-9d6e-9e1f0c1e6a5b"  # the workspace
        assert token.account_name == "Acme"
        again = await manager.get_token(NAME)
        assert again.access_token.get_secret_value() == token.access_token.get_secret_value()

    async def test_missing_version_error_shape_is_mapped(self, runtime, replica: NotionReplica) -> None:
        from mcpconnect.auth import OAuthError

        runtime.config.providers[NAME].options["notion_version"] = ""
        manager = TokenManager(runtime, retries=1)
        with pytest.raises(OAuthError) as info:
            await self.login(manager)
        assert info.value.error == "missing_version"
        assert await manager.store.list(NAME) == []

    async def test_validation_error_has_a_next_step(self, manager: TokenManager, replica: NotionReplica) -> None:
        from mcpconnect.auth import OAuthError

        replica.validation_error = True
        with pytest.raises(OAuthError) as info:
            await self.login(manager)
        message = str(info.value)
        assert info.value.error == "validation_error"
        assert "body.redirect_uri should be a valid uri" in message  # Notion's own message, kept
        assert "check client_id" in message and f"mcpconnect login {NAME}" in message
        assert await manager.store.list(NAME) == []

    async def test_legacy_token_refresh_says_it_cannot_and_keeps_it(
        self, manager: TokenManager, replica: NotionReplica
    ) -> None:
        from mcpconnect.auth._errors import NotRefreshableError

        replica.legacy = True
        token = await self.login(manager)
        with pytest.raises(NotRefreshableError, match="cannot be refreshed"):
            await manager.refresh(NAME)
        assert not (await manager.stored(NAME)).token.needs_login
        assert (await manager.get_token(NAME)).access_token == token.access_token


#: The core's provider contract (mcpconnect.testing._provider_contract), configured like the suite above.
TestNotionEngineContract = engine_contract(TestNotionContract)
