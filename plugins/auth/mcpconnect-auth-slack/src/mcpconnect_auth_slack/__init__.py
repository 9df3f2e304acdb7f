"""mcpconnect auth provider ``slack``: Slack apps (OAuth v2).

Quirks handled here:

- every Web API answer is HTTP 200; failures are ``{"ok": false, "error": "..."}``, turned into
  clear errors here (a refused refresh needs a new login), so nothing is ever stored from them;
- one authorization may give a bot token (top level of the answer) and a user token (under
  ``authed_user``); bot scopes go in ``scope`` and user scopes in ``user_scope``, both
  comma-separated. ``options.token_type`` chooses which token this provider keeps (``"user"``,
  the default, or ``"bot"``; ``options.token`` is its older name); the configured ``scopes``
  are that token's scopes, and ``options.bot_scopes`` / ``options.user_scopes`` add the other kind's;
- tokens expire (12 h) and refresh only when the app has token rotation enabled; otherwise
  they never expire and there is no refresh token;
- revocation is the ``auth.revoke`` method; identity is ``auth.test`` (team and user ids);
- Slack redirects only to the https redirect URLs registered with the app, never to the
  loopback listener: set ``redirect_uri`` and log in with ``mcpconnect login NAME --paste``
  (the user pastes the URL the browser lands on; ``state`` and PKCE are checked as usual);
- rate limits (HTTP 429 with ``Retry-After``, or ``ratelimited``) are transient: the token is
  kept and the message says when to try again.

Configuration (``[providers.NAME]``, ``type = "slack"``): ``base_url`` (default
``https://slack.com``), and any explicit endpoint URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

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
from mcpconnect.errors import AuthError, ConfigError

if TYPE_CHECKING:
    from mcpconnect.hookspecs import RegisterAuthProvider
    from mcpconnect.tokens import Token

__all__ = ["SlackProvider", "register_auth_providers"]

SLACK = "https://slack.com"

#: Slack error codes after which only a new login helps.
_LOGIN_ERRORS = frozenset(
    {
        "invalid_refresh_token",
        "invalid_grant",
        "token_revoked",
        "token_expired",
        "invalid_auth",
        "account_inactive",
        "not_authed",
    }
)
_ADVICE = {
    "invalid_code": "the authorization code is wrong or has expired; run 'mcpconnect login {name}' again",
    "code_already_used": "the authorization code was already used; run 'mcpconnect login {name}' again",
    "bad_redirect_uri": (
        "the redirect URI is not one of the app's; add redirect_uri of [providers.{name}] to the app's Redirect "
        "URLs (OAuth & Permissions), exactly as written"
    ),
    "invalid_client_id": "client_id is wrong; check it in [providers.{name}]",
    "bad_client_secret": "client_secret is wrong; check it in [providers.{name}]",
    "invalid_grant_type": "this app cannot refresh tokens; enable token rotation in the app's OAuth settings",
    "ratelimited": "Slack is rate limiting this app; try again in a minute",
}


class SlackProvider(OAuthProvider):
    """Slack OAuth v2: ``oauth.v2.access``, bot and user tokens."""

    default_scopes = ("users:read",)
    scope_separator = ","
    loopback_redirect = False
    docs_page = "docs/providers/slack.md"

    def token_kind(self) -> Literal["user", "bot"]:
        # token_type: a key named "token" reads as a secret to every redactor (and to people).
        key = "token_type" if "token_type" in self.config.options else "token"
        kind = str(self.config.options.get(key, "user"))
        if kind not in ("user", "bot"):
            raise ConfigError(
                f'provider \'{self.name}\': options.{key} must be "user" or "bot", not {kind!r}',
                key=f"providers.{self.name}.options.{key}",
            )
        return kind  # type: ignore[return-value]

    def _base(self) -> str:
        return (self.config.base_url or SLACK).rstrip("/")

    async def discover(self, http: httpx.AsyncClient) -> Endpoints:
        base = self._base()
        return Endpoints(
            authorize=f"{base}/oauth/v2/authorize",
            token=f"{base}/api/oauth.v2.access",
            revoke=f"{base}/api/auth.revoke",
            userinfo=f"{base}/api/auth.test",
        )

    def authorize_params(self, scopes: tuple[str, ...]) -> dict[str, str]:
        params = dict(self.extra_authorize_params)
        params.update({str(k): str(v) for k, v in self.config.options.get("authorize_params", {}).items()})
        options = self.config.options
        user, bot = (
            (list(scopes), list(options.get("bot_scopes", [])))
            if self.token_kind() == "user"
            else (
                list(options.get("user_scopes", [])),
                list(scopes),
            )
        )
        if bot:
            params["scope"] = ",".join(bot)
        if user:
            params["user_scope"] = ",".join(user)
        return params

    # -- answers ------------------------------------------------------------------------------

    def _check_ok(self, response: httpx.Response, data: Mapping[str, Any], what: str) -> None:
        if response.status_code >= 500:
            raise TransientAuthError(
                f"{self.label}: Slack's {what} failed (HTTP {response.status_code}); try again later",
                provider=self.name,
            )
        if data.get("ok") is True or ("ok" not in data and not data.get("error") and response.status_code < 400):
            return  # a plain RFC 6749 answer (no "ok") is accepted as well
        code = str(data.get("error") or "unknown_error")
        if code == "ratelimited" or response.status_code == 429:
            raise self.rate_limited(response, what, data)
        if code in _LOGIN_ERRORS:
            raise NeedsLoginError(
                f"{self.label}: Slack's {what} refused the token ({code}); run 'mcpconnect login {self.name}'",
                provider=self.name,
                error=code,
            )
        advice = _ADVICE.get(code, "run 'mcpconnect login {name}' again").format(name=self.name)
        raise OAuthError(
            f"{self.label}: Slack's {what} answered ok=false ({code}); {advice}", provider=self.name, error=code
        )

    def parse_token_response(self, response: httpx.Response) -> TokenResponse:
        data = self.read_json(response, "oauth.v2.access method")
        self._check_ok(response, data, "oauth.v2.access method")
        keep: dict[str, Any] = {
            k: data[k] for k in ("team", "enterprise", "app_id", "bot_user_id", "is_enterprise_install") if k in data
        }
        raw_user = data.get("authed_user")
        authed: dict[str, Any] = raw_user if isinstance(raw_user, dict) else {}
        if self.token_kind() == "user":
            if authed.get("access_token"):
                chosen = {**authed, "token_type": "Bearer"}
            elif data.get("access_token") and str(data.get("token_type", "")).lower() != "bot":
                chosen = {**data, "token_type": "Bearer"}  # a refreshed user token comes at the top level
            elif data.get("access_token"):
                raise AuthError(
                    f"{self.label}: Slack sent no user token (the app asked for no user scopes); set scopes in "
                    f'[providers.{self.name}], or options.token_type = "bot" to keep the bot token'
                )
            else:
                chosen = dict(data)  # token_response_from says what is missing
            keep["slack_user_id"] = authed.get("id") or data.get("user_id")
        else:
            if not data.get("access_token") and authed.get("access_token"):
                raise AuthError(
                    f"{self.label}: Slack sent no bot token (the app asked for no bot scopes); set scopes in "
                    f'[providers.{self.name}], or options.token_type = "user" to keep the user token'
                )
            chosen = {**data, "token_type": "Bearer"}
            keep["slack_user_id"] = data.get("bot_user_id")
        fields: dict[str, Any] = {
            k: chosen[k] for k in ("access_token", "refresh_token", "expires_in", "scope", "token_type") if k in chosen
        }
        return self.token_response_from({**fields, **keep})

    # -- identity -----------------------------------------------------------------------------

    async def _call(self, http: httpx.AsyncClient, url: str, access_token: str, what: str) -> dict[str, Any]:
        response = await self.request(
            http, "POST", url, what=f"Slack {what}", headers={"Authorization": f"Bearer {access_token}"}
        )
        data = self.read_json(response, what)
        self._check_ok(response, data, what)
        return data

    async def identity(self, http: httpx.AsyncClient, response: TokenResponse) -> Identity:
        url = (await self.endpoints(http)).userinfo
        if not url:
            team = response.extra.get("team") or {}
            return Identity(f"{team.get('id')}:{response.extra.get('slack_user_id')}", team.get("name"))
        data = await self._call(http, url, response.access_token, "auth.test method")
        if not data.get("team_id") or not data.get("user_id"):
            raise AuthError(f"{self.label}: Slack's auth.test answer lacks team_id or user_id")
        name = f"{data['user']} ({data['team']})" if data.get("user") and data.get("team") else data.get("user")
        return Identity(f"{data['team_id']}:{data['user_id']}", name)

    # -- revocation ---------------------------------------------------------------------------

    async def revoke(self, http: httpx.AsyncClient, token: Token) -> bool:
        url = (await self.endpoints(http)).revoke
        if not url:
            return False
        try:
            await self._call(http, url, token.access_token.get_secret_value(), "auth.revoke method")
        except NeedsLoginError:
            return True  # already revoked or expired: nothing left to end
        return True


@hookimpl
def register_auth_providers(register: RegisterAuthProvider) -> None:
    register("slack", SlackProvider, description="Slack apps (bot and user tokens)")
