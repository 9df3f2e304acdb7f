"""Per-server authentication from the OAuth engine: ``auth = "provider:NAME"`` (and ``"mcp"``).

The OAuth token comes first, then the configured API token (``token_env``, ``token_file``),
then a clear error saying what to run. HTTP transports get an :class:`OAuthBearerAuth`, which
refreshes once when the server answers 401; stdio servers get the token in the environment
variable named by ``token_to_env`` (:func:`server_env_token`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import TYPE_CHECKING

import httpx

from mcpconnect.auth.errors import NeedsLoginError
from mcpconnect.auth.manager import TokenManager, secret_of, token_manager
from mcpconnect.auth.provider import check_secure_url
from mcpconnect.errors import AuthError, ConfigError
from mcpconnect.logs import register_secret

if TYPE_CHECKING:
    from mcpconnect.config.model import ServerConfig
    from mcpconnect.runtime import Runtime
    from mcpconnect.tokens import Token

__all__ = ["OAuthBearerAuth", "oauth_server_auth", "server_env_token"]


class OAuthBearerAuth(httpx.Auth):
    """``Authorization: Bearer`` with a token from the manager, always valid; a 401 answer
    triggers one refresh and one retry before the error reaches the caller."""

    def __init__(self, manager: TokenManager, provider: str, account: str) -> None:
        self.manager = manager
        self.provider = provider
        self.account = account

    def __repr__(self) -> str:
        return f"OAuthBearerAuth(provider={self.provider!r}, account={self.account!r})"

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("OAuthBearerAuth needs an httpx.AsyncClient")
        yield request  # pragma: no cover - makes this a generator

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.manager.get_token(self.provider, self.account)
        request.headers["Authorization"] = f"{_scheme(token)} {secret_of(token)}"
        response = yield request
        if response.status_code != 401:
            return
        await response.aread()
        fresh = await self.manager.refresh_rejected(self.provider, token)
        request.headers["Authorization"] = f"{_scheme(fresh)} {secret_of(fresh)}"
        yield request


def _scheme(token: Token) -> str:
    return "Bearer" if token.token_type.lower() == "bearer" else token.token_type


def _check_server_url(name: str, server: ServerConfig) -> None:
    if server.url:
        check_secure_url(
            server.url,
            what="url",
            owner=f"server '{name}'",
            allow_insecure=server.allow_insecure_http,
            how=f"[servers.{name}]",
        )


def _missing(name: str, server: ServerConfig, provider: str | None) -> AuthError:
    if server.token_env:
        alternative = f"set {server.token_env}"
    elif server.token_file:
        alternative = f"write the token to {server.token_file}"
    else:
        alternative = f'set token_env = "{(provider or name).upper().replace("-", "_")}_TOKEN" in [servers.{name}]'
    if provider is None:
        return AuthError(
            f"server '{name}' uses auth = \"mcp\" (MCP authorization), which works for remote servers (url = ...) "
            f"only; {alternative} to use an API token"
        )
    return AuthError(f"server '{name}' needs authentication: run 'mcpconnect login {provider}' or {alternative}")


async def _oauth_token(name: str, server: ServerConfig, runtime: Runtime) -> tuple[TokenManager, Token] | None:
    provider = server.auth_provider
    if provider is None:
        return None
    if provider not in runtime.config.providers:
        raise ConfigError(
            f"server '{name}' uses auth = \"provider:{provider}\" but there is no [providers.{provider}]; add it "
            "or fix the name",
            key=f"servers.{name}.auth",
        )
    manager = token_manager(runtime)
    try:
        return manager, await manager.get_token(provider)
    except NeedsLoginError:
        return None


async def oauth_server_auth(name: str, server: ServerConfig, runtime: Runtime) -> httpx.Auth:
    """The auth for a server with ``auth = "provider:NAME"`` or ``"mcp"``.

    Raises :class:`AuthError` naming the server and what to run when no credential exists, and
    when its ``url`` is plain ``http://`` to another machine without ``allow_insecure_http``.
    """
    from mcpconnect.serverauth import api_token_auth

    _check_server_url(name, server)
    if server.auth == "mcp" and server.url:
        from mcpconnect.auth.mcp import mcp_server_auth

        # A login made for this server comes first; then a configured API token; else MCP
        # authorization runs when the server first answers 401.
        logged_in = await token_manager(runtime).store.list(name)
        fallback = None if logged_in else api_token_auth(name, server)
        return fallback if fallback is not None else mcp_server_auth(name, server, runtime)
    found = await _oauth_token(name, server, runtime)
    if found is not None:
        manager, token = found
        return OAuthBearerAuth(manager, token.provider, token.account)
    fallback = api_token_auth(name, server)
    if fallback is not None:
        return fallback
    raise _missing(name, server, server.auth_provider)


async def server_env_token(name: str, server: ServerConfig, runtime: Runtime) -> dict[str, str]:
    """For a stdio server with ``token_to_env``: ``{VAR: token}`` (OAuth token first, then the
    API token); ``{}`` when ``token_to_env`` is not set or ``auth = "none"``."""
    if not server.token_to_env or server.auth == "none":
        return {}
    value: str | None = None
    if server.auth != "token":
        found = await _oauth_token(name, server, runtime)
        if found is not None:
            value = secret_of(found[1])
    if value is None:
        value = server.resolve_token(name)
        register_secret(value)
    if value is None:
        if server.auth == "token":
            raise AuthError(f"server '{name}' needs an API token: set {server.token_env or server.token_file}")
        raise _missing(name, server, server.auth_provider)
    return {server.token_to_env: value}
