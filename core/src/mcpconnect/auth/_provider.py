"""The provider contract: what an OAuth provider plugin fills in, and the standard behaviour.

A provider plugin subclasses :class:`OAuthProvider`, sets class attributes for what is fixed
(endpoints, default scopes, client authentication) and overrides a method only for a quirk::

    from mcpconnect import hookimpl
    from mcpconnect.auth import Identity, OAuthProvider

    class ExampleProvider(OAuthProvider):
        authorize_url = "https://example.com/oauth/authorize"
        token_url = "https://example.com/oauth/token"
        revoke_url = "https://example.com/oauth/revoke"
        userinfo_url = "https://api.example.com/me"
        default_scopes = ("read",)

        def identity_from_userinfo(self, data):
            return Identity(str(data["id"]), data.get("login"))

    @hookimpl
    def register_auth_providers(register):
        register("example", ExampleProvider, description="Example.com")

The factory is called as ``factory(name, config)``: ``name`` is the configured name (the
``NAME`` of ``[providers.NAME]``), ``config`` its :class:`~mcpconnect.ProviderConfig`.
Endpoints given in the configuration (``authorize_url``, ``token_url``...) win over the class
attributes, so a user can point any provider at a replica or a proxy.

Every HTTP call goes through the ``httpx.AsyncClient`` the engine passes in; providers never
keep tokens, verifiers or codes on ``self`` (one provider object serves concurrent logins).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import quote, urlsplit

import httpx

from mcpconnect._logs import register_secret, scrub
from mcpconnect._redact import safe_url
from mcpconnect.auth._errors import (
    IdTokenError,
    NeedsLoginError,
    NotRefreshableError,
    OAuthError,
    TransientAuthError,
)
from mcpconnect.errors import AuthError, ConfigError

if TYPE_CHECKING:
    from mcpconnect._config.model import ProviderConfig
    from mcpconnect.tokens import Token

__all__ = [
    "DEFAULT_ACCOUNT",
    "ClientAuth",
    "DeviceAuthorization",
    "Endpoints",
    "Identity",
    "OAuthProvider",
    "TokenResponse",
    "check_secure_url",
    "is_loopback",
    "oauth_request",
]

log = logging.getLogger("mcpconnect.auth")

#: The account a login is stored under when the provider did not say who logged in.
DEFAULT_ACCOUNT = "default"

ClientAuth = Literal["basic", "post", "none"]

#: OAuth error codes after which only a new login helps.
_LOGIN_ERRORS = frozenset({"invalid_grant"})
#: OAuth error codes that point at the client's registration, not the login.
_CLIENT_ERRORS = frozenset({"invalid_client", "unauthorized_client"})
#: OAuth error codes a server uses for a passing problem.
_TRANSIENT_ERRORS = frozenset({"temporarily_unavailable", "server_error"})
#: What to do after the other standard error codes (RFC 6749 5.2, RFC 8628 3.5, OIDC Core 3.1.2.6).
_ADVICE: dict[str, str] = {
    "invalid_scope": "a scope asked for is unknown or not allowed for this app; check scopes in [providers.{name}] "
    "(or --scope) against the provider's documentation",
    "invalid_request": "the provider refused the request as malformed; check the endpoint URLs and options in "
    "[providers.{name}], and report it if they are right",
    "unsupported_grant_type": "the app is not allowed this grant; enable it in the app's settings at the provider, "
    "or log in another way",
    "unsupported_response_type": "the app is not allowed the authorization code flow; enable it at the provider",
    "access_denied": "the login was refused (by you, or by the provider's policy); run 'mcpconnect login {name}' "
    "again and approve it",
    "authorization_declined": "the login was declined; run 'mcpconnect login {name}' again and approve it",
    "expired_token": "the code expired before it was approved; run 'mcpconnect login {name}' again",
    "invalid_target": "the resource asked for is unknown to the provider; check options.resource in [providers.{name}]",
    "invalid_token": "the provider no longer accepts this token; run 'mcpconnect login {name}'",
    "insufficient_scope": "the token lacks a scope this needs; add it to scopes in [providers.{name}] and run "
    "'mcpconnect login {name}'",
    "login_required": "the provider wants you to sign in again; run 'mcpconnect login {name}'",
    "consent_required": "the provider wants your consent again; run 'mcpconnect login {name}'",
    "interaction_required": "the provider wants you to sign in interactively; run 'mcpconnect login {name}'",
}
#: Longest wait a Retry-After is taken at face value for (beyond it, the date is probably wrong).
_MAX_RETRY_AFTER = 24 * 3600.0


def retry_after(response: httpx.Response, data: Mapping[str, Any] | None = None) -> float | None:
    """Seconds a rate-limited answer asks to wait: ``Retry-After`` (seconds or an HTTP date,
    RFC 9110 10.2.3), Discord's ``retry_after`` body field, or GitHub's ``x-ratelimit-reset``."""
    header = response.headers.get("retry-after", "").strip()
    seconds: float | None = None
    if header:
        try:
            seconds = float(header)
        except ValueError:
            try:
                seconds = parsedate_to_datetime(header).timestamp() - time.time()
            except (TypeError, ValueError, IndexError, OverflowError):
                seconds = None
    if seconds is None and data is not None and isinstance(data.get("retry_after"), int | float):
        seconds = float(data["retry_after"])
    if seconds is None and response.headers.get("x-ratelimit-remaining") == "0":
        try:
            seconds = float(response.headers.get("x-ratelimit-reset", "")) - time.time()
        except ValueError:
            seconds = None
    if seconds is None or not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


def is_rate_limited(response: httpx.Response) -> bool:
    """HTTP 429, or GitHub's secondary limit (403 with ``Retry-After`` or no requests left)."""
    if response.status_code == 429:
        return True
    headers = response.headers
    return response.status_code == 403 and ("retry-after" in headers or headers.get("x-ratelimit-remaining") == "0")


