"""mcpconnect auth provider ``microsoft``: Microsoft Entra ID and personal Microsoft accounts.

Quirks handled here:

- endpoints live under a tenant: ``common``, ``organizations``, ``consumers`` or a tenant id or
  domain (``tenant`` in the configuration); the multi-tenant issuer holds a literal
  ``{tenantid}``, so the ID token's issuer is checked against the tenant it names (``tid``);
  a single tenant's issuer is the one its discovery document states
  (``/{tenant}/v2.0/.well-known/openid-configuration``): for a domain tenant such as
  ``contoso.onmicrosoft.com`` it holds the tenant's GUID, not the domain;
- a refresh token comes only with ``offline_access`` (added unless ``options.offline_access =
  false``) and is replaced on every use (the engine stores the new one before handing out);
- the stable account key is the object id with the tenant id (``oid.tid``, as MSAL keys
  accounts), from the ID token; the display name comes from Graph ``/me`` (``displayName``),
  falling back to the ID token when the token has no Graph scope;
- there is no RFC 7009 revocation: logout deletes the local copy and says so;
- the device flow lives at ``/{tenant}/oauth2/v2.0/devicecode``;
- ``interaction_required`` / ``consent_required`` (conditional access, new consent) need a login;
  the ``AADSTS`` code of an error (``error_codes``, or the start of ``error_description``) picks
  the advice: multi-factor authentication required, consent missing or revoked, session
  ended, blocked by policy, wrong client secret...

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
from mcpconnect.auth import (
    Endpoints,
    Identity,
    IdTokenError,
    NeedsLoginError,
    OAuthError,
    OAuthProvider,
    TokenResponse,
)
from mcpconnect.errors import AuthError, ConfigError

if TYPE_CHECKING:
    from mcpconnect.hookspecs import RegisterAuthProvider
    from mcpconnect.tokens import Token

__all__ = ["MicrosoftProvider", "register_auth_providers"]

log = logging.getLogger("mcpconnect.auth")

LOGIN = "https://login.microsoftonline.com"
GRAPH = "https://graph.microsoft.com"
#: Tenants that are not one directory: the ID token's ``tid`` names the real one.
MULTI_TENANT = frozenset({"common", "organizations", "consumers"})
_TENANT = re.compile(r"^[A-Za-z0-9.\-]+$")
_LOGIN_ERRORS = frozenset({"interaction_required", "consent_required", "login_required"})
_AADSTS = re.compile(r"AADSTS(\d+)")
#: AADSTS codes (Microsoft Entra authentication and authorization error codes) a user can cause,
#: what each means for them, and whether a new login is what fixes it.
_AADSTS_ADVICE: dict[int, tuple[str, bool]] = {
    50076: ("the tenant requires multi-factor authentication for this sign-in", True),
    50079: ("the tenant requires you to register for multi-factor authentication", True),
    50078: ("the multi-factor authentication of this session expired", True),
    50158: ("the tenant requires an extra security check for this sign-in", True),
    50055: ("the account's password has expired; change it, then", True),
    65001: ("consent for this app is missing or was revoked; consent again at login (or ask an admin to", True),
    50173: ("the sign-in session was revoked (a password change or an admin); sign in again", True),
    70008: ("the refresh token has expired", True),
    70043: ("the tenant's sign-in frequency policy ended the session", True),
    700082: ("the refresh token expired after 90 days unused", True),
    700084: ("the refresh token of this single-page app expired", True),
    50133: ("the session ended after a password change", True),
    53003: ("a conditional access policy of the tenant blocked this sign-in; ask the tenant's admin", False),
    50020: ("the account is not from a tenant this app accepts; check tenant in [providers.{name}]", False),
    90002: ("the tenant does not exist; check tenant in [providers.{name}]", False),
    700016: (
        "the app (client_id) is not registered in this tenant; check client_id and tenant in [providers.{name}]",
        False,
    ),
    7000215: ("the client secret is wrong; check the client secret of [providers.{name}]", False),
    7000222: ("the client secret has expired; create a new one in the app registration", False),
    70011: ("a scope asked for is not valid; check scopes in [providers.{name}]", False),
    9002313: ("the request was malformed; report this to the mcpconnect-auth-microsoft authors", False),
}
_CONSENT_TAIL = {65001: " grant consent for the tenant)"}


class MicrosoftProvider(OAuthProvider):
    """Microsoft identity platform (v2.0 endpoints)."""

    default_scopes = ("openid", "profile", "offline_access", "User.Read")
    docs_page = "docs/providers/microsoft.md"

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
        # A single tenant has one issuer, the one its discovery document states; the multi-tenant
        # ones are checked per token (tid).
        issuer = None if tenant.lower() in MULTI_TENANT else await self._tenant_issuer(http, tenant)
        return Endpoints(
            authorize=f"{root}/authorize",
            token=f"{root}/token",
            device=f"{root}/devicecode",
            userinfo=f"{api}/v1.0/me",
            issuer=issuer,
        )

    async def _tenant_issuer(self, http: httpx.AsyncClient, tenant: str) -> str:
        """The issuer of ``tenant`` (a GUID or a domain) from its OpenID discovery document."""
        if self.config.issuer:
            return self.config.issuer
        url = self.check_url(
            f"{self._base()}/{quote(tenant)}/v2.0/.well-known/openid-configuration", "tenant discovery document"
        )
        response = await self.request(
            http, "GET", url, what=f"discovery document of tenant {tenant!r}", headers={"Accept": "application/json"}
        )
        data = self.read_json(response, "tenant discovery document")
        if response.status_code >= 400 or data.get("error"):
            self.raise_for_error(response, data, "tenant discovery document")
        issuer = data.get("issuer")
        if not isinstance(issuer, str) or not issuer.startswith(("https://", "http://")):
            raise AuthError(
                f"{self.label}: the discovery document of tenant {tenant!r} names no issuer; check tenant and "
                f"base_url in [providers.{self.name}]"
            )
        return issuer

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
        aadsts = _aadsts_code(data)
        if aadsts in _AADSTS_ADVICE and response.status_code < 500:
            meaning, login_fixes = _AADSTS_ADVICE[aadsts]
            meaning = meaning.format(name=self.name) + _CONSENT_TAIL.get(aadsts, "")
            action = f"; run 'mcpconnect login {self.name}'" if login_fixes else ""
            cls = NeedsLoginError if login_fixes else OAuthError
            raise cls(
                f"{self.label}: the {what} refused ({error or 'error'}, AADSTS{aadsts}): {meaning}{action}",
                provider=self.name,
                error=str(error) if error else f"AADSTS{aadsts}",
            )
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
            raise IdTokenError(
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


def _aadsts_code(data: Mapping[str, Any]) -> int | None:
    """The first AADSTS code of an error answer: ``error_codes`` or ``AADSTS...`` in the description."""
    codes = data.get("error_codes")
    if isinstance(codes, list) and codes and isinstance(codes[0], int) and not isinstance(codes[0], bool):
        return codes[0]
    found = _AADSTS.search(str(data.get("error_description") or ""))
    return int(found.group(1)) if found else None


@hookimpl
def register_auth_providers(register: RegisterAuthProvider) -> None:
    register("microsoft", MicrosoftProvider, description="Microsoft Entra ID and Microsoft accounts")
