"""mcpconnect auth provider ``github``: GitHub.com and GitHub Enterprise Server.

Quirks handled here:

- the token endpoint answers form-encoded data unless asked for JSON, and reports errors such
  as ``bad_verification_code`` with HTTP 200: both shapes are read, and an ``error`` field is an
  error whatever the status, so nothing is ever stored from such an answer;
- OAuth App tokens never expire and come without a refresh token; GitHub App user tokens last
  8 hours and come with a 6-month refresh token that is replaced on every refresh;
- revocation is not RFC 7009 but ``DELETE /applications/{client_id}/token`` on the REST API,
  with the client id and secret as Basic credentials;
- the device flow (enabled per app) takes the client id alone, no secret.

Configuration (``[providers.NAME]``, ``type = "github"``): ``base_url`` (default
``https://github.com``; a GitHub Enterprise Server host), ``api_url`` (default
``https://api.github.com``, or ``{base_url}/api/v3`` when only ``base_url`` is given), and any
explicit endpoint URL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote

import httpx

from mcpconnect import hookimpl
from mcpconnect.auth import (
    ClientAuth,
    DeviceAuthorization,
    Endpoints,
    Identity,
    NeedsLoginError,
    OAuthError,
    OAuthProvider,
    TokenResponse,
    TransientAuthError,
)
from mcpconnect.errors import AuthError, register_secret

if TYPE_CHECKING:
    from mcpconnect.hookspecs import RegisterAuthProvider
    from mcpconnect.tokens import Token

__all__ = ["GitHubProvider", "register_auth_providers"]

GITHUB = "https://github.com"
GITHUB_API = "https://api.github.com"

#: GitHub's token endpoint errors (sent with HTTP 200) and what the user should do about each.
_ERRORS: dict[str, str] = {
    "bad_verification_code": "the authorization code is wrong or has expired; run 'mcpconnect login {name}' again",
    "incorrect_client_credentials": "client_id or client_secret is wrong; check them in [providers.{name}]",
    "redirect_uri_mismatch": (
        "the app's callback URL does not allow the loopback redirect; set the callback URL of the app to "
        "http://127.0.0.1/callback (GitHub accepts any port on the loopback address)"
    ),
    "unsupported_grant_type": "the grant type is not supported; report this to the mcpconnect-auth-github authors",
    "device_flow_disabled": "the device flow is not enabled for this app; enable it in the app's settings on GitHub",
    "incorrect_device_code": "the device code is not valid; run 'mcpconnect login {name} --device' again",
    "unverified_user_email": "the GitHub account has no verified e-mail address; verify one, then log in again",
}
#: Errors after which only a new login helps.
_LOGIN_ERRORS = frozenset({"bad_refresh_token", "bad_verification_code", "incorrect_device_code", "invalid_grant"})
_DEVICE_STATES = frozenset({"authorization_pending", "slow_down", "access_denied", "expired_token"})


class GitHubProvider(OAuthProvider):
    """GitHub OAuth Apps and GitHub Apps (user access tokens)."""

    default_scopes = ("read:user",)
    pkce = True

    # -- endpoints ----------------------------------------------------------------------------

    def _base(self) -> str:
        return (self.config.base_url or GITHUB).rstrip("/")

    def _api(self) -> str:
        if self.config.api_url:
            return self.config.api_url.rstrip("/")
        # GitHub Enterprise Server serves its REST API under /api/v3 of the same host.
        return GITHUB_API if not self.config.base_url else f"{self._base()}/api/v3"

    async def discover(self, http: httpx.AsyncClient) -> Endpoints:
        base, api = self._base(), self._api()
        return Endpoints(
            authorize=f"{base}/login/oauth/authorize",
            token=f"{base}/login/oauth/access_token",
            device=f"{base}/login/device/code",
            userinfo=f"{api}/user",
            revoke=f"{api}/applications/{{client_id}}/token",
        )

    def client_auth_method(self) -> ClientAuth:
        # GitHub reads client_id and client_secret from the form body; a public client (device
        # flow, PKCE) sends the client id alone.
        configured = self.config.options.get("token_endpoint_auth")
        if configured in ("basic", "post", "none"):
            return configured  # type: ignore[no-any-return]
        return "post" if self.client_secret() else "none"

    # -- answers ------------------------------------------------------------------------------

    def _decode(self, response: httpx.Response, what: str) -> dict[str, Any]:
        """The answer as a dict, JSON or form-encoded (GitHub's default without Accept)."""
        ctype = response.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" in ctype:
            return dict(parse_qsl(response.text, keep_blank_values=True))
        try:
            data = json.loads(response.content)
        except ValueError:
            return self.read_json(response, what)  # raises the core's clear error
        if not isinstance(data, dict):
            return self.read_json(response, what)
        return data

    def _raise_github_error(self, response: httpx.Response, data: Mapping[str, Any], what: str) -> None:
        error = data.get("error")
        if not error:
            self.raise_for_error(response, data, what)
            return
        code = str(error)
        for value in data.values():
            if isinstance(value, str) and value.startswith(("gho_", "ghu_", "ghr_")):
                register_secret(value)  # never let a token slip into a message
        if response.status_code >= 500 or code in ("temporarily_unavailable", "server_error"):
            raise TransientAuthError(
                f"{self.label}: the {what} failed ({code}); try again later", provider=self.name, error=code
            )
        advice = _ERRORS.get(code, "").format(name=self.name)
        if code == "bad_refresh_token":
            advice = f"the refresh token was rejected; run 'mcpconnect login {self.name}'"
        message = f"{self.label}: GitHub refused the request ({code})" + (f": {advice}" if advice else "")
        if not advice:
            message += f"; run 'mcpconnect login {self.name}' again"
        cls = NeedsLoginError if code in _LOGIN_ERRORS else OAuthError
        raise cls(message, provider=self.name, error=code)

    def parse_token_response(self, response: httpx.Response) -> TokenResponse:
        data = self._decode(response, "token endpoint")
        self._raise_github_error(response, data, "token endpoint")
        return self.token_response_from(data)

    # -- device flow: the client id alone ------------------------------------------------------

    async def _post_public(self, http: httpx.AsyncClient, url: str, data: dict[str, str], what: str) -> httpx.Response:
        body = {"client_id": self.client_id, **data}
        return await self.request(http, "POST", url, what=what, data=body, headers={"Accept": "application/json"})

    async def start_device_authorization(self, http: httpx.AsyncClient, scopes: tuple[str, ...]) -> DeviceAuthorization:
        url = await self.require(http, "device")
        data = {"scope": " ".join(scopes)} if scopes else {}
        response = await self._post_public(http, url, data, "device authorization endpoint")
        body = self._decode(response, "device authorization endpoint")
        self._raise_github_error(response, body, "device authorization endpoint")
        try:
            device_code, user_code, uri = (
                str(body["device_code"]),
                str(body["user_code"]),
                str(body["verification_uri"]),
            )
        except KeyError as exc:
            raise AuthError(
                f"{self.label}: the device authorization answer lacks {exc.args[0]}; check device_url in "
                f"[providers.{self.name}]"
            ) from None
        register_secret(device_code)
        return DeviceAuthorization(
            device_code=device_code,
            user_code=user_code,
            verification_uri=uri,
            expires_in=self.read_seconds(body.get("expires_in"), "expires_in") or 900.0,
            interval=self.read_seconds(body.get("interval"), "interval") or 5.0,
        )

    async def poll_device_token(self, http: httpx.AsyncClient, device: DeviceAuthorization) -> TokenResponse:
        url = await self.require(http, "token")
        data = {"device_code": device.device_code, "grant_type": "urn:ietf:params:oauth:grant-type:device_code"}
        response = await self._post_public(http, url, data, "token endpoint")
        body = self._decode(response, "token endpoint")
        if body.get("error") in _DEVICE_STATES:
            raise OAuthError(f"{self.label}: {body['error']}", provider=self.name, error=str(body["error"]))
        self._raise_github_error(response, body, "token endpoint")
        return self.token_response_from(body)

    # -- identity -----------------------------------------------------------------------------

    def identity_from_userinfo(self, data: Mapping[str, Any]) -> Identity:
        if data.get("id") in (None, ""):
            raise AuthError(
                f"{self.label}: GitHub's /user answer has no 'id'; check api_url in [providers.{self.name}]"
            )
        name = data.get("name") or data.get("login")
        return Identity(str(data["id"]), str(name) if name else None)

    # -- revocation ---------------------------------------------------------------------------

    async def revoke(self, http: httpx.AsyncClient, token: Token) -> bool:
        template = (await self.endpoints(http)).revoke
        if not template:
            return False
        secret = self.client_secret()
        if not secret:
            raise AuthError(
                f"{self.label}: revoking a GitHub token needs the app's client secret (set client_secret_env in "
                f"[providers.{self.name}]), or revoke the app at https://github.com/settings/applications"
            )
        url = template.replace("{client_id}", quote(self.client_id, safe=""))
        response = await self.request(
            http,
            "DELETE",
            url,
            what="revocation endpoint",
            json={"access_token": token.access_token.get_secret_value()},
            auth=httpx.BasicAuth(self.client_id, secret),
            headers={"Accept": "application/vnd.github+json"},
        )
        if response.status_code in (204, 200, 404):  # 404: the token was already invalid
            return True
        raise OAuthError(
            f"{self.label}: GitHub refused to revoke the token (HTTP {response.status_code}); check client_id and "
            f"client_secret in [providers.{self.name}]",
            provider=self.name,
        )


@hookimpl
def register_auth_providers(register: RegisterAuthProvider) -> None:
    register("github", GitHubProvider, description="GitHub and GitHub Enterprise Server")