def when(seconds: float | None) -> str:
    """``in 42 s`` / ``in 3 min`` / ``in a minute`` (no figure known), for retry advice."""
    if seconds is None:
        return "in a minute"
    if seconds < 90:
        return f"in {max(1, math.ceil(seconds))} s"
    if seconds < 5400:
        return f"in {math.ceil(seconds / 60)} min"
    return f"in {math.ceil(seconds / 3600)} h"


def is_loopback(url: str) -> bool:
    """Whether ``url``'s host is this machine (127.0.0.0/8, ::1 or ``localhost``)."""
    host = (urlsplit(url).hostname or "").strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_secure_url(url: str, *, what: str, owner: str, allow_insecure: bool, how: str) -> str:
    """``url``, or an :class:`AuthError` if it is plain ``http://`` to another machine.

    :param what: what the URL is, for the message (``"token endpoint"``).
    :param owner: who it belongs to (``"provider 'github'"``).
    :param how: where the user may allow it (``"[providers.github]"``).
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme == "https" or (scheme == "http" and (allow_insecure or is_loopback(url))):
        return url
    if scheme == "http":
        raise AuthError(
            f"{owner}: the {what} {safe_url(url)} uses plain http://, which would expose tokens; use "
            f"https://, or set allow_insecure_http = true in {how} if this network is trusted"
        )
    raise AuthError(f"{owner}: the {what} {safe_url(url)} is not an http(s) URL; fix it in {how}")


async def oauth_request(
    http: httpx.AsyncClient, method: str, url: str, *, owner: str, what: str, provider: str, **kwargs: Any
) -> httpx.Response:
    """Send one request to an OAuth server; a timeout or a network failure becomes a
    :class:`TransientAuthError` naming ``owner``, ``what`` and the URL (shown without secrets).

    An answer, whatever its status, is returned as it is: reading it is the caller's job.
    ``kwargs`` go to :meth:`httpx.AsyncClient.request` (``data``, ``json``, ``headers``, ``auth``).
    Providers call :meth:`OAuthProvider.request`, which fills in ``owner`` and ``provider``.
    """
    try:
        return await http.request(method, url, **kwargs)
    except httpx.TimeoutException:
        raise TransientAuthError(
            f"{owner}: the {what} at {safe_url(url)} did not answer in time; try again later", provider=provider
        ) from None
    except httpx.HTTPError as exc:
        raise TransientAuthError(
            f"{owner}: cannot reach the {what} at {safe_url(url)} ({type(exc).__name__}); check the network and try "
            "again",
            provider=provider,
        ) from None


@dataclass(frozen=True)
class Endpoints:
    """A provider's resolved endpoints and what its authorization server supports."""

    authorize: str | None = None
    token: str | None = None
    revoke: str | None = None
    device: str | None = None
    userinfo: str | None = None
    issuer: str | None = None
    #: RFC 9207: the server puts ``iss`` in authorization responses; a missing one is then an error.
    iss_parameter_supported: bool = False
    scopes_supported: tuple[str, ...] = ()


@dataclass(frozen=True)
class Identity:
    """Who a token belongs to: a stable account id (never an e-mail that can change, where the
    provider has better) and a display name for people."""

    account_id: str
    display_name: str | None = None


