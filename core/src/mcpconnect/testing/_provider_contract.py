"""The contract suite every OAuth provider plugin runs against a local replica of its provider.

Subclass :class:`ProviderContract` in the plugin's tests and provide two fixtures::

    import pytest
    import mcpconnect_auth_example
    from mcpconnect.testing import ProviderContract

    class TestExample(ProviderContract):
        expected_account = "12345"

        @pytest.fixture
        def provider_plugin(self):
            return mcpconnect_auth_example

        @pytest.fixture
        def provider_config(self, replica):  # replica: the plugin's own local server fixture
            return {"type": "example", "client_id": "id", "client_secret": "secret",
                    "authorize_url": f"{replica.url}/oauth/authorize",
                    "token_url": f"{replica.url}/oauth/token",
                    "userinfo_url": f"{replica.url}/api/user"}

Optional fixtures: ``authorize`` (completes the consent for an authorization URL; default: follow
its redirects with a cookie jar, :func:`~mcpconnect.auth._headless.follow_authorization`) and
``approve_device`` (approves a user code; ``None``, the default, skips the device flow test).
Class attributes say what the provider offers: ``supports_refresh``, ``rotates_refresh_tokens``,
``supports_revocation``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from mcpconnect._runtime import Runtime
from mcpconnect.auth import NeedsLoginError, OAuthError, OAuthProvider, TokenManager, TransientAuthError
from mcpconnect.auth._provider import DeviceAuthorization
from mcpconnect.errors import AuthError

__all__ = ["ProviderContract"]

Authorize = Callable[[str], Awaitable[Any]]


class ProviderContract:
    """What every provider plugin must do, checked against a local replica server."""

    #: The configured name used in the tests (``[providers.contract]``).
    provider_name = "contract"
    #: The account id the replica logs in; ``None`` accepts any non-empty id.
    expected_account: str | None = None
    supports_refresh = True
    rotates_refresh_tokens = True
    supports_revocation = True

    # -- fixtures a subclass provides ------------------------------------------------------------

    @pytest.fixture
    def provider_plugin(self) -> ModuleType:  # pragma: no cover - subclasses provide it
        raise NotImplementedError("subclass ProviderContract and provide a 'provider_plugin' fixture")

    @pytest.fixture
    def provider_config(self) -> dict[str, Any]:  # pragma: no cover - subclasses provide it
        raise NotImplementedError("subclass ProviderContract and provide a 'provider_config' fixture")

    @pytest.fixture
    def authorize(self) -> Authorize:
        from mcpconnect.auth._headless import follow_authorization

        return follow_authorization

    @pytest.fixture
    def approve_device(self) -> Callable[[str], Any] | None:
        return None

    # -- the suite's own fixtures ---------------------------------------------------------------

    @pytest.fixture
    def contract_runtime(self, provider_plugin: ModuleType, provider_config: dict[str, Any]) -> Runtime:
        from mcpconnect._plugins import PluginHost
        from mcpconnect.storage import _memory as memory

        host = PluginHost(autoload=False)
        host.register_plugin(memory, kind="store", name="memory")
        host.register_plugin(provider_plugin, kind="auth")
        config = {"storage": {"backend": "memory"}, "providers": {self.provider_name: provider_config}}
        return Runtime.build(config, host=host)

    @pytest.fixture
    def manager(self, contract_runtime: Runtime) -> TokenManager:
        return TokenManager(contract_runtime, backoff=0.0, retries=1)

    async def _login(self, manager: TokenManager, authorize: Authorize) -> tuple[Any, str]:
        urls: list[str] = []
        provider = manager.provider(self.provider_name)
        if not provider.accepts_loopback_redirect():
            # A provider that redirects only to its registered https URI: log in as --paste does.
            from mcpconnect.auth._headless import follow_authorization

            landed: list[str] = []

            async def landing(url: str) -> None:
                urls.append(url)
                callback = await follow_authorization(url, deliver=False, stop_at=provider.paste_redirect_uri())
                landed.append(callback.url)

            token = await manager.login(
                self.provider_name, method="paste", on_url=landing, read_redirect=lambda: landed[-1]
            )
            return token, urls[0]

        async def browser(url: str) -> None:
            urls.append(url)
            await authorize(url)

        token = await manager.login(self.provider_name, on_url=browser, wait=60)
        return token, urls[0]

    def _check_account(self, account: str) -> None:
        assert account, "the provider reported an empty account id"
        if self.expected_account is not None:
            assert account == self.expected_account

    # -- the contract ---------------------------------------------------------------------------

    def test_factory_returns_an_oauth_provider(self, manager: TokenManager) -> None:
        provider = manager.provider(self.provider_name)
        assert isinstance(provider, OAuthProvider)
        assert provider.name == self.provider_name
        assert provider.client_auth_method() in ("basic", "post", "none")

    async def test_login_with_code_and_pkce(self, manager: TokenManager, authorize: Authorize) -> None:
        token, url = await self._login(manager, authorize)
        query = parse_qs(urlsplit(url).query)
        assert query["response_type"] == ["code"] and query["state"][0]
        provider = manager.provider(self.provider_name)
        if provider.accepts_loopback_redirect():
            assert query["redirect_uri"][0].startswith("http://127.0.0.1:")
        else:
            assert query["redirect_uri"][0] == provider.paste_redirect_uri()
        if manager.provider(self.provider_name).pkce:
            assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
        self._check_account(token.account)
        assert token.access_token.get_secret_value()
        stored = await manager.store.get(self.provider_name, token.account)
        assert stored is not None and stored.token.access_token == token.access_token

    async def test_identity_is_stable_across_logins(self, manager: TokenManager, authorize: Authorize) -> None:
        first, _ = await self._login(manager, authorize)
        second, _ = await self._login(manager, authorize)
        assert first.account == second.account
        assert first.access_token != second.access_token
        assert [s.token.account for s in await manager.store.list(self.provider_name)] == [first.account]

    def test_parses_a_standard_token_answer(self, manager: TokenManager) -> None:
        provider = manager.provider(self.provider_name)
        answer = {
            "access_token": "contract-access-token-0001",
            "token_type": "bearer",
            "expires_in": "3600",
            "refresh_token": "contract-refresh-token-0001",
            "scope": "a b",
        }
        parsed = provider.parse_token_response(httpx.Response(200, json=answer))
        assert parsed.access_token == "contract-access-token-0001"
        assert parsed.token_type == "Bearer" and parsed.expires_in == 3600.0
        assert parsed.refresh_token == "contract-refresh-token-0001"
        assert "contract-refresh-token-0001" not in repr(parsed)

    def test_rejects_broken_token_answers(self, manager: TokenManager) -> None:
        provider = manager.provider(self.provider_name)
        html = httpx.Response(200, text="<html>sign in</html>", headers={"content-type": "text/html"})
        with pytest.raises(AuthError, match="where JSON was expected"):
            provider.parse_token_response(html)
        with pytest.raises(AuthError, match="no access_token"):
            provider.parse_token_response(httpx.Response(200, json={"token_type": "bearer"}))

    def test_maps_errors(self, manager: TokenManager) -> None:
        provider = manager.provider(self.provider_name)
        with pytest.raises(NeedsLoginError, match=f"mcpconnect login {self.provider_name}"):
            provider.parse_token_response(httpx.Response(400, json={"error": "invalid_grant"}))
        with pytest.raises(TransientAuthError):
            provider.parse_token_response(httpx.Response(503, text="down"))
        with pytest.raises(OAuthError) as info:
            provider.parse_token_response(httpx.Response(400, json={"error": "invalid_scope"}))
        assert info.value.error == "invalid_scope"

    async def test_refresh_and_rotation(self, manager: TokenManager, authorize: Authorize) -> None:
        if not self.supports_refresh:
            pytest.skip("this provider issues no refresh tokens")
        token, _ = await self._login(manager, authorize)
        assert token.refresh_token is not None, "no refresh token after login"
        stored = await manager.store.get(self.provider_name, token.account)
        assert stored is not None
        expired = token.model_copy(update={"expires_at": datetime.now(UTC) - timedelta(seconds=1)})
        await manager.store.put(expired, expected_version=stored.version)
        fresh = await manager.get_token(self.provider_name)
        assert fresh.access_token != token.access_token and not fresh.is_expiring()
        assert fresh.account == token.account
        if self.rotates_refresh_tokens:
            assert fresh.refresh_token is not None and fresh.refresh_token != token.refresh_token
            async with manager.http() as http:
                with pytest.raises(NeedsLoginError):
                    await manager.provider(self.provider_name).refresh(http, token)

    async def test_logout_revokes_and_deletes(self, manager: TokenManager, authorize: Authorize) -> None:
        await self._login(manager, authorize)
        result = await manager.logout(self.provider_name)
        assert result.remote is self.supports_revocation
        assert await manager.store.list(self.provider_name) == []

    async def test_device_flow(self, manager: TokenManager, approve_device: Callable[[str], Any] | None) -> None:
        if approve_device is None:
            pytest.skip("no device flow for this provider (no approve_device fixture)")
        shown: list[DeviceAuthorization] = []

        async def sleep(seconds: float) -> None:
            approved = approve_device(shown[0].user_code)
            if asyncio.iscoroutine(approved):
                await approved
            await asyncio.sleep(0)

        token = await manager.login(
            self.provider_name, method="device", on_device_code=shown.append, device_sleep=sleep
        )
        self._check_account(token.account)
        assert shown[0].verification_uri.startswith(("https://", "http://127.0.0.1", "http://localhost"))
