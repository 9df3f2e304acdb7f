"""The provider contract every OAuth provider plugin passes against its local replica.

A provider's test module subclasses :class:`ProviderContract`, names its plugin module and its
replica, and says what the provider offers (refresh, rotation, revocation, device flow). The
tests drive the engine's real code: :class:`~mcpconnect.auth.TokenManager` logins through the
loopback listener, followed headlessly with :func:`mcpconnect.auth._headless.follow_authorization`.
"""

from __future__ import annotations

import asyncio
from types import ModuleType
from typing import Any, ClassVar

import pytest
from provider_replica import OAuthReplica

from mcpconnect._plugins import PluginHost
from mcpconnect._runtime import Runtime
from mcpconnect.auth import NeedsLoginError, TokenManager
from mcpconnect.auth._headless import follow_authorization
from mcpconnect.errors import AuthError
from mcpconnect.testing._provider_contract import ProviderContract as EngineContract

__all__ = ["ProviderContract", "engine_contract", "landing_url", "no_wait", "paste_login"]

NAME = "acct"


async def no_wait(_seconds: float) -> None:
    await asyncio.sleep(0)


async def landing_url(url: str, redirect_uri: str) -> str:
    """What a browser's address bar shows after approving at a replica that redirects to the
    registered https ``redirect_uri`` (the page itself never loads: it is not on this machine)."""
    return (await follow_authorization(url, deliver=False, stop_at=redirect_uri)).url


async def paste_login(manager: TokenManager, name: str, *, tamper: Any = None, **kwargs: Any) -> Any:
    """``mcpconnect login NAME --paste`` as a user does it: open the URL, approve, paste the
    address bar (``tamper`` may change what is pasted)."""
    provider = manager.provider(name)
    landed: list[str] = []

    async def browser(url: str) -> None:
        landed.append(await landing_url(url, provider.paste_redirect_uri()))

    def paste() -> str:
        return tamper(landed[-1]) if tamper is not None else landed[-1]

    return await manager.login(name, method="paste", on_url=browser, read_redirect=paste, **kwargs)