@dataclass(frozen=True)
class TokenResponse:
    """A parsed token endpoint answer. ``expires_in`` is relative; the engine makes it absolute."""

    access_token: str
    token_type: str = "Bearer"
    expires_in: float | None = None
    refresh_token: str | None = None
    refresh_expires_in: float | None = None
    scopes: tuple[str, ...] | None = None
    id_token: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"TokenResponse(token_type={self.token_type!r}, expires_in={self.expires_in!r}, "
            f"refresh_token={'***' if self.refresh_token else None}, scopes={self.scopes!r})"
        )


@dataclass(frozen=True)
class DeviceAuthorization:
    """RFC 8628 device authorization response."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None = None
    expires_in: float = 600.0
    interval: float = 5.0

    def __repr__(self) -> str:
        return f"DeviceAuthorization(user_code={self.user_code!r}, verification_uri={self.verification_uri!r})"


class OAuthProvider:
    """Base class of every provider. Subclasses set the class attributes and override the hooks
    marked *override* where their provider departs from the standards."""

    #: Endpoints; the configuration's ``authorize_url``, ``token_url``... override these.
    authorize_url: ClassVar[str | None] = None
    token_url: ClassVar[str | None] = None
    revoke_url: ClassVar[str | None] = None
    device_url: ClassVar[str | None] = None
    userinfo_url: ClassVar[str | None] = None
    #: The issuer, for the RFC 9207 ``iss`` check and ID tokens.
    issuer: ClassVar[str | None] = None
    #: Scopes asked for when neither the configuration nor ``--scope`` names any.
    default_scopes: ClassVar[tuple[str, ...]] = ()
    #: How the client authenticates at the token endpoint; ``None``: ``basic`` with a client
    #: secret, ``none`` (public client, PKCE only) without.
    client_auth: ClassVar[ClientAuth | None] = None
    #: Whether to send PKCE (S256). Leave on unless the provider rejects it.
    pkce: ClassVar[bool] = True
    #: Extra query parameters of the authorization request (``{"access_type": "offline"}``).
    extra_authorize_params: ClassVar[Mapping[str, str]] = {}
    #: How scopes are joined in requests (a few providers use ``","``).
    scope_separator: ClassVar[str] = " "
    #: Whether tokens can be refreshed at all (some providers issue non-expiring tokens only).
    supports_refresh: ClassVar[bool] = True
    #: Whether the server sends ``iss`` in authorization responses (RFC 9207) even without
    #: discovery saying so.
    iss_parameter_supported: ClassVar[bool] = False
    #: Whether the provider accepts a loopback ``http://127.0.0.1`` redirect URI. One that takes
    #: only registered https URIs (Slack) logs in with ``mcpconnect login NAME --paste``;
    #: ``options.loopback_redirect = true`` overrides (a proxy, a replica).
    loopback_redirect: ClassVar[bool] = True
    #: The docs page that explains this provider's login (for advice in messages).
    docs_page: ClassVar[str | None] = None

    def __init__(self, name: str, config: ProviderConfig, *, environ: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.config = config
        self._environ = environ
        self._endpoints: Endpoints | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, client_id={self.config.client_id!r})"

    # -- identity of the client ---------------------------------------------------------------

    @property
    def label(self) -> str:
        """How messages name this provider: ``provider 'github'``."""
        return f"provider '{self.name}'"

    @property
    def client_id(self) -> str:
        if not self.config.client_id:
            raise ConfigError(
                f"provider '{self.name}' has no client_id; register an OAuth app with the provider and set "
                f"client_id in [providers.{self.name}]",
                key=f"providers.{self.name}.client_id",
            )
        return self.config.client_id

    def client_secret(self) -> str | None:
        """The client secret from the configuration (inline, ``_env`` or ``_file``), registered
        with the log redactor."""
        env = None if self._environ is None else dict(self._environ)
        secret = self.config.resolve_client_secret(self.name, env)
        register_secret(secret)
        return secret

    def client_auth_method(self) -> ClientAuth:
        """How the client authenticates at the token endpoint."""
        if self.client_auth is not None:
            return self.client_auth
        method = self.config.options.get("token_endpoint_auth")
        if method in ("basic", "post", "none"):
            return method  # type: ignore[no-any-return]
        return "basic" if self.client_secret() else "none"

    def scopes(self, requested: tuple[str, ...] | list[str] | None = None) -> tuple[str, ...]:
        """The scopes to ask for: ``--scope`` values, else the configuration's, else the defaults."""
        if requested:
            return tuple(requested)
        if self.config.scopes is not None:
            return tuple(self.config.scopes)
        return self.default_scopes

    # -- redirect URIs ------------------------------------------------------------------------

    def accepts_loopback_redirect(self) -> bool:
        """Whether the loopback listener can receive this provider's callback."""
        forced = self.config.options.get("loopback_redirect")
        return bool(forced) if forced is not None else self.loopback_redirect

    def _paste_hint(self) -> str:
        page = f" (see {self.docs_page})" if self.docs_page else ""
        return f"log in with 'mcpconnect login {self.name} --paste'{page}"

    def loopback_refused_advice(self) -> str:
        """Why the loopback callback cannot work here, and what to do instead."""
        return (
            f"{self.label} redirects only to an https URI registered with the app, never back to this machine; "
            + self._paste_hint()
        )

    def login_timeout_advice(self) -> str:
        """*Override* to say what to do when no login callback arrived in time."""
        if not self.loopback_redirect:
            return (
                "this provider redirects only to registered https URIs, so the browser cannot come back here; "
                + self._paste_hint()
            )
        return f"run 'mcpconnect login {self.name}' again"

    def paste_redirect_uri(self) -> str:
        """The registered redirect URI for ``--paste``: ``redirect_uri`` in the configuration."""
        uri = self.config.redirect_uri
        if not uri:
            raise ConfigError(
                f"provider '{self.name}' has no redirect_uri; register an https redirect URL with the app (any page "
                f'you own, even one that shows nothing) and set redirect_uri = "https://..." in '
                f"[providers.{self.name}]",
                key=f"providers.{self.name}.redirect_uri",
            )
        return self.check_url(uri, "redirect URI")

    # -- endpoints ----------------------------------------------------------------------------

    async def endpoints(self, http: httpx.AsyncClient) -> Endpoints:
        """The endpoints, resolved once (configuration over class attributes; discovery for OIDC)."""
        if self._endpoints is None:
            found = await self.discover(http)
            cfg = self.config
            found = replace(
                found,
                authorize=cfg.authorize_url or found.authorize,
                token=cfg.token_url or found.token,
                revoke=cfg.revoke_url or found.revoke,
                device=cfg.device_url or found.device,
                userinfo=cfg.userinfo_url or found.userinfo,
                issuer=cfg.issuer or found.issuer,
            )
            for what, url in (
                # The base URLs a plugin builds its own endpoints from (a user API) count too.
                ("base_url", cfg.base_url),
                ("api_url", cfg.api_url),
                ("authorization endpoint", found.authorize),
                ("token endpoint", found.token),
                ("revocation endpoint", found.revoke),
                ("device authorization endpoint", found.device),
                ("userinfo endpoint", found.userinfo),
            ):
                if url:
                    self.check_url(url, what)
            self._endpoints = found
        return self._endpoints

    async def discover(self, http: httpx.AsyncClient) -> Endpoints:
        """*Override* to find endpoints at run time (the ``oidc`` provider reads the discovery
        document). The default returns the class attributes."""
        return Endpoints(
            authorize=self.authorize_url,
            token=self.token_url,
            revoke=self.revoke_url,
            device=self.device_url,
            userinfo=self.userinfo_url,
            issuer=self.issuer,
            iss_parameter_supported=self.iss_parameter_supported,
        )

    def check_url(self, url: str, what: str) -> str:
        return check_secure_url(
            url,
            what=what,
            owner=self.label,
            allow_insecure=self.config.allow_insecure_http,
            how=f"[providers.{self.name}]",
        )

    async def require(self, http: httpx.AsyncClient, what: Literal["authorize", "token", "device"]) -> str:
        """An endpoint that must exist for a flow, or a clear error naming the setting."""
        url: str | None = getattr(await self.endpoints(http), what)
        if not url:
            setting = {"authorize": "authorize_url", "token": "token_url", "device": "device_url"}[what]
            extra = " (this provider offers no device flow; use 'mcpconnect login' without --device)"
            raise ConfigError(
                f"provider '{self.name}' has no {setting}; set {setting} in [providers.{self.name}]"
                + (extra if what == "device" else ""),
                key=f"providers.{self.name}.{setting}",
            )
        return url

    # -- requests -----------------------------------------------------------------------------

    def authorize_params(self, scopes: tuple[str, ...]) -> dict[str, str]:
        """*Override* to add or change authorization request parameters. The engine adds
        ``response_type``, ``client_id``, ``redirect_uri``, ``state`` and PKCE itself."""
        params = dict(self.extra_authorize_params)
        params.update({str(k): str(v) for k, v in self.config.options.get("authorize_params", {}).items()})
        if scopes:
            params["scope"] = self.scope_separator.join(scopes)
        if self.resource_indicator():
            params.setdefault("resource", self.resource_indicator() or "")
        return params

    def resource_indicator(self) -> str | None:
        """RFC 8707: the API the tokens are for (``options.resource``), sent with the
        authorization, code exchange, refresh and client credentials requests."""
        resource = self.config.options.get("resource")
        return str(resource) if resource else None

    def _client_credentials(self, data: dict[str, str]) -> httpx.BasicAuth | None:
        method = self.client_auth_method()
        if method == "none":
            data["client_id"] = self.client_id
            return None
        secret = self.client_secret()
        if not secret:
            raise ConfigError(
                f"provider '{self.name}' authenticates with a client secret ({method}) but none is set; set "
                f"client_secret_env or client_secret_file in [providers.{self.name}]",
                key=f"providers.{self.name}.client_secret_env",
            )
        if method == "post":
            data.update(client_id=self.client_id, client_secret=secret)
            return None
        # RFC 6749 2.3.1: id and secret are form-urlencoded before going into Basic.
        return httpx.BasicAuth(quote(self.client_id, safe=""), quote(secret, safe=""))

    async def post_form(
        self, http: httpx.AsyncClient, url: str, data: Mapping[str, str], *, what: str
    ) -> httpx.Response:
        """POST a form with client authentication; network failures become
        :class:`TransientAuthError`."""
        body = dict(data)
        auth = self._client_credentials(body)
        return await self.request(
            http,
            "POST",
            url,
            what=what,
            data=body,
            auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
            headers={"Accept": "application/json"},
        )

    async def request(
        self, http: httpx.AsyncClient, method: str, url: str, *, what: str, **kwargs: Any
    ) -> httpx.Response:
        """Send one request with ``http``; a timeout or a network failure becomes a
        :class:`TransientAuthError` naming this provider, ``what`` (``"token endpoint"``) and the
        URL without its secrets. The answer is returned whatever its status.

        ``kwargs`` go to :meth:`httpx.AsyncClient.request` (``data``, ``json``, ``headers``,
        ``auth``). Use it for every call a provider makes beyond the standard flows::

            response = await self.request(http, "POST", url, what="GraphQL API", json={"query": q})
            data = self.read_json(response, "GraphQL API")
            self.raise_for_error(response, data, "GraphQL API")
        """
        return await oauth_request(http, method, url, owner=self.label, what=what, provider=self.name, **kwargs)

    async def token_request(self, http: httpx.AsyncClient, data: Mapping[str, str]) -> TokenResponse:
        """POST to the token endpoint and parse the answer."""
        url = await self.require(http, "token")
        response = await self.post_form(http, url, data, what="token endpoint")
        return self.parse_token_response(response)

    def rate_limited(
        self, response: httpx.Response, what: str, data: Mapping[str, Any] | None = None
    ) -> TransientAuthError:
        """The error for a rate-limited answer: transient, with when to try again."""
        wait = retry_after(response, data)
        return TransientAuthError(
            f"{self.label}: the {what} is rate limiting this app (HTTP {response.status_code}); nothing was changed "
            f"and the stored token is kept; try again {when(wait)}",
            provider=self.name,
            error="rate_limited",
            retry_after=wait,
        )

    def read_json(self, response: httpx.Response, what: str) -> dict[str, Any]:
        """The JSON object of ``response``: a clear :class:`AuthError` naming ``what`` when it is
        HTML, form data, broken or not an object; a :class:`TransientAuthError` for a rate limit
        (whatever its body) or a 5xx that is not JSON. It does not look at OAuth ``error``
        fields: call :meth:`raise_for_error` for those."""
        ctype = response.headers.get("content-type", "").split(";")[0].strip() or "no content type"
        try:
            data = json.loads(response.content)
        except ValueError:
            if is_rate_limited(response):
                raise self.rate_limited(response, what) from None
            if response.status_code >= 500:
                raise TransientAuthError(
                    f"{self.label}: the {what} failed (HTTP {response.status_code}); try again later",
                    provider=self.name,
                ) from None
            raise AuthError(
                f"{self.label}: the {what} answered {ctype} (HTTP {response.status_code}) where JSON was "
                f"expected; check the endpoint URL in [providers.{self.name}]"
            ) from None
        if is_rate_limited(response):
            raise self.rate_limited(response, what, data if isinstance(data, dict) else None)
        if not isinstance(data, dict):
            raise AuthError(
                f"{self.label}: the {what} answered JSON that is not an object (HTTP {response.status_code}); "
                f"check the endpoint URL in [providers.{self.name}]"
            )
        return data

    def raise_for_error(self, response: httpx.Response, data: Mapping[str, Any], what: str) -> None:
        """Map an OAuth error answer to the right exception (``invalid_grant`` needs a login,
        5xx and ``temporarily_unavailable`` are transient)."""
        error = data.get("error")
        if response.status_code < 400 and not error:
            return
        if is_rate_limited(response) or error in ("rate_limited", "ratelimited"):
            raise self.rate_limited(response, what, data)
        code = str(error) if error else None
        description = data.get("error_description")
        detail = f"{code}" + (f": {scrub(str(description))[:200]}" if description else "") if code else ""
        if response.status_code >= 500 or code in _TRANSIENT_ERRORS:
            raise TransientAuthError(
                f"{self.label}: the {what} failed (HTTP {response.status_code}{', ' + detail if detail else ''}); "
                "try again later",
                provider=self.name,
                error=code,
            )
        if code in _LOGIN_ERRORS:
            raise NeedsLoginError(
                f"{self.label}: the {what} rejected the request ({detail}); run 'mcpconnect login {self.name}'",
                provider=self.name,
                error=code,
            )
        if code in _CLIENT_ERRORS:
            raise OAuthError(
                f"{self.label}: the {what} rejected this client ({detail}); check client_id and the client "
                f"secret in [providers.{self.name}] against the app registered with the provider",
                provider=self.name,
                error=code,
            )
        advice = _ADVICE.get(code or "")
        if advice is None:
            advice = (
                f"check [providers.{self.name}] against the provider's documentation, then run "
                f"'mcpconnect login {self.name}' again"
                if response.status_code != 401
                else f"the provider did not accept the credentials; run 'mcpconnect login {self.name}'"
            )
        raise OAuthError(
            f"{self.label}: the {what} answered HTTP {response.status_code} ({detail or 'no error code'}); "
            + advice.format(name=self.name),
            provider=self.name,
            error=code,
        )

    def parse_token_response(self, response: httpx.Response) -> TokenResponse:
        """*Override* for a provider whose token answers depart from RFC 6749 5.1.

        Raises a clear :class:`AuthError` for HTML where JSON was expected, a missing
        ``access_token`` or a malformed ``expires_in``; numeric strings are accepted.
        """
        data = self.read_json(response, "token endpoint")
        self.raise_for_error(response, data, "token endpoint")
        return self.token_response_from(data)

    def token_response_from(self, data: Mapping[str, Any]) -> TokenResponse:
        """Build a :class:`TokenResponse` from a decoded token answer (secrets registered)."""
        access = data.get("access_token")
        if not isinstance(access, str) or not access:
            raise AuthError(
                f"{self.label}: the token endpoint's answer has no access_token; check token_url in "
                f"[providers.{self.name}] and the provider's status"
            )
        refresh = data.get("refresh_token") or None
        id_token = data.get("id_token") or None
        for secret in (access, refresh, id_token):
            register_secret(secret if isinstance(secret, str) else None)
        token_type = str(data.get("token_type") or "Bearer")
        if token_type.lower() == "bearer":
            token_type = "Bearer"
        scope = data.get("scope")
        scopes: tuple[str, ...] | None
        if isinstance(scope, str):
            scopes = tuple(s for s in scope.replace(",", " ").split() if s)
        elif isinstance(scope, list):
            scopes = tuple(str(s) for s in scope)
        else:
            scopes = None
        known = {"access_token", "refresh_token", "id_token", "token_type", "scope", "expires_in"}
        return TokenResponse(
            access_token=access,
            token_type=token_type,
            expires_in=self.read_seconds(data.get("expires_in"), "expires_in"),
            refresh_token=refresh if isinstance(refresh, str) else None,
            refresh_expires_in=self.read_seconds(data.get("refresh_token_expires_in"), "refresh_token_expires_in"),
            scopes=scopes,
            id_token=id_token if isinstance(id_token, str) else None,
            extra={k: v for k, v in data.items() if k not in known and k != "refresh_token_expires_in"},
        )

    def read_seconds(self, value: Any, key: str) -> float | None:
        """A duration field of an answer (``expires_in``, ``interval``) as seconds, ``None`` when
        absent; a clear :class:`AuthError` when it is not a non-negative number (numeric strings
        are accepted)."""
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            number = math.nan
        elif isinstance(value, int | float):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                number = math.nan
        else:
            number = math.nan
        if not math.isfinite(number) or number < 0:
            raise AuthError(
                f"{self.label}: the token endpoint sent {key} = {str(value)[:40]!r}, which is not a number of "
                "seconds; report this to the provider (or the provider plugin's authors)"
            )
        return number

    # -- flows' building blocks -----------------------------------------------------------------

    async def exchange_code(
        self, http: httpx.AsyncClient, code: str, *, redirect_uri: str, verifier: str | None
    ) -> TokenResponse:
        """Exchange an authorization code (RFC 6749 4.1.3, with the PKCE verifier)."""
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if verifier:
            data["code_verifier"] = verifier
        if self.resource_indicator():
            data["resource"] = self.resource_indicator() or ""
        return await self.token_request(http, data)

    async def refresh(self, http: httpx.AsyncClient, token: Token) -> TokenResponse:
        """*Override* for a provider with its own refresh request. Standard: RFC 6749 6."""
        if token.refresh_token is None:
            raise NotRefreshableError(
                f"{self.label}: the token of '{token.account}' cannot be refreshed: the provider gave no refresh "
                "token with it",
                provider=self.name,
            )
        data = {"grant_type": "refresh_token", "refresh_token": token.refresh_token.get_secret_value()}
        if self.resource_indicator():
            data["resource"] = self.resource_indicator() or ""
        return await self.token_request(http, data)

    async def client_credentials(self, http: httpx.AsyncClient, scopes: tuple[str, ...]) -> TokenResponse:
        """The client credentials grant (RFC 6749 4.4)."""
        data = {"grant_type": "client_credentials"}
        if scopes:
            data["scope"] = self.scope_separator.join(scopes)
        if self.resource_indicator():
            data["resource"] = self.resource_indicator() or ""
        return await self.token_request(http, data)

    async def start_device_authorization(self, http: httpx.AsyncClient, scopes: tuple[str, ...]) -> DeviceAuthorization:
        """RFC 8628 3.1: ask for a device code and a user code."""
        url = await self.require(http, "device")
        data: dict[str, str] = {}
        if scopes:
            data["scope"] = self.scope_separator.join(scopes)
        response = await self.post_form(http, url, data, what="device authorization endpoint")
        body = self.read_json(response, "device authorization endpoint")
        self.raise_for_error(response, body, "device authorization endpoint")
        try:
            device_code, user_code = str(body["device_code"]), str(body["user_code"])
            verification_uri = str(body.get("verification_uri") or body["verification_url"])
        except KeyError as exc:
            raise AuthError(
                f"{self.label}: the device authorization answer lacks {exc.args[0]}; check device_url in "
                f"[providers.{self.name}]"
            ) from None
        register_secret(device_code)
        complete = body.get("verification_uri_complete")
        return DeviceAuthorization(
            device_code=device_code,
            user_code=user_code,
            verification_uri=verification_uri,
            verification_uri_complete=str(complete) if complete else None,
            expires_in=self.read_seconds(body.get("expires_in"), "expires_in") or 600.0,
            interval=self.read_seconds(body.get("interval"), "interval") or 5.0,
        )

    async def poll_device_token(self, http: httpx.AsyncClient, device: DeviceAuthorization) -> TokenResponse:
        """One poll of the token endpoint for a device code (RFC 8628 3.4). ``authorization_pending``
        and ``slow_down`` come back as :class:`OAuthError` with that ``error``."""
        data = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": device.device_code}
        url = await self.require(http, "token")
        response = await self.post_form(http, url, data, what="token endpoint")
        body = self.read_json(response, "token endpoint")
        error = body.get("error")
        if error in ("authorization_pending", "slow_down", "access_denied", "authorization_declined", "expired_token"):
            raise OAuthError(f"{self.label}: {error}", provider=self.name, error=str(error))
        self.raise_for_error(response, body, "token endpoint")
        return self.token_response_from(body)

    # -- identity -----------------------------------------------------------------------------

    async def identity(self, http: httpx.AsyncClient, response: TokenResponse) -> Identity:
        """*Override* for a provider whose account lookup is not a userinfo call.

        Standard (the OpenID Connect way): the ID token's ``sub`` when there is an ID token, its
        ``name``/``email`` for the display name, the userinfo endpoint asked only for a missing
        name; without an ID token, the userinfo endpoint read with the new access token and
        mapped by :meth:`identity_from_userinfo`; else :data:`DEFAULT_ACCOUNT`.

        An ID token that fails its checks raises :class:`IdTokenError` (the login is refused).
        A userinfo endpoint that refuses the access token (one issued for another API: Auth0
        audiences, Entra resources, RFC 8707 resource indicators) costs the display name only;
        without an ID token the token manager then stores the login under ``default`` and warns.
        """
        endpoints = await self.endpoints(http)
        if response.id_token:
            claims = self.id_token_claims(response.id_token, endpoints)
            name = claims.get("name") or claims.get("preferred_username") or claims.get("email")
            if not name and endpoints.userinfo:
                try:
                    data = await self.get_json(
                        http, endpoints.userinfo, response.access_token, what="userinfo endpoint"
                    )
                    if str(data.get("sub", claims["sub"])) == str(claims["sub"]):  # OIDC Core 5.3.2
                        name = self.identity_from_userinfo(data).display_name
                except AuthError as exc:
                    log.debug("%s; the account is named by the ID token alone", exc)
            return Identity(str(claims["sub"]), str(name) if name else None)
        if endpoints.userinfo:
            data = await self.get_json(http, endpoints.userinfo, response.access_token, what="userinfo endpoint")
            return self.identity_from_userinfo(data)
        return Identity(DEFAULT_ACCOUNT, None)

    def identity_from_userinfo(self, data: Mapping[str, Any]) -> Identity:
        """*Override* to map the provider's user object: ``sub`` or ``id``, and a display name."""
        account = data.get("sub") or data.get("id") or data.get("user_id")
        if account in (None, ""):
            raise AuthError(
                f"{self.label}: the userinfo answer has no 'sub' or 'id'; the provider plugin must map its "
                "user object (override identity_from_userinfo)"
            )
        name = data.get("name") or data.get("login") or data.get("email") or data.get("username")
        return Identity(str(account), str(name) if name else None)

    async def get_json(self, http: httpx.AsyncClient, url: str, access_token: str, *, what: str) -> dict[str, Any]:
        """GET ``url`` with the bearer token; the JSON object answered."""
        response = await self.request(
            http,
            "GET",
            url,
            what=what,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )
        data = self.read_json(response, what)
        self.raise_for_error(response, data, what)
        return data

    def id_token_claims(self, id_token: str, endpoints: Endpoints) -> dict[str, Any]:
        """The claims of an ID token received straight from the token endpoint over TLS.

        OpenID Connect Core 3.1.3.7 lets a client that got the ID token directly from the token
        endpoint rely on TLS instead of the signature; ``iss`` and ``aud`` are still checked. Time
        claims are not, so clocks skewed by minutes do not break logins.
        """
        try:
            payload = id_token.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (IndexError, ValueError):
            raise IdTokenError(f"{self.label}: the ID token is not a JWT; report this to the provider") from None
        if not isinstance(claims, dict) or claims.get("sub") in (None, ""):
            raise IdTokenError(f"{self.label}: the ID token has no 'sub' claim; report this to the provider")
        if endpoints.issuer and claims.get("iss") != endpoints.issuer:
            raise IdTokenError(
                f"{self.label}: the ID token was issued by {claims.get('iss')!r}, not {endpoints.issuer!r}; "
                f"check issuer in [providers.{self.name}]"
            )
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if self.config.client_id and self.config.client_id not in audiences:
            raise IdTokenError(
                f"{self.label}: the ID token is not meant for client_id {self.config.client_id!r}; check client_id "
                f"in [providers.{self.name}]"
            )
        return claims

    # -- revocation ---------------------------------------------------------------------------

    async def revoke(self, http: httpx.AsyncClient, token: Token) -> bool:
        """*Override* for a provider with its own revocation. Standard: RFC 7009, the refresh
        token first (which ends the grant), then the access token.

        Returns ``False`` when the provider offers no revocation endpoint.
        """
        url = (await self.endpoints(http)).revoke
        if not url:
            return False
        pairs: list[tuple[str, str]] = []
        if token.refresh_token is not None:
            pairs.append((token.refresh_token.get_secret_value(), "refresh_token"))
        pairs.append((token.access_token.get_secret_value(), "access_token"))
        for value, hint in pairs:
            response = await self.post_form(
                http, url, {"token": value, "token_type_hint": hint}, what="revocation endpoint"
            )
            if response.status_code == 200:
                continue
            data: dict[str, Any] = {}
            try:
                parsed = json.loads(response.content)
                if isinstance(parsed, dict):
                    data = parsed
            except ValueError:
                pass
            if data.get("error") == "unsupported_token_type":
                continue
            self.raise_for_error(response, data or {"error": None}, "revocation endpoint")
            raise OAuthError(
                f"{self.label}: the revocation endpoint answered HTTP {response.status_code}", provider=self.name
            )
        return True
