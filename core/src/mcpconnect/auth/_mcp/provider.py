"""The OAuth provider an MCP server's authorization server becomes once discovered, and the
client registration it uses (pre-registered, Client ID Metadata Document, or RFC 7591).

:class:`MCPProvider` is an ordinary :class:`~mcpconnect.auth._provider.OAuthProvider` built from
discovered metadata, so the engine's flows, token manager and refresh serve it unchanged. It
adds what MCP authorization asks of every token request: the ``resource`` (RFC 8707), the
client authentication the server supports (``private_key_jwt`` included), and DPoP proofs.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr

from mcpconnect._config.model import ProviderConfig, table_name
from mcpconnect._logs import register_secret, scrub
from mcpconnect._redact import safe_url
from mcpconnect.auth._errors import TransientAuthError
from mcpconnect.auth._mcp.discovery import AuthServerMetadata
from mcpconnect.auth._provider import ClientAuth, Endpoints, OAuthProvider, TokenResponse, oauth_request
from mcpconnect.errors import AuthError

if TYPE_CHECKING:
    from mcpconnect.auth._mcp.dpop import DPoPKey

__all__ = ["JWT_BEARER", "ClientRegistration", "MCPProvider", "choose_auth_method"]

log = logging.getLogger("mcpconnect.auth")

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_METHODS: dict[str, str] = {"client_secret_basic": "basic", "client_secret_post": "post", "none": "none"}


@dataclass(frozen=True)
class ClientRegistration:
    """This client at one authorization server: how it was registered and how it authenticates."""

    issuer: str
    client_id: str
    client_secret: str | None = None
    #: RFC 7591 name: ``client_secret_basic``, ``client_secret_post``, ``none``, ``private_key_jwt``.
    auth_method: str = "none"
    #: ``preregistered``, ``cimd`` or ``dynamic``.
    how: str = "dynamic"
    redirect_uri: str | None = None

    def __repr__(self) -> str:
        return (
            f"ClientRegistration(issuer={self.issuer!r}, client_id={self.client_id!r}, how={self.how!r}, "
            f"auth_method={self.auth_method!r}, client_secret={'***' if self.client_secret else None})"
        )

    def to_record(self) -> dict[str, Any]:
        record = {
            "issuer": self.issuer,
            "client_id": self.client_id,
            "auth_method": self.auth_method,
            "how": self.how,
            "redirect_uri": self.redirect_uri,
        }
        if self.client_secret:
            record["client_secret"] = self.client_secret
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ClientRegistration | None:
        try:
            registration = cls(
                issuer=str(record["issuer"]),
                client_id=str(record["client_id"]),
                client_secret=str(record["client_secret"]) if record.get("client_secret") else None,
                auth_method=str(record.get("auth_method") or "none"),
                how=str(record.get("how") or "dynamic"),
                redirect_uri=str(record["redirect_uri"]) if record.get("redirect_uri") else None,
            )
        except (KeyError, TypeError):
            return None
        register_secret(registration.client_secret)
        return registration


def choose_auth_method(metadata: AuthServerMetadata, *, has_secret: bool, has_key: bool = False) -> str:
    """The token endpoint authentication method: the first the server lists (RFC 8414
    ``token_endpoint_auth_methods_supported``, default ``client_secret_basic``) that this client
    can do. The server's order is its preference (the MCP SDK's server lists
    ``client_secret_post`` first, and its revocation endpoint only reads the secret from the body)."""
    supported = metadata.token_endpoint_auth_methods_supported or ("client_secret_basic",)
    for method in supported:
        if method == "private_key_jwt" and has_key:
            return method
        if method in ("client_secret_basic", "client_secret_post") and has_secret:
            return method
    if has_secret:
        return "client_secret_basic"
    return "none"


class MCPProvider(OAuthProvider):
    """The authorization server of MCP server ``name``, with this client's registration there."""

    pkce = True

    def __init__(
        self,
        name: str,
        metadata: AuthServerMetadata,
        registration: ClientRegistration,
        *,
        resource: str,
        scopes: tuple[str, ...] = (),
        allow_insecure_http: bool = False,
        dpop: DPoPKey | None = None,
        private_key_pem: str | None = None,
        signing_alg: str | None = None,
    ) -> None:
        config = ProviderConfig(
            type="mcp",
            client_id=registration.client_id,
            client_secret=SecretStr(registration.client_secret) if registration.client_secret else None,
            scopes=list(scopes),
            allow_insecure_http=allow_insecure_http,
            options={"resource": resource},
        )
        super().__init__(name, config)
        self.metadata = metadata
        self.registration = registration
        self.resource = resource
        self.dpop = dpop
        self._private_key_pem = private_key_pem
        self._signing_alg = signing_alg
        register_secret(private_key_pem)

    def __repr__(self) -> str:
        return (
            f"MCPProvider(server={self.name!r}, issuer={self.metadata.issuer!r}, "
            f"client_id={self.registration.client_id!r})"
        )

    @property
    def label(self) -> str:
        return f"server '{self.name}'"

    async def discover(self, http: httpx.AsyncClient) -> Endpoints:
        m = self.metadata
        return Endpoints(
            authorize=m.authorization_endpoint,
            token=m.token_endpoint,
            revoke=m.revocation_endpoint,
            issuer=m.issuer,
            iss_parameter_supported=m.iss_parameter_supported,
            scopes_supported=m.scopes_supported or (),
        )

    def check_url(self, url: str, what: str) -> str:
        from mcpconnect.auth._provider import check_secure_url

        return check_secure_url(
            url,
            what=what,
            owner=self.label,
            allow_insecure=self.config.allow_insecure_http,
            how=table_name("servers", self.name),
        )

    def client_auth_method(self) -> ClientAuth:
        method = _METHODS.get(self.registration.auth_method)
        if method is not None:
            return method  # type: ignore[return-value]
        return "none"  # private_key_jwt: the assertion is added by post_form

    def authorize_params(self, scopes: tuple[str, ...]) -> dict[str, str]:
        params = super().authorize_params(scopes)
        params["resource"] = self.resource
        return params

    # -- client authentication and DPoP on every token endpoint request ----------------------------

    def _assertion(self, audience: str) -> str:
        import jwt

        if not self._private_key_pem:
            raise AuthError(
                f"{self.label}: the client authenticates with private_key_jwt but no private key is configured; set "
                f"private_key_file in {table_name('servers', self.name, 'options')}"
            )
        alg = self._signing_alg or "ES256"
        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": audience,
            "iat": now,
            "exp": now + 300,
            "jti": secrets.token_urlsafe(16),
        }
        try:
            token: str = jwt.encode(claims, self._private_key_pem, algorithm=alg)
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise AuthError(
                f"{self.label}: cannot sign the client assertion with the configured private key "
                f"({type(exc).__name__}); check private_key_file and signing_alg in "
                f"{table_name('servers', self.name, 'options')}"
            ) from None
        register_secret(token)
        return token

    async def post_form(
        self, http: httpx.AsyncClient, url: str, data: Mapping[str, str], *, what: str
    ) -> httpx.Response:
        body = dict(data)
        if what == "token endpoint":
            body.setdefault("resource", self.resource)
        signed = self.registration.auth_method == "private_key_jwt"
        if signed:
            body["client_id"] = self.client_id
            body["client_assertion_type"] = _ASSERTION_TYPE
            auth = None
        else:
            auth = self._client_credentials(body)
            # RFC 6749 leaves client_id out of the body with HTTP Basic, but common servers (the MCP
            # SDK's among them) look for it there; it is not a secret, and servers ignore it otherwise.
            body.setdefault("client_id", self.client_id)
        nonce_retried = False
        while True:
            headers = {"Accept": "application/json"}
            if signed:
                body["client_assertion"] = self._assertion(self.metadata.issuer)  # a new jti per request
            if self.dpop is not None and what == "token endpoint":
                headers["DPoP"] = self.dpop.proof("POST", url)
            response = await self.request(
                http,
                "POST",
                url,
                what=what,
                data=body,
                auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
                headers=headers,
            )
            new_nonce = self.dpop is not None and self.dpop.remember_nonce(url, response.headers)
            if new_nonce and not nonce_retried and _error_code(response) == "use_dpop_nonce":
                nonce_retried = True  # RFC 9449 8: retry once with the server's nonce
                continue
            return response

    async def jwt_bearer(self, http: httpx.AsyncClient, assertion: str, scopes: tuple[str, ...]) -> TokenResponse:
        """The JWT bearer grant (RFC 7523 2.1): an assertion from elsewhere becomes a token."""
        register_secret(assertion)
        data = {"grant_type": JWT_BEARER, "assertion": assertion}
        if scopes:
            data["scope"] = " ".join(scopes)
        return await self.token_request(http, data)

    def raise_for_error(self, response: httpx.Response, data: Mapping[str, Any], what: str) -> None:
        try:
            super().raise_for_error(response, data, what)
        except AuthError as exc:
            # The engine's messages point at [providers.NAME]; an MCP server's settings live in [servers.NAME].
            exc.args = (str(exc).replace(f"[providers.{self.name}]", f"[servers.{self.name}]"),)
            raise


