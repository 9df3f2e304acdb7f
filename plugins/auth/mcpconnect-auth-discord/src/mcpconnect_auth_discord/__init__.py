"""mcpconnect auth provider ``discord``: Discord applications.

Discord is close to the standards, so this plugin is mostly endpoints:

- PKCE S256; Discord's documented redirect carries ``code`` and ``state`` only, so RFC 9207
  ``iss`` is not required (an ``iss`` that is present is still checked against
  ``https://discord.com``); ``options.iss_parameter_supported = true`` requires it;
- HTTP 429 answers (``retry_after`` in the body, ``Retry-After`` header) are rate limits:
  transient, the token kept, and the message says when to try again;
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
from typing import TYPE_CHECKING, Any

import httpx

from mcpconnect import hookimpl

if TYPE_CHECKING:
    from mcpconnect.hookspecs import RegisterAuthProvider
from mcpconnect.auth import Endpoints, Identity, OAuthProvider
from mcpconnect.errors import AuthError

__all__ = ["DiscordProvider", "register_auth_providers"]

DISCORD = "https://discord.com"


class DiscordProvider(OAuthProvider):
    """Discord OAuth2."""

    default_scopes = ("identify",)
    docs_page = "docs/providers/discord.md"

    async def discover(self, http: httpx.AsyncClient) -> Endpoints:
        base = (self.config.base_url or DISCORD).rstrip("/")
        api = (self.config.api_url or f"{base}/api").rstrip("/")
        return Endpoints(
            authorize=f"{api}/oauth2/authorize",
            token=f"{api}/oauth2/token",
            revoke=f"{api}/oauth2/token/revoke",
            userinfo=f"{api}/users/@me",
            issuer=base,
            iss_parameter_supported=bool(self.config.options.get("iss_parameter_supported", False)),
        )

    def identity_from_userinfo(self, data: Mapping[str, Any]) -> Identity:
        if not data.get("id"):
            raise AuthError(f"{self.label}: Discord's /users/@me answer has no 'id'; check api_url")
        name = data.get("global_name") or data.get("username")
        return Identity(str(data["id"]), str(name) if name else None)


@hookimpl
def register_auth_providers(register: RegisterAuthProvider) -> None:
    register("discord", DiscordProvider, description="Discord applications")
