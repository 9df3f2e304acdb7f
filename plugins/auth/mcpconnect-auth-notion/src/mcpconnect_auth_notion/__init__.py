"""mcpconnect auth provider ``notion``: Notion public integrations.

Quirks handled here:

- the token and revocation endpoints take a JSON body (not a form), Basic client
  authentication and a ``Notion-Version`` header (``options.notion_version``);
- there are no scopes (the user picks pages at consent); the authorization URL carries
  ``owner=user``;
- the identity is in the token answer: ``owner.user`` (id, name) and the workspace
  (``workspace_id``, ``workspace_name``); older workspace-level tokens have no user, so the
  workspace is the account then;
- older tokens never expire and have no refresh token; newer ones come with a refresh token
  (and may carry ``expires_in``): both are handled;
- errors come as ``{"error": ...}`` or Notion's API shape ``{"object": "error", "code": ...}``.

Configuration (``[providers.NAME]``, ``type = "notion"``): ``base_url`` (default
``https://api.notion.com``), and any explicit endpoint URL.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
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
from mcpconnect.errors import AuthError, ConfigError, scrub

if TYPE_CHECKING:
    from mcpconnect.hookspecs import RegisterAuthProvider
    from mcpconnect.tokens import Token

__all__ = ["NotionProvider", "register_auth_providers"]

NOTION = "https://api.notion.com"
NOTION_VERSION = "2022-06-28"

#: Notion's API error codes (its status codes reference) and what the user does about each.
_ADVICE: dict[str, str] = {
    "validation_error": "Notion refused the request's fields as invalid; check client_id and redirect settings in "
    "[providers.{name}], then run 'mcpconnect login {name}' again",
    "invalid_request": "Notion does not support this request; check the endpoint URLs in [providers.{name}]",
    "invalid_request_url": "the endpoint URL is not a Notion API URL; check base_url in [providers.{name}]",
    "invalid_json": "Notion could not read the request body; report this to the mcpconnect-auth-notion authors",
    "missing_version": "Notion wants a Notion-Version header; set options.notion_version in [providers.{name}] "
    "(or remove it for the default)",
    "unauthorized": "Notion did not accept the integration's credentials or the token; check the OAuth client "
    "secret in [providers.{name}], or run 'mcpconnect login {name}'",
    "restricted_resource": "the integration lacks the capability for this; enable it in the integration's settings "
    "at notion.so/my-integrations",
    "object_not_found": "the page or workspace is not shared with the integration; share it at login "
    "('mcpconnect login {name}')",
    "conflict_error": "Notion reported a conflicting change; try again",
    "invalid_grant": "the code or refresh token is no longer valid; run 'mcpconnect login {name}'",
}
_TRANSIENT = frozenset(
    {"internal_server_error", "service_unavailable", "database_connection_unavailable", "gateway_timeout"}
)


class NotionProvider(OAuthProvider):
    """Notion OAuth for public integrations."""

    default_scopes = ()
    client_auth = "basic"
    pkce = False  # not documented by Notion
    extra_authorize_params = {"owner": "user"}

    def _base(self) -> str:
        return (self.config.base_url or NOTION).rstrip("/")

    async def discover(self, http: httpx.AsyncClient) -> Endpoints:
        base = self._base()
        return Endpoints(
            authorize=f"{base}/v1/oauth/authorize",
            token=f"{base}/v1/oauth/token",
            revoke=f"{base}/v1/oauth/revoke",
        )

    def authorize_params(self, scopes: tuple[str, ...]) -> dict[str, str]:
        return super().authorize_params(())  # Notion has no scopes

    def _headers(self) -> dict[str, str]:
        version = str(self.config.options.get("notion_version", NOTION_VERSION))
        return {"Notion-Version": version, "Accept": "application/json"}

    async def _post_json(self, http: httpx.AsyncClient, url: str, body: Mapping[str, Any], what: str) -> httpx.Response:
        secret = self.client_secret()
        if not secret:
            raise ConfigError(
                f"provider '{self.name}': Notion authenticates the integration with its OAuth client secret; set "
                f"client_secret_env or client_secret_file in [providers.{self.name}]",
                key=f"providers.{self.name}.client_secret_env",
            )
        return await self.request(
            http,
            "POST",
            url,
            what=f"Notion {what}",
            json=dict(body),
            auth=httpx.BasicAuth(self.client_id, secret),
            headers=self._headers(),
        )

    async def token_request(self, http: httpx.AsyncClient, data: Mapping[str, str]) -> TokenResponse:
        url = await self.require(http, "token")
        response = await self._post_json(http, url, data, "token endpoint")
        return self.parse_token_response(response)

    def raise_for_error(self, response: httpx.Response, data: Mapping[str, Any], what: str) -> None:
        if data.get("object") == "error" and not data.get("error"):
            # Notion's API error shape: {"object": "error", "status": 400, "code": ..., "message": ...}
            code = str(data.get("code") or "")
            message = scrub(str(data.get("message") or ""))[:200]
            if code == "rate_limited":
                raise self.rate_limited(response, what, data)
            if code in _TRANSIENT:
                raise TransientAuthError(
                    f"{self.label}: Notion's {what} is unavailable ({code}); try again later",
                    provider=self.name,
                    error=code,
                )
            advice = _ADVICE.get(code, "check [providers.{name}], then run 'mcpconnect login {name}' again")
            cls = NeedsLoginError if code == "invalid_grant" else OAuthError
            raise cls(
                f"{self.label}: Notion's {what} answered HTTP {response.status_code} ({code}"
                + (f": {message}" if message else "")
                + f"); {advice.format(name=self.name)}",
                provider=self.name,
                error=code or None,
            )
        super().raise_for_error(response, data, what)

    def identity_from_token(self, response: TokenResponse) -> Identity:
        extra = response.extra
        raw_owner = extra.get("owner")
        owner: dict[str, Any] = raw_owner if isinstance(raw_owner, dict) else {}
        user = owner.get("user") if isinstance(owner.get("user"), dict) else None
        workspace = extra.get("workspace_name")
        if user and user.get("id"):
            name = user.get("name") or (user.get("person") or {}).get("email")
            shown = f"{name} ({workspace})" if name and workspace else name or workspace
            return Identity(str(user["id"]), str(shown) if shown else None)
        if extra.get("workspace_id"):
            return Identity(str(extra["workspace_id"]), str(workspace) if workspace else None)
        if extra.get("bot_id"):
            return Identity(str(extra["bot_id"]), None)
        raise AuthError(f"{self.label}: Notion's token answer names no owner, workspace or bot")

    async def identity(self, http: httpx.AsyncClient, response: TokenResponse) -> Identity:
        return self.identity_from_token(response)

    async def revoke(self, http: httpx.AsyncClient, token: Token) -> bool:
        url = (await self.endpoints(http)).revoke
        if not url:
            return False
        response = await self._post_json(http, url, {"token": token.access_token.get_secret_value()}, "revocation")
        if response.status_code == 200:
            return True
        data: dict[str, Any] = {}
        with contextlib.suppress(AuthError):
            data = self.read_json(response, "revocation endpoint")
        self.raise_for_error(response, data or {"error": None}, "revocation endpoint")
        return True


@hookimpl
def register_auth_providers(register: RegisterAuthProvider) -> None:
    register("notion", NotionProvider, description="Notion public integrations")
