"""mcpconnect auth provider ``cloudflare``: Cloudflare OAuth clients (the Cloudflare API).

Use this for the Cloudflare API itself. Cloudflare's remote MCP servers authorize with the MCP
authorization spec instead: give those servers ``auth = "mcp"`` (see the docs page).

Quirks handled here:

- a refresh token comes only with ``offline_access``, added to the scopes unless
  ``options.offline_access = false``;
- ``/oauth2/userinfo`` answers ``sub`` only; the name and e-mail come from the user API
  (``GET /client/v4/user``, needs the ``user-details.read`` scope), read when it allows;
- revocation is RFC 7009 at ``/oauth2/revoke``.

Configuration (``[providers.NAME]``, ``type = "cloudflare"``): ``base_url`` (default
``https://dash.cloudflare.com``), ``api_url`` (default ``https://api.cloudflare.com/client/v4``),
and any explicit endpoint URL.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import httpx

from mcpconnect import hookimpl

if TYPE_CHECKING:
    from mcpconnect.hookspecs import RegisterAuthProvider
from mcpconnect.auth import Endpoints, Identity, OAuthProvider, TokenResponse
from mcpconnect.errors import AuthError

__all__ = ["CloudflareProvider", "register_auth_providers"]

log = logging.getLogger("mcpconnect.auth")

DASH = "https://dash.cloudflare.com"
API = "https://api.cloudflare.com/client/v4"


class CloudflareProvider(OAuthProvider):
    """Cloudflare's OAuth 2.0 / OpenID Connect server for third-party clients."""

    default_scopes = ("openid", "user-details.read", "offline_access")

    def _api(self) -> str:
        return (self.config.api_url or API).rstrip("/")

    async def discover(self, http: httpx.AsyncClient) -> Endpoints:
        base = (self.config.base_url or DASH).rstrip("/")
        return Endpoints(
            authorize=f"{base}/oauth2/auth",
            token=f"{base}/oauth2/token",
            revoke=f"{base}/oauth2/revoke",
            userinfo=f"{base}/oauth2/userinfo",
        )

    def scopes(self, requested: tuple[str, ...] | list[str] | None = None) -> tuple[str, ...]:
        chosen = super().scopes(requested)
        if self.config.options.get("offline_access", True) and "offline_access" not in chosen:
            chosen = (*chosen, "offline_access")
        return chosen

    async def identity(self, http: httpx.AsyncClient, response: TokenResponse) -> Identity:
        endpoints = await self.endpoints(http)
        if not endpoints.userinfo:
            return await super().identity(http, response)
        info = await self.get_json(http, endpoints.userinfo, response.access_token, what="userinfo endpoint")
        sub = info.get("sub")
        if not sub:
            raise AuthError(f"{self.label}: Cloudflare's userinfo answer has no 'sub'; check userinfo_url")
        name: str | None = None
        try:
            user = await self.get_json(http, f"{self._api()}/user", response.access_token, what="user API")
            result = user.get("result") if user.get("success", True) else None
            if isinstance(result, dict):
                full = " ".join(str(p) for p in (result.get("first_name"), result.get("last_name")) if p)
                name = full or result.get("email")
        except AuthError as exc:
            # Without user-details.read the user API refuses; the account is still known by sub.
            log.debug("%s; the Cloudflare account has no display name", exc)
        return Identity(str(sub), str(name) if name else None)


@hookimpl
def register_auth_providers(register: RegisterAuthProvider) -> None:
    register("cloudflare", CloudflareProvider, description="Cloudflare API (OAuth clients)")
