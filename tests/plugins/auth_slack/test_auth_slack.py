"""mcpconnect-auth-slack against a local Slack replica."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import mcpconnect_auth_slack
import pytest
from provider_suite import NAME, ProviderContract, engine_contract
from replicas import SlackReplica

from mcpconnect.auth import NeedsLoginError, OAuthError, TokenManager
from mcpconnect.errors import AuthError


@pytest.fixture(scope="module")
def slack_server() -> Iterator[SlackReplica]:
    replica = SlackReplica()
    with replica.serve():
        yield replica


@pytest.fixture
def replica(slack_server: SlackReplica) -> SlackReplica:
    slack_server.reset()
    return slack_server


class TestSlackContract(ProviderContract):
    plugin = mcpconnect_auth_slack
    provider_type = "slack"
    account = "T9TK3CUKW:U1234"
    account_name = "alice (Slack Softball Team)"
    pkce = True

    async def test_ok_false_with_http_200_is_a_clear_error(self, manager: TokenManager, replica: SlackReplica) -> None:
        replica.codes_expire = True
        with pytest.raises(OAuthError) as info:
            await self.login(manager)
        assert info.value.error == "invalid_code" and "ok=false" in str(info.value)
        assert await manager.store.list(NAME) == []

    async def test_user_token_from_authed_user(self, manager: TokenManager, replica: SlackReplica) -> None:
        token = await self.login(manager)
        sent = replica.authorize_requests[-1]
        assert sent["user_scope"] == "users:read" and "scope" not in sent
        assert token.access_token.get_secret_value().startswith("xoxp-")
        assert token.scopes == ("users:read",)

    async def test_bot_token_and_both_scope_kinds(self, runtime: Any, replica: SlackReplica) -> None:
        cfg = runtime.config.providers[NAME]
        cfg.options.update(token="bot", user_scopes=["users:read", "search:read"])
        cfg.scopes = ["chat:write", "channels:read"]
        token = await self.login(TokenManager(runtime, retries=1))
        sent = replica.authorize_requests[-1]
        assert sent["scope"] == "chat:write,channels:read"
        assert sent["user_scope"] == "users:read,search:read"
        assert token.access_token.get_secret_value().startswith("xoxb-")
        assert token.account == "T9TK3CUKW:U0KRQLJ9H"
        assert token.scopes == ("chat:write", "channels:read")
        refreshed = await TokenManager(runtime, retries=1).refresh(NAME)
        assert refreshed.access_token.get_secret_value().startswith("xoxb-")

    async def test_no_user_token_when_none_was_asked(self, runtime: Any, replica: SlackReplica) -> None:
        runtime.config.providers[NAME].options.update(bot_scopes=["chat:write"])
        runtime.config.providers[NAME].scopes = []
        manager = TokenManager(runtime, retries=1)
        with pytest.raises(AuthError, match="no user token"):
            await self.login(manager)
        assert await manager.store.list(NAME) == []

    async def test_without_rotation_tokens_do_not_expire(self, manager: TokenManager, replica: SlackReplica) -> None:
        replica.rotation = False
        token = await self.login(manager)
        assert token.refresh_token is None and token.expires_at is None

    async def test_refused_refresh_is_ok_false_and_needs_login(
        self, manager: TokenManager, replica: SlackReplica
    ) -> None:
        await self.login(manager)
        replica.invalidate_refresh_tokens()
        with pytest.raises(NeedsLoginError):
            await manager.refresh(NAME)
        assert (await manager.stored(NAME)).token.needs_login


#: The core's provider contract (mcpconnect.testing.provider_contract), configured like the suite above.
TestSlackEngineContract = engine_contract(TestSlackContract)
