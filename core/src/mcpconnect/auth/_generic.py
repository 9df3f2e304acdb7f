"""The two generic providers of the core: ``oidc`` (endpoints from the issuer's discovery
document) and ``oauth2`` (endpoints written in the configuration). Any standard authorization
server works with one of them and no plugin.

Built-in plugins, registered through the ``mcpconnect.auth`` entry points exactly as an
installed plugin is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from mcpconnect.auth._errors import TransientAuthError
from mcpconnect.auth._provider import Endpoints, OAuthProvider
from mcpconnect.errors import AuthError, ConfigError
from mcpconnect.hookspecs import hookimpl

if TYPE_CHECKING:
    from mcpconnect.hookspecs import RegisterAuthProvider

__all__ = ["OAuth2Provider", "OIDCProvider"]


class OAuth2Provider(OAuthProvider):
    """Any OAuth 2 server, its endpoints given in ``[providers.NAME]`` (``authorize_url``,
    ``token_url``, and optionally ``revoke_url``, ``device_url``, ``userinfo_url``, ``issuer``)."""

    async def discover(self, http: httpx.AsyncClient) -> Endpoints:
        found = await super().discover(http)
        if self.config.options.get("iss_parameter_supported"):
            found = Endpoints(**{**found.__dict__, "iss_parameter_supported": True})
        return found


class OIDCProvider(OAuthProvider):
    """An OpenID Connect (or RFC 8414) server found from its ``issuer``.

    Reads ``/.well-known/openid-configuration``, falling back to
    ``/.well-known/oauth-authorization-server``; checks that the document's ``issuer`` is the
    configured one (RFC 8414 3.3), so a mix-up cannot send codes to the wrong server.
    """

    default_scopes = ("openid", "profile", "email")

    def _issuer(self) -> str:
        if not self.config.issuer:
            raise ConfigError(
                f"provider '{self.name}' (type oidc) needs issuer = \"https://...\" in [providers.{self.name}]",
                key=f"providers.{self.name}.issuer",
            )
        return self.config.issuer.rstrip("/")

    def _discovery_urls(self, issuer: str) -> list[str]:
        parts = urlsplit(issuer)
        path = parts.path.rstrip("/")
        return [
            f"{issuer}/.well-known/openid-configuration",
            urlunsplit((parts.scheme, parts.netloc, f"/.well-known/oauth-authorization-server{path}", "", "")),
        ]

    async def discover(self, http: httpx.AsyncClient) -> Endpoints:
        issuer = self._issuer()
        self.check_url(issuer, "issuer")
        doc: dict[str, Any] | None = None
        for url in self._discovery_urls(issuer):
            try:
                response = await http.get(url, headers={"Accept": "application/json"})
            except httpx.HTTPError as exc:
                raise TransientAuthError(
                    f"{self.label}: cannot reach the issuer {issuer} ({type(exc).__name__}); check the network "
                    f"and issuer in [providers.{self.name}]",
                    provider=self.name,
                ) from None
            if response.status_code == 404:
                continue
            doc = self.read_json(response, "discovery document")
            self.raise_for_error(response, doc, "discovery document")
            break
        if doc is None:
            raise AuthError(
                f"{self.label}: {issuer} publishes no discovery document (.well-known/openid-configuration); "
                f'use type = "oauth2" with explicit endpoints in [providers.{self.name}]'
            )
        if str(doc.get("issuer", "")).rstrip("/") != issuer:
            raise AuthError(
                f"{self.label}: the discovery document names issuer {doc.get('issuer')!r}, not {issuer!r}; "
                f"fix issuer in [providers.{self.name}]"
            )
        scopes = doc.get("scopes_supported")
        return Endpoints(
            authorize=doc.get("authorization_endpoint"),
            token=doc.get("token_endpoint"),
            revoke=doc.get("revocation_endpoint"),
            device=doc.get("device_authorization_endpoint"),
            userinfo=doc.get("userinfo_endpoint"),
            issuer=str(doc["issuer"]),
            iss_parameter_supported=bool(doc.get("authorization_response_iss_parameter_supported")),
            scopes_supported=tuple(str(s) for s in scopes) if isinstance(scopes, list) else (),
        )

    def scopes(self, requested: tuple[str, ...] | list[str] | None = None) -> tuple[str, ...]:
        chosen = super().scopes(requested)
        # Ask for a refresh token where the server lists offline_access (it is how OIDC does it).
        supported = self._endpoints.scopes_supported if self._endpoints else ()
        if not requested and self.config.scopes is None and "offline_access" in supported:
            chosen = (*chosen, "offline_access")
        return chosen


@hookimpl
def register_auth_providers(register: RegisterAuthProvider) -> None:
    register("oidc", OIDCProvider, description="Any OpenID Connect server, from its issuer's discovery document")
    register("oauth2", OAuth2Provider, description="Any OAuth 2 server, with endpoints given in the configuration")
