"""mcpconnect auth provider ``linear``: Linear OAuth applications.

Quirks handled here:

- scopes are comma-separated (``read`` is always granted);
- the token endpoint takes a form body with the client id and secret in it;
- access tokens last 24 hours and come with a refresh token (mandatory for every app since
  April 2026), which is replaced on refresh;
- identity is the GraphQL query ``viewer { id name }``; GraphQL reports failures with HTTP 200
  and an ``errors`` list, read here;
- revocation is ``POST /oauth/revoke`` with the token as bearer credentials.

Configuration (``[providers.NAME]``, ``type = "linear"``): ``base_url`` (default
``https://linear.app``: the authorization page), ``api_url`` (default ``https://api.linear.app``:
token, revocation, GraphQL; defaults to ``base_url`` when only that is given), and any explicit
endpoint URL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from mcpconnect import hookimpl
from mcpconnect.auth import (
    Endpoints,
    Identity,
    NeedsLoginError,
    OAuthError,
    OAuthProvider,
    TokenResponse,
    TransientAuthError,
)
from mcpconnect.errors import AuthError

if TYPE_CHECKING:
    from mcpconnect.hookspecs import RegisterAuthProvider
    from mcpconnect.tokens import Token

__all__ = ["LinearProvider", "register_auth_providers"]

LINEAR = "https://linear.app"
LINEAR_API = "https://api.linear.app"
_VIEWER = "query { viewer { id name email } }"


class LinearProvider(OAuthProvider):
    """Linear OAuth 2.0 (authorization code with PKCE)."""

    default_scopes = ("read",)
    scope_separator = ","
    client_auth = "post"

    async def discover(self, http: httpx.AsyncClient) -> Endpoints:
        base = (self.config.base_url or LINEAR).rstrip("/")
        api = (self.config.api_url or self.config.base_url or LINEAR_API).rstrip("/")
        return Endpoints(
            authorize=f"{base}/oauth/authorize",
            token=f"{api}/oauth/token",
            revoke=f"{api}/oauth/revoke",
            userinfo=f"{api}/graphql",
        )

    async def _post(
        self, http: httpx.AsyncClient, url: str, access_token: str, what: str, **kwargs: Any
    ) -> httpx.Response:
        return await self.request(
            http, "POST", url, what=f"Linear {what}", headers={"Authorization": f"Bearer {access_token}"}, **kwargs
        )

    async def identity(self, http: httpx.AsyncClient, response: TokenResponse) -> Identity:
        url = (await self.endpoints(http)).userinfo
        if not url:
            return Identity("default", None)
        answer = await self._post(http, url, response.access_token, "GraphQL API", json={"query": _VIEWER})
        data = self.read_json(answer, "GraphQL API")
        errors = data.get("errors")
        if errors or answer.status_code >= 400:
            first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
            message = str(first.get("message", f"HTTP {answer.status_code}"))[:200]
            if answer.status_code >= 500:
                raise TransientAuthError(f"{self.label}: Linear's GraphQL API failed ({message})", provider=self.name)
            raise OAuthError(
                f"{self.label}: Linear's GraphQL API refused the viewer query ({message}); check that the token "
                "has the 'read' scope",
                provider=self.name,
            )
        viewer = (data.get("data") or {}).get("viewer") or {}
        if not viewer.get("id"):
            raise AuthError(f"{self.label}: Linear's viewer query answered no user id; check api_url")
        name = viewer.get("name") or viewer.get("email")
        return Identity(str(viewer["id"]), str(name) if name else None)

    async def revoke(self, http: httpx.AsyncClient, token: Token) -> bool:
        url = (await self.endpoints(http)).revoke
        if not url:
            return False
        response = await self._post(http, url, token.access_token.get_secret_value(), "revocation endpoint")
        if response.status_code == 200:
            return True
        if response.status_code in (400, 401):
            raise NeedsLoginError(
                f"{self.label}: Linear did not accept the token for revocation (HTTP {response.status_code}); it is "
                "probably revoked or expired already",
                provider=self.name,
            )
        raise OAuthError(f"{self.label}: Linear's revocation answered HTTP {response.status_code}", provider=self.name)


@hookimpl
def register_auth_providers(register: RegisterAuthProvider) -> None:
    register("linear", LinearProvider, description="Linear OAuth applications")