class ProviderContract:
    """Subclass as ``TestXxxContract`` and set the class attributes; the test module provides
    the ``replica`` fixture (a started :class:`OAuthReplica`, reset for each test)."""

    plugin: ClassVar[ModuleType]
    provider_type: ClassVar[str]
    #: What the replica's user is called at this provider (the stored account and its name).
    account: ClassVar[str]
    account_name: ClassVar[str | None]
    refreshes: ClassVar[bool] = True
    rotates: ClassVar[bool] = True
    revokes: ClassVar[bool] = True
    device: ClassVar[bool] = False
    pkce: ClassVar[bool] = True

    def settings(self, replica: OAuthReplica) -> dict[str, Any]:
        """``[providers.acct]`` pointing at the replica; override to add provider keys."""
        return {
            "type": self.provider_type,
            "client_id": replica.client_id,
            "client_secret": replica.client_secret,
            "base_url": replica.url,
        }

    @pytest.fixture
    def runtime(self, replica: OAuthReplica) -> Runtime:
        host = PluginHost(load=[])
        host.register_plugin(self.plugin, kind="auth")
        config = {"storage": {"backend": "memory"}, "providers": {NAME: self.settings(replica)}}
        return Runtime.build(config, host=host)

    @pytest.fixture
    def manager(self, runtime: Runtime) -> TokenManager:
        return TokenManager(runtime, retries=1, backoff=0)

    async def login(self, manager: TokenManager, **kwargs: Any) -> Any:
        provider = manager.provider(NAME)
        if not provider.accepts_loopback_redirect():
            return await paste_login(manager, NAME, **kwargs)

        async def follow(url: str) -> None:
            await follow_authorization(url)

        return await manager.login(NAME, on_url=follow, wait=30, **kwargs)

    # -- the contract -------------------------------------------------------------------------

    def test_registered_under_its_type(self) -> None:
        host = PluginHost(load=[])
        names = [r.name for r in host.register_plugin(self.plugin, kind="auth")]
        assert names == [self.provider_type]

    async def test_login_stores_token_and_identity(self, manager: TokenManager, replica: OAuthReplica) -> None:
        token = await self.login(manager)
        assert token.account == self.account
        assert token.account_name == self.account_name
        assert token.access_token.get_secret_value() in replica.access
        stored = await manager.stored(NAME)
        assert stored.token.access_token.get_secret_value() == token.access_token.get_secret_value()
        sent = replica.authorize_requests[-1]
        assert sent["client_id"] == replica.client_id
        if self.pkce:
            assert sent.get("code_challenge_method") == "S256"
        else:
            assert "code_challenge" not in sent

    async def test_refresh(self, manager: TokenManager, replica: OAuthReplica) -> None:
        first = await self.login(manager)
        if not self.refreshes:
            assert first.refresh_token is None
            return
        assert first.refresh_token is not None
        old_refresh = first.refresh_token.get_secret_value()
        second = await manager.refresh(NAME)
        assert second.access_token.get_secret_value() != first.access_token.get_secret_value()
        assert second.account == first.account
        assert second.refresh_token is not None
        if self.rotates:
            assert second.refresh_token.get_secret_value() != old_refresh
            assert old_refresh not in replica.refresh  # the replaced one is dead at the provider
        else:
            assert second.refresh_token.get_secret_value() == old_refresh
        stored = await manager.stored(NAME)
        assert stored.token.access_token.get_secret_value() == second.access_token.get_secret_value()

    async def test_rejected_refresh_needs_login(self, manager: TokenManager, replica: OAuthReplica) -> None:
        if not self.refreshes:
            pytest.skip(f"{self.provider_type} tokens are not refreshed")
        await self.login(manager)
        replica.invalidate_refresh_tokens()
        with pytest.raises(NeedsLoginError) as info:
            await manager.refresh(NAME)
        assert f"mcpconnect login {NAME}" in str(info.value)
        assert (await manager.stored(NAME)).token.needs_login

    async def test_logout(self, manager: TokenManager, replica: OAuthReplica) -> None:
        token = await self.login(manager)
        result = await manager.logout(NAME)
        assert result.remote is self.revokes
        if self.revokes:
            assert token.access_token.get_secret_value() not in replica.access
            assert result.warning is None
        else:
            assert result.warning and "deleted locally" in result.warning
        assert await manager.store.list(NAME) == []

    async def test_bad_code_is_a_clear_error_and_nothing_is_stored(
        self, manager: TokenManager, replica: OAuthReplica
    ) -> None:
        replica.codes_expire = True
        with pytest.raises(AuthError) as info:
            await self.login(manager)
        message = str(info.value)
        assert NAME in message and "login" in message
        assert replica.client_secret not in message
        assert await manager.store.list(NAME) == []

    async def test_device_flow(self, manager: TokenManager, replica: OAuthReplica) -> None:
        if not self.device:
            provider = manager.provider(NAME)
            async with manager.http() as http:
                assert (await provider.endpoints(http)).device is None
            return
        shown: list[str] = []

        def on_code(auth: Any) -> None:
            shown.append(auth.user_code)
            replica.approve(auth.user_code)

        token = await manager.login(NAME, method="device", on_device_code=on_code, device_sleep=no_wait)
        assert shown and token.account == self.account
        assert token.access_token.get_secret_value() in replica.access


def engine_contract(suite: type[ProviderContract]) -> type[EngineContract]:
    """The core's :class:`mcpconnect.testing._provider_contract.ProviderContract`, configured as
    ``suite`` is (same plugin, replica settings and capabilities)."""

    class Engine(EngineContract):
        expected_account = suite.account
        supports_refresh = suite.refreshes
        rotates_refresh_tokens = suite.rotates
        supports_revocation = suite.revokes

        @pytest.fixture
        def provider_plugin(self) -> ModuleType:
            return suite.plugin

        @pytest.fixture
        def provider_config(self, replica: OAuthReplica) -> dict[str, Any]:
            return suite().settings(replica)

        @pytest.fixture
        def approve_device(self, replica: OAuthReplica) -> Any:
            return replica.approve if suite.device else None

    Engine.__name__ = Engine.__qualname__ = suite.__name__.replace("Contract", "EngineContract")
    return Engine
