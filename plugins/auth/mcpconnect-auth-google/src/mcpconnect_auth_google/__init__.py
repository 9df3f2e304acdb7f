"""mcpconnect auth provider ``google``: Google accounts.

Quirks handled here:

- a refresh token is issued only with ``access_type=offline``, and only at consent, so the
  authorization request asks for both (``prompt=consent``); a refresh answer carries no new
  refresh token and the stored one is kept;
- Google sends ``iss`` in authorization responses (RFC 9207), which is checked;
- revocation (``/revoke``) ends the whole grant: one call with the refresh token (or the
  access token when there is none), since revoking the second after the first fails;
- the device flow (limited to a set of scopes by Google) answers ``verification_url``.

Configuration (``[providers.NAME]``, ``type = "google"``): ``base_url`` (default
``https://accounts.google.com``: authorization endpoint and issuer), ``api_url`` (default
``https://oauth2.googleapis.com``: token, revocation, device; defaults to ``base_url`` when only
that is given, for a replica), and any explicit endpoint URL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from mcpconnect import hookimpl
from mcpconnect.auth import Endpoints, Identity, OAuthError, OAuthProvider, TransientAuthError
from mcpconnect.errors import AuthError

if TYPE_CHECKING:
    from mcpconnect.hookspecs import RegisterAuthProvider
    from mcpconnect.tokens import Token

__all__ = ["GoogleProvider", "register_auth_providers"]

ACCOUNTS = "https://accounts.google.com"
OAUTH2 = "https://oauth2.googleapis.com"
USERINFO = "https://openidconnect.googleapis.com/v1/userinfo"


class GoogleProvider(OAuthProvider):
    """Google OAuth 2.0 / OpenID Connect for installed applications."""

    default_scopes = ("openid", "email", "profile")
    extra_authorize_params = {"access_type": "offline", "prompt": "consent"}
    iss_parameter_supported = True

    async def discover(self, http: httpx.AsyncClient) -> Endpoints:
        base = (self.config.base_url or ACCOUNTS).rstrip("/")
        api = (self.config.api_url or self.config.base_url or OAUTH2).rstrip("/")
        userinfo = f"{api}/v1/userinfo" if (self.config.api_url or self.config.base_url) else USERINFO
        return Endpoints(
            authorize=f"{base}/o/oauth2/v2/auth",
            token=f"{api}/token",
            revoke=f"{api}/revoke",
            device=f"{api}/device/code",
            userinfo=userinfo,
            issuer=base,
            iss_parameter_supported=True,
        )

    def identity_from_userinfo(self, data: Mapping[str, Any]) -> Identity:
        if not data.get("sub"):
            raise AuthError(f"{self.label}: Google's userinfo answer has no 'sub'; check userinfo_url")
        name = data.get("name") or data.get("email")
        return Identity(str(data["sub"]), str(name) if name else None)

    async def revoke(self, http: httpx.AsyncClient, token: Token) -> bool:
        url = (await self.endpoints(http)).revoke
        if not url:
            return False
        secret = token.refresh_token or token.access_token
        response = await self.request(
            http,
            "POST",
            url,
            what="revocation endpoint",
            data={"token": secret.get_secret_value()},
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        if response.status_code == 200:
            return True
        try:
            error = json.loads(response.content).get("error")
        except (ValueError, AttributeError):
            error = None
        if error == "invalid_token":  # already revoked or expired: nothing left to end
            return True
        if response.status_code >= 500:
            raise TransientAuthError(
                f"{self.label}: the revocation endpoint failed (HTTP {response.status_code})", provider=self.name
            )
        raise OAuthError(
            f"{self.label}: Google refused the revocation (HTTP {response.status_code}, {error or 'no error code'})",
            provider=self.name,
            error=str(error) if error else None,
        )


@hookimpl
def register_auth_providers(register: RegisterAuthProvider) -> None:
    register("google", GoogleProvider, description="Google accounts (OpenID Connect)")
