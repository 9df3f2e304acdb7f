"""How each server's requests are authenticated: OAuth token first, then the API token.

:func:`server_auth` returns the :class:`httpx.Auth` an HTTP transport attaches to every request,
or ``None`` for ``auth = "none"``; :func:`server_env_token` returns the variables a stdio server
with ``token_to_env`` receives its token in. For ``auth = "provider:NAME"`` the token comes from
the runtime's :class:`~mcpconnect.auth.TokenManager` (an :class:`OAuthBearerAuth`, which refreshes
once when the server answers 401); ``auth = "mcp"`` runs MCP authorization when the server first
answers 401. Without an OAuth token the configured API token (``token_env``, ``token_file``) is
used, else a clear error says what to run.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import TYPE_CHECKING

import httpx

from mcpconnect._config.model import table_name
from mcpconnect._logs import register_secret
from mcpconnect._redact import is_secret_name, safe_url, secret_values
from mcpconnect.auth._errors import NeedsLoginError
from mcpconnect.auth._manager import TokenManager, secret_of, token_manager
from mcpconnect.auth._mcp import mcp_server_auth
from mcpconnect.auth._provider import is_loopback
from mcpconnect.errors import AuthError, ConfigError

if TYPE_CHECKING:
    from mcpconnect._config.model import ServerConfig
    from mcpconnect._runtime import Runtime
    from mcpconnect.tokens import Token

__all__ = [
    "BearerAuth",
    "OAuthBearerAuth",
    "credentials_of",
    "require_secure_url",
    "server_auth",
    "server_env_token",
]


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>`` on every request. Its repr never shows the token."""

    def __init__(self, token: str) -> None:
        register_secret(token)
        self._token = token

    def __repr__(self) -> str:
        return "BearerAuth(token=***)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


class OAuthBearerAuth(httpx.Auth):
    """``Authorization: Bearer`` with a token from the manager, always valid; a 401 answer
    triggers one refresh and one retry before the error reaches the caller.

    ``user``: a gateway user's ``User.key`` for a per-user upstream (``tokens = "per_user"``): the
    token is that user's only, refreshed under that user's own lock. ``None``: the shared token.
    Its repr names no user and no token."""

    def __init__(self, manager: TokenManager, provider: str, account: str, *, user: str | None = None) -> None:
        self.manager = manager
        self.provider = provider
        self.account = account
        self._user = user

    def __repr__(self) -> str:
        whose = ", per user" if self._user is not None else f", account={self.account!r}"
        return f"OAuthBearerAuth(provider={self.provider!r}{whose})"

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("OAuthBearerAuth needs an httpx.AsyncClient")
        yield request  # pragma: no cover - makes this a generator

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.manager.get_token(self.provider, self.account, user=self._user)
        request.headers["Authorization"] = f"{_scheme(token)} {secret_of(token)}"
        response = yield request
        if response.status_code != 401:
            return
        await response.aread()
        fresh = await self.manager.refresh_rejected(self.provider, token, user=self._user)
        request.headers["Authorization"] = f"{_scheme(fresh)} {secret_of(fresh)}"
        yield request


def _scheme(token: Token) -> str:
    return "Bearer" if token.token_type.lower() == "bearer" else token.token_type


def api_token_auth(name: str, server: ServerConfig) -> BearerAuth | None:
    """The configured API token (``token_env``, ``token_file``) as a bearer auth, if set."""
    token = server.resolve_token(name)
    return BearerAuth(token) if token else None


def credentials_of(server: ServerConfig) -> list[str]:
    """The configuration keys through which requests to ``server`` carry a credential."""
    found: list[str] = []
    if server.auth != "none":  # with "none", no token is sent even if token_env is set
        if server.auth != "token":
            found.append(f'auth = "{server.auth}"')
        found += [key for key in ("token", "token_env", "token_file") if getattr(server, key)]
    found += [f"headers.{key}" for key in server.headers if is_secret_name(key)]
    if server.url and secret_values({"url": server.url}):
        found.append("url (a password or key in it)")
    return found


def require_secure_url(name: str, server: ServerConfig, url: str | None = None) -> None:
    """Refuse to send server ``name``'s credentials (OAuth or API token, secret headers, a key in
    the URL) over plain ``http://`` to another machine, unless its ``allow_insecure_http`` is set.

    :param url: the URL a request goes to (a redirect, an SSE endpoint); default ``server.url``.
    :raises AuthError: naming the server, the credential and the key to set.
    """
    target = url or server.url
    if not target or server.allow_insecure_http:
        return
    credentials = credentials_of(server)
    if not credentials:
        return
    # Only plain http is refused here; a URL still holding ${VAR} is checked once expanded.
    if target.lower().startswith("http://") and not is_loopback(target):
        raise AuthError(
            f"server '{name}': {safe_url(target)} uses plain http://, which would expose its credentials "
            f"({', '.join(credentials)}) to the network; use https://, or set allow_insecure_http = true "
            f"in {table_name('servers', name)} if this network is trusted"
        )


def _missing(name: str, server: ServerConfig, provider: str | None) -> AuthError:
    if server.token_env:
        alternative = f"set {server.token_env}"
    elif server.token_file:
        alternative = f"write the token to {server.token_file}"
    else:
        alternative = (
            f'set token_env = "{(provider or name).upper().replace("-", "_")}_TOKEN" in {table_name("servers", name)}'
        )
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


async def server_auth(name: str, server: ServerConfig, runtime: Runtime) -> httpx.Auth | None:
    """The auth for server ``name``, as its ``auth`` setting asks.

    Raises :class:`AuthError` naming the server and what to run when no credential is available,
    and when the credential would go over plain ``http://`` to another machine
    (:func:`require_secure_url`).
    """
    require_secure_url(name, server)
    if server.auth == "none":
        return None
    if server.auth == "token":
        auth = api_token_auth(name, server)
        if auth is None:
            where = server.token_env or str(server.token_file)
            raise AuthError(f"server '{name}' needs an API token: set {where}")
        return auth
    if server.auth == "mcp" and server.url:
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
    """For a stdio server with ``token_to_env = "VAR"``: ``{VAR: token}`` (OAuth token first, then
    the API token); ``{}`` when ``token_to_env`` is not set or ``auth = "none"``. Raises
    :class:`AuthError` saying what to run when no credential is available."""
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
