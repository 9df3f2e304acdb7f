"""mcpconnect-auth-slack against a local Slack replica."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import mcpconnect_auth_slack
import pytest
from provider_suite import NAME, ProviderContract, engine_contract, paste_login
from replicas import SlackReplica

from mcpconnect.auth import NeedsLoginError, OAuthError, TokenManager, TransientAuthError
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

    def settings(self, replica: Any) -> dict[str, Any]:
        return {**super().settings(replica), "redirect_uri": SlackReplica.redirect_urls[0]}

    async def test_loopback_login_is_refused_at_once_with_the_paste_advice(
        self, manager: TokenManager, replica: SlackReplica
    ) -> None:
        with pytest.raises(AuthError) as info:
            await manager.login(NAME, on_url=lambda url: None, wait=30)
        message = str(info.value)
        assert f"mcpconnect login {NAME} --paste" in message and "docs/providers/slack.md" in message
        assert "again" not in message.split("--paste")[0]  # not the generic "run login again"
        assert replica.authorize_requests == []

    async def test_timeout_of_a_forced_loopback_login_points_to_paste(
        self, runtime: Any, replica: SlackReplica
    ) -> None:
        runtime.config.providers[NAME].options["loopback_redirect"] = True
        manager = TokenManager(runtime, retries=1)
        with pytest.raises(AuthError) as info:
            await manager.login(NAME, on_url=lambda url: None, wait=0.3)
        assert "no login callback arrived" in str(info.value)
        assert f"mcpconnect login {NAME} --paste" in str(info.value)

    async def test_real_slack_refuses_the_loopback_redirect(self, runtime: Any, replica: SlackReplica) -> None:
        from mcpconnect.auth._headless import follow_authorization

        runtime.config.providers[NAME].options["loopback_redirect"] = True
        manager = TokenManager(runtime, retries=1)
        with pytest.raises(RuntimeError, match="HTTP 400"):
            # The replica, like Slack, shows an error page instead of redirecting to http://127.0.0.1.
            await manager.login(NAME, on_url=follow_authorization, wait=5)
        assert replica.token_requests == []

    @pytest.mark.parametrize(
        ("tamper", "expected"),
        [
            (lambda url: url.replace("https://app.example.com", "https://evil.example"), "not the redirect URI"),
            (lambda url: url.replace("https://", "http://"), "not the redirect URI"),
            (lambda url: url.replace("state=", "state=forged"), "state does not match"),
            (lambda url: url.split("?")[0], "carries no code or state"),
            (lambda url: url + "&state=again", "gives 'state' twice"),
            (lambda url: "x" * 20000, "over 16 KiB"),
            (lambda url: url.split("code=")[0] + "error=access_denied", "refused the login: access_denied"),
        ],
    )
    async def test_paste_refuses_hostile_or_mismatched_urls(
        self, manager: TokenManager, replica: SlackReplica, tamper: Any, expected: str
    ) -> None:
        with pytest.raises(AuthError) as info:
            await paste_login(manager, NAME, tamper=tamper)
        assert expected in str(info.value)
        assert replica.token_requests == []  # nothing reached the token endpoint
        assert await manager.store.list(NAME) == []

    async def test_paste_without_redirect_uri_says_what_to_set(self, runtime: Any, replica: SlackReplica) -> None:
        from mcpconnect.errors import ConfigError

        runtime.config.providers[NAME].redirect_uri = None
        with pytest.raises(ConfigError, match=r"redirect_uri = \"https://"):
            await paste_login(TokenManager(runtime, retries=1), NAME)

    async def test_rate_limit_is_transient_keeps_the_token_and_says_when(
        self, runtime: Any, replica: SlackReplica
    ) -> None:
        manager = TokenManager(runtime, retries=3, backoff=0)
        first = await self.login(manager)
        replica.rate_limited = 30
        before = len(replica.token_requests)
        with pytest.raises(TransientAuthError) as info:
            await manager.refresh(NAME)
        assert info.value.retry_after == 30 and "try again in 30 s" in str(info.value)
        assert len(replica.token_requests) == before + 1  # not retried into the limit
        stored = (await manager.stored(NAME)).token
        assert not stored.needs_login and stored.access_token == first.access_token
        assert (await manager.get_token(NAME)).access_token == first.access_token

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

    @pytest.mark.parametrize("key", ["token_type", "token"])  # token: the option's older name
    async def test_bot_token_and_both_scope_kinds(self, runtime: Any, replica: SlackReplica, key: str) -> None:
        cfg = runtime.config.providers[NAME]
        cfg.options.update({key: "bot", "user_scopes": ["users:read", "search:read"]})
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


#: The core's provider contract (mcpconnect.testing._provider_contract), configured like the suite above.
TestSlackEngineContract = engine_contract(TestSlackContract)


def test_the_token_type_option_is_no_secret() -> None:
    # options.token = "user" was masked by config show and warned about as an inline secret.
    from mcpconnect._redact import is_secret_name, redact_mapping

    assert not is_secret_name("token_type")
    assert redact_mapping({"token_type": "bot", "bot_scopes": ["chat:write"]}) == {
        "token_type": "bot",
        "bot_scopes": ["chat:write"],
    }