def _error_code(response: httpx.Response) -> str | None:
    try:
        data = json.loads(response.content)
    except ValueError:
        return None
    return str(data.get("error")) if isinstance(data, dict) and data.get("error") else None


async def register_dynamically(
    http: httpx.AsyncClient,
    metadata: AuthServerMetadata,
    *,
    who: str,
    how: str,
    redirect_uri: str | None,
    grant_types: tuple[str, ...],
    auth_method: str,
    scopes: tuple[str, ...] = (),
) -> ClientRegistration:
    """RFC 7591 dynamic client registration as a native application."""
    assert metadata.registration_endpoint is not None
    body: dict[str, Any] = {
        "client_name": "mcpconnect",
        "application_type": "native",
        "grant_types": list(grant_types),
        "response_types": ["code"] if "authorization_code" in grant_types else [],
        "token_endpoint_auth_method": auth_method,
    }
    if redirect_uri:
        body["redirect_uris"] = [redirect_uri]
    if scopes:
        body["scope"] = " ".join(scopes)
    url = metadata.registration_endpoint
    response = await oauth_request(
        http,
        "POST",
        url,
        owner=who,
        what="registration endpoint",
        provider=who,
        json=body,
        headers={"Accept": "application/json"},
    )
    try:
        data = json.loads(response.content)
    except ValueError:
        data = None
    if response.status_code >= 500:
        raise TransientAuthError(
            f"{who}: the registration endpoint failed (HTTP {response.status_code}); try again later", provider=who
        )
    if response.status_code in (401, 403, 404, 405) and not metadata.from_document:
        # No metadata anywhere and the default /register is not one: most likely the server does
        # not do MCP authorization at all (an API key, a gateway's client key).
        said = ""
        if isinstance(data, dict) and isinstance(data.get("error_description"), str):
            said = f": {scrub(data['error_description'])[:200]}"
        raise AuthError(
            f"{who}: {safe_url(metadata.issuer)} offers no MCP authorization (no protected resource metadata, no "
            f"authorization server metadata, and its default /register answered HTTP {response.status_code}{said}); "
            'if it takes an API key or a token instead, configure the server with auth = "token" and '
            'token_env = "VAR" (the variable holding it)'
        )
    if response.status_code >= 400:
        detail = ""
        if isinstance(data, dict) and data.get("error"):
            desc = data.get("error_description")
            detail = f" ({str(data['error'])[:60]}{': ' + scrub(str(desc))[:200] if desc else ''})"
        raise AuthError(
            f"{who}: the authorization server refused to register this client (HTTP {response.status_code}{detail}); "
            f"{how}"
        )
    if not isinstance(data, dict) or not isinstance(data.get("client_id"), str) or not data["client_id"]:
        raise AuthError(
            f"{who}: the registration endpoint at {safe_url(url)} answered something that is not a client "
            f"registration (HTTP {response.status_code}, no client_id); {how}"
        )
    secret = data.get("client_secret")
    if secret is not None and not isinstance(secret, str):
        raise AuthError(f"{who}: the registration endpoint answered a malformed client_secret; {how}")
    register_secret(secret)
    method = data.get("token_endpoint_auth_method")
    if not isinstance(method, str) or not method:
        method = auth_method if (secret or auth_method == "none") else "none"
    if method in ("client_secret_basic", "client_secret_post") and not secret:
        method = "none"
    return ClientRegistration(
        issuer=metadata.issuer,
        client_id=data["client_id"],
        client_secret=secret or None,
        auth_method=method,
        how="dynamic",
        redirect_uri=redirect_uri,
    )
