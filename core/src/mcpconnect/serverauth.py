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

__all__ = ["BearerAuth", "credentials_of", "require_secure_url", "server_auth", "server_env_token"]


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


def credentials_of(server: ServerConfig) -> list[str]:
    """The configuration keys through which requests to ``server`` carry a credential."""
    from mcpconnect.redact import is_secret_name, secret_values

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
    from mcpconnect.auth.provider import is_loopback

    # Only plain http is refused here; a URL still holding ${VAR} is checked once expanded.
    if target.lower().startswith("http://") and not is_loopback(target):
        from mcpconnect.servers.errors import safe_url

        raise AuthError(
            f"server '{name}': {safe_url(target)} uses plain http://, which would expose its credentials "
            f"({', '.join(credentials)}) to the network; use https://, or set allow_insecure_http = true "
            f"in [servers.{name}] if this network is trusted"
        )


async def server_auth(name: str, server: ServerConfig, runtime: Runtime) -> httpx.Auth | None:
    """The auth for server ``name``, as its ``auth`` setting asks.

    Raises :class:`AuthError` with what to run when no credential is available, and when the
    credential would go over plain ``http://`` to another machine (:func:`require_secure_url`).
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
