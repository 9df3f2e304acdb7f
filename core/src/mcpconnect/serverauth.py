"""How each server's requests are authenticated: OAuth token first, then the API token.

``server_auth`` returns the :class:`httpx.Auth` an HTTP transport attaches to every request, or
``None`` for ``auth = "none"``. ``server_env_token`` returns the variables a stdio server with
``token_to_env`` receives its token in.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

import httpx

from mcpconnect.errors import AuthError
from mcpconnect.logs import register_secret

if TYPE_CHECKING:
    from mcpconnect.config.model import ServerConfig
    from mcpconnect.runtime import Runtime

__all__ = ["BearerAuth", "server_auth", "server_env_token"]


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


def api_token_auth(name: str, server: ServerConfig) -> BearerAuth | None:
    """The configured API token (``token_env``, ``token_file``) as a bearer auth, if set."""
    token = server.resolve_token(name)
    return BearerAuth(token) if token else None


async def server_auth(name: str, server: ServerConfig, runtime: Runtime) -> httpx.Auth | None:
    """The auth for server ``name``, as its ``auth`` setting asks.

    Raises :class:`AuthError` with what to run when no credential is available.
    """
    if server.auth == "none":
        return None
    if server.auth == "token":
        auth = api_token_auth(name, server)
        if auth is None:
            where = server.token_env or str(server.token_file)
            raise AuthError(f"server '{name}' needs an API token: set {where}")
        return auth
    # provider:NAME and mcp are served by the OAuth engine (mcpconnect.auth).
    try:
        from mcpconnect.auth.serverauth import oauth_server_auth
    except ImportError:
        fallback = api_token_auth(name, server)
        if fallback is not None:
            return fallback
        raise AuthError(
            f"server '{name}' uses auth = \"{server.auth}\", which this version of mcpconnect cannot "
            "serve yet; set token_env or token_file to use an API token"
        ) from None
    return await oauth_server_auth(name, server, runtime)


async def server_env_token(name: str, server: ServerConfig, runtime: Runtime) -> dict[str, str]:
    """``{VAR: token}`` for a stdio server with ``token_to_env = "VAR"`` (OAuth token first, then
    the API token), ``{}`` without ``token_to_env``. Raises :class:`AuthError` saying what to run
    when no credential is available."""
    from mcpconnect.auth.serverauth import server_env_token as oauth_env_token

    return await oauth_env_token(name, server, runtime)
