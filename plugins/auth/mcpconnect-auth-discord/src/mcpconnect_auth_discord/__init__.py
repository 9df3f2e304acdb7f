"""mcpconnect auth provider ``discord``: Discord applications.

Discord is close to the standards, so this plugin is mostly endpoints:

- PKCE S256, and RFC 9207: Discord's RFC 8414 metadata sets
  ``authorization_response_iss_parameter_supported``, so the callback's ``iss`` is required and
  checked against ``https://discord.com``;
- revocation is RFC 7009 at ``/api/oauth2/token/revoke``;
- identity is ``/api/users/@me``: ``id``, and ``global_name`` (the display name) or
  ``username``;
- access tokens last about a week; refresh tokens are replaced on refresh.

Configuration (``[providers.NAME]``, ``type = "discord"``): ``base_url`` (default
``https://discord.com``; also the issuer), ``api_url`` (default ``{base_url}/api``), and any
explicit endpoint URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from mcpconnect import hookimpl
from mcpconnect.auth import Endpoints, Identity, OAuthProvider
from mcpconnect.errors import AuthError

__all__ = ["DiscordProvider", "register_auth_providers"]

DISCORD = "https://discord.com"


class DiscordProvider(OAuthProvider):
    """Discord OAuth2."""

    default_scopes = ("identify",)
    iss_parameter_supported = True

    async def discover(self, http: httpx.AsyncClient) -> Endpoints:
        base = (self.config.base_url or DISCORD).rstrip("/")
        api = (self.config.api_url or f"{base}/api").rstrip("/")
        return Endpoints(
            authorize=f"{api}/oauth2/authorize",
            token=f"{api}/oauth2/token",
            revoke=f"{api}/oauth2/token/revoke",
            userinfo=f"{api}/users/@me",
            issuer=base,
            iss_parameter_supported=True,
        )

    def identity_from_userinfo(self, data: Mapping[str, Any]) -> Identity:
        if not data.get("id"):
            raise AuthError(f"{self.label}: Discord's /users/@me answer has no 'id'; check api_url")
        name = data.get("global_name") or data.get("username")
        return Identity(str(data["id"]), str(name) if name else None)


@hookimpl
def register_auth_providers(register: Any) -> None:
    register("discord", DiscordProvider, description="Discord applications")
