"""mcpconnect auth provider ``microsoft``: Microsoft Entra ID and personal Microsoft accounts.

Quirks handled here:

- endpoints live under a tenant: ``common``, ``organizations``, ``consumers`` or a tenant id or
  domain (``tenant`` in the configuration); the multi-tenant issuer holds a literal
  ``{tenantid}``, so the ID token's issuer is checked against the tenant it names (``tid``);
- a refresh token comes only with ``offline_access`` (added unless ``options.offline_access =
  false``) and is replaced on every use (the engine stores the new one before handing out);
- the stable account key is the object id with the tenant id (``oid.tid``, as MSAL keys
  accounts), from the ID token; the display name comes from Graph ``/me`` (``displayName``),
  falling back to the ID token when the token has no Graph scope;
- there is no RFC 7009 revocation: logout deletes the local copy and says so;
- the device flow lives at ``/{tenant}/oauth2/v2.0/devicecode``;
- ``interaction_required`` / ``consent_required`` (conditional access, new consent) need a login.

Configuration (``[providers.NAME]``, ``type = "microsoft"``): ``tenant`` (default ``common``),
``base_url`` (default ``https://login.microsoftonline.com``; sovereign clouds), ``api_url``
(Graph, default ``https://graph.microsoft.com``), and any explicit endpoint URL.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from mcpconnect import hookimpl
from mcpconnect.auth import Endpoints, Identity, NeedsLoginError, OAuthProvider, TokenResponse
from mcpconnect.errors import AuthError, ConfigError

if TYPE_CHECKING:
    from mcpconnect.tokens import Token

__all__ = ["MicrosoftProvider", "register_auth_providers"]

log = logging.getLogger("mcpconnect.auth")

LOGIN = "https://login.microsoftonline.com"
GRAPH = "https://graph.microsoft.com"
#: Tenants that are not one directory: the ID token's ``tid`` names the real one.
MULTI_TENANT = frozenset({"common", "organizations", "consumers"})
_TENANT = re.compile(r"^[A-Za-z0-9.\-]+$")
_LOGIN_ERRORS = frozenset({"interaction_required", "consent_required", "login_required"})


class MicrosoftProvider(OAuthProvider):
    """Microsoft identity platform (v2.0 endpoints)."""

    default_scopes = ("openid", "profile", "offline_access", "User.Read")

    def tenant(self) -> str:
        tenant = (self.config.tenant or "common").strip()
        if not _TENANT.match(tenant):
            raise ConfigError(
                f"provider '{self.name}': tenant {tenant!r} is not a tenant id, domain, 'common', 'organizations' "
                f"or 'consumers'; fix tenant in [providers.{self.name}]",
                key=f"providers.{self.name}.tenant",
            )
        return tenant

    def _base(self) -> str:
        return (self.config.base_url or LOGIN).rstrip("/")

    async def discover(self, http: httpx.AsyncClient) -> Endpoints:
        root = f"{self._base()}/{quote(self.tenant())}/oauth2/v2.0"
        api = (self.config.api_url or GRAPH).rstrip("/")
        tenant = self.tenant()
        return Endpoints(
            authorize=f"{root}/authorize",
            token=f"{root}/token",
            device=f"{root}/devicecode",
            userinfo=f"{api}/v1.0/me",
            # A single tenant has one issuer; the multi-tenant ones are checked per token (tid).
            issuer=None if tenant.lower() in MULTI_TENANT else f"{self._base()}/{tenant}/v2.0",
        )

    def scopes(self, requested: tuple[str, ...] | list[str] | None = None) -> tuple[str, ...]:
        chosen = super().scopes(requested)
        if self.config.options.get("offline_access", True) and "offline_access" not in chosen:
            chosen = (*chosen, "offline_access")
        return chosen

    def raise_for_error(self, response: httpx.Response, data: Mapping[str, Any], what: str) -> None:
        error = data.get("error")
        if isinstance(error, dict):
            # Graph's error shape: {"error": {"code": "InvalidAuthenticationToken", "message": ...}}
            data = {"error": str(error.get("code") or "graph_error"), "error_description": error.get("message")}
            error = data["error"]
        if error in _LOGIN_ERRORS:
            raise NeedsLoginError(
                f"{self.label}: the {what} asks for an interactive login ({error}: the tenant's policy or a new "
                f"consent); run 'mcpconnect login {self.name}'",
                provider=self.name,
                error=str(error),
            )
        super().raise_for_error(response, data, what)

    # -- identity -----------------------------------------------------------------------------

    def _claims(self, id_token: str, endpoints: Endpoints) -> dict[str, Any]:
        claims = self.id_token_claims(id_token, replace(endpoints, issuer=None))
        tid = claims.get("tid")
        expected = endpoints.issuer or (f"{self._base()}/{tid}/v2.0" if tid else None)
        if expected and claims.get("iss") != expected:
            raise AuthError(
                f"{self.label}: the ID token was issued by {claims.get('iss')!r}, not {expected!r}; check tenant and "
                f"base_url in [providers.{self.name}]"
            )
        return claims

    async def identity(self, http: httpx.AsyncClient, response: TokenResponse) -> Identity:
        endpoints = await self.endpoints(http)
        claims = self._claims(response.id_token, endpoints) if response.id_token else {}
        me: dict[str, Any] = {}
        if endpoints.userinfo:
            try:
                me = await self.get_json(http, endpoints.userinfo, response.access_token, what="Graph /me")
            except AuthError as exc:
                # Tokens for another API (no User.Read) cannot read Graph: the ID token names the user.
                log.debug("%s; using the ID token for the account name", exc)
        oid = claims.get("oid") or me.get("id")
        tid = claims.get("tid")
        if not oid:
            if claims.get("sub"):
                oid = claims["sub"]
            else:
                raise AuthError(
                    f"{self.label}: neither an ID token nor Graph /me named the account; keep 'openid' or "
                    f"'User.Read' in the scopes of [providers.{self.name}]"
                )
        name = me.get("displayName") or claims.get("name") or claims.get("preferred_username")
        account = f"{oid}.{tid}" if tid else str(oid)
        return Identity(account, str(name) if name else None)

    # -- revocation ---------------------------------------------------------------------------

    async def revoke(self, http: httpx.AsyncClient, token: Token) -> bool:
        # The identity platform has no RFC 7009 endpoint; the engine then deletes the local copy
        # and says that the token stays valid at Microsoft until it expires.
        return False


@hookimpl
def register_auth_providers(register: Any) -> None:
    register("microsoft", MicrosoftProvider, description="Microsoft Entra ID and Microsoft accounts")
