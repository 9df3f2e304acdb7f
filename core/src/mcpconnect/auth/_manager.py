"""The token manager: logins, valid tokens on demand, single-flight refresh, logout.

Rules it keeps:

- a valid token is handed out; one expiring within ``config.refresh_margin`` is refreshed first;
- single flight per provider and account: an in-process lock, then the store's ``refresh_lock``
  (other processes), and after each the store is read again, since someone else may have
  refreshed already. 1000 callers holding one expired token cause one refresh request;
- a refreshed token (a rotated refresh token included) is stored, compare-and-swap on the
  version read, before it is handed out;
- ``invalid_grant`` (or the provider's own code for it) marks the login ``needs_login``, keeps
  the provider's reason with it and says to log in again; a transient failure (network, 5xx,
  timeout) is retried with backoff and never deletes or overwrites the stored token, a rate
  limit (HTTP 429) is not retried before its ``Retry-After``, and a per-provider circuit breaker
  stops hammering a provider that is down;
- a token without a refresh token is never marked: it stays usable until it expires;
- ``logout`` revokes at the provider and deletes the local copy even when the provider is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import httpx
from pydantic import SecretStr

from mcpconnect._logs import register_secret
from mcpconnect.auth._errors import (
    CircuitOpenError,
    IdTokenError,
    NeedsLoginError,
    NotRefreshableError,
    OAuthError,
    TransientAuthError,
)
from mcpconnect.auth._flows import (
    AuthorizationRequest,
    DeviceHandler,
    UrlHandler,
    authorization_code_flow,
    client_credentials_flow,
    device_flow,
    finish_authorization,
    paste_flow,
    start_authorization,
)
from mcpconnect.auth._provider import DEFAULT_ACCOUNT, Identity, OAuthProvider, TokenResponse
from mcpconnect.errors import AuthError, ConfigError, PluginError, StoreError, VersionConflict
from mcpconnect.storage._base import ANY_VERSION
from mcpconnect.storage._store import user_principal
from mcpconnect.tokens import Token

if TYPE_CHECKING:
    from mcpconnect._runtime import Runtime
    from mcpconnect.storage._store import StoredToken, TokenStore

__all__ = ["CircuitBreaker", "LogoutResult", "TokenManager", "token_manager"]

log = logging.getLogger("mcpconnect.auth")

LoginMethod = Literal["browser", "paste", "device", "client_credentials"]
#: Where a rejected refresh's reason is kept on the token (``Token.extra``): no secret, only the
#: provider's error code and the message built from it.
_REASON = "needs_login_reason"


_SECRET_FIELD = re.compile(r"token|secret|password|code|key|assertion", re.IGNORECASE)


def _public_fields(data: Mapping[str, Any], depth: int = 0) -> dict[str, Any]:
    """What a token response says besides the token (Slack's team, Notion's workspace), with
    every field whose name could hold a secret left out, so that it may be stored and shown."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if _SECRET_FIELD.search(str(key)):
            continue
        if isinstance(value, str | int | float | bool) or value is None:
            out[str(key)] = value
        elif isinstance(value, Mapping) and depth < 2:
            nested = _public_fields(value, depth + 1)
            if nested:
                out[str(key)] = nested
    return out


def _now() -> datetime:
    return datetime.now(UTC)


class CircuitBreaker:
    """Per provider: opens after ``threshold`` consecutive transient failures, lets one probe
    through (half-open) after ``cooldown`` seconds, closes on a success."""

    def __init__(
        self, name: str, *, threshold: int = 5, cooldown: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self.threshold = threshold
        self.cooldown = cooldown
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self.probing = False

    @property
    def state(self) -> Literal["closed", "open", "half-open"]:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.clock() - self.opened_at >= self.cooldown else "open"

    def before(self) -> None:
        """Raise :class:`TransientAuthError` while open; let one probe through when half-open."""
        state = self.state
        if state == "closed":
            return
        if state == "half-open" and not self.probing:
            self.probing = True
            return
        assert self.opened_at is not None
        wait = max(0.0, self.cooldown - (self.clock() - self.opened_at))
        raise CircuitOpenError(
            f"provider '{self.name}': not trying to refresh for another {wait:.0f} s after {self.failures} "
            "failures in a row (circuit open); the stored token is kept; check the provider's status",
            provider=self.name,
        )

    def success(self) -> None:
        self.failures, self.opened_at, self.probing = 0, None, False

    def failure(self) -> None:
        self.failures += 1
        if self.probing or self.failures >= self.threshold:
            self.opened_at = self.clock()
        self.probing = False


@dataclass(frozen=True)
class LogoutResult:
    """What ``logout`` did: ``remote`` is ``True`` when the provider confirmed the revocation."""

    provider: str
    account: str
    remote: bool
    warning: str | None = None


@dataclass(frozen=True)
class _Slot:
    """Where a token lives: the shared namespace (``user`` is ``None``) or one gateway user's
    (``User.key``). Every read, write and refresh lock of a refresh goes through one slot, so that
    a user's refresh never reads, writes or waits on the shared token or another user's."""

    store: TokenStore
    user: str | None = None

    async def get(self, provider: str, account: str) -> StoredToken | None:
        if self.user is None:
            return await self.store.get(provider, account)
        return await self.store.get_for_user(self.user, provider, account)

    async def put(self, token: Token, *, expected_version: int) -> int:
        if self.user is None:
            return await self.store.put(token, expected_version=expected_version)
        return await self.store.put_for_user(self.user, token, expected_version=expected_version)

    def lock(self, provider: str, account: str, *, lease: float, wait: float) -> Any:
        if self.user is None:
            return self.store.refresh_lock(provider, account, lease=lease, wait=wait)
        return self.store.refresh_lock_for_user(self.user, provider, account, lease=lease, wait=wait)

    def again(self, name: str) -> str:
        """What to do when only a new login helps."""
        if self.user is None:
            return f"run 'mcpconnect login {name}'"
        return f"connect your {name} account to the gateway again"


class TokenManager:
    """Tokens for the providers of one :class:`~mcpconnect.Runtime`.

    :param retries: attempts for a refresh hitting transient failures.
    :param backoff: first retry delay in seconds, doubled on each retry (with jitter).
    :param http_timeout: seconds for each request to a provider.
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        retries: int = 3,
        backoff: float = 0.5,
        breaker_threshold: int = 5,
        breaker_cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        http_timeout: float = 30.0,
        lock_wait: float = 60.0,
    ) -> None:
        self.runtime = runtime
        self.retries = max(1, retries)
        self.backoff = backoff
        self.breaker_threshold = breaker_threshold
        self.breaker_cooldown = breaker_cooldown
        self.clock = clock
        self.http_timeout = http_timeout
        self.lock_wait = lock_wait
        self._providers: dict[str, OAuthProvider] = {}
        self._locks: dict[tuple[str | None, str, str], asyncio.Lock] = {}
        self._breakers: dict[str, CircuitBreaker] = {}

    def __repr__(self) -> str:
        return f"TokenManager(providers={sorted(self._providers)!r})"

    # -- plumbing -----------------------------------------------------------------------------

    @property
    def store(self) -> TokenStore:
        return self.runtime.store()

    @property
    def margin(self) -> timedelta:
        return timedelta(seconds=self.runtime.config.refresh_margin)

    def margin_for(self, token: Token) -> timedelta:
        """The refresh margin for ``token``: ``refresh_margin``, but at most half its lifetime, so
        that short-lived tokens (5 minutes, with the 300 s default) are not refreshed on every use."""
        if token.expires_at is None:
            return self.margin
        return max(timedelta(0), min(self.margin, (token.expires_at - token.obtained_at) / 2))

    def http(self, provider: OAuthProvider | None = None) -> httpx.AsyncClient:
        """A client for provider requests; redirects are not followed (a token endpoint that
        redirects is misconfigured, and following could send secrets elsewhere).

        With ``provider``, every request it sends, to any URL a plugin builds (an ``api_url``
        user endpoint too), must be https, loopback, or allowed by its ``allow_insecure_http``.
        """
        hooks: dict[str, list[Any]] = {}
        if provider is not None:

            async def secure_only(request: httpx.Request) -> None:
                provider.check_url(str(request.url), "request URL")

            hooks["request"] = [secure_only]
        return httpx.AsyncClient(timeout=self.http_timeout, follow_redirects=False, event_hooks=hooks)

    def provider(self, name: str) -> OAuthProvider:
        """The provider configured as ``[providers.NAME]``, built by its plugin's factory."""
        if name not in self._providers:
            cfg = self.runtime.config.providers.get(name)
            if cfg is None:
                known = ", ".join(sorted(self.runtime.config.providers)) or "none"
                raise ConfigError(
                    f"no provider named '{name}' is configured (configured: {known}); add [providers.{name}] "
                    'with type = "..." to mcpconnect.toml',
                    key=f"providers.{name}",
                )
            self._providers[name] = self.runtime.host.build("auth", cfg.type, name, cfg, returns=OAuthProvider)
        return self._providers[name]

    def use_provider(self, provider: OAuthProvider) -> None:
        """Serve ``provider.name`` with ``provider`` (built at run time, as MCP authorization does
        from a server's metadata) instead of a ``[providers.NAME]`` entry."""
        self._providers[provider.name] = provider

    def breaker(self, name: str) -> CircuitBreaker:
        if name not in self._breakers:
            self._breakers[name] = CircuitBreaker(
                name, threshold=self.breaker_threshold, cooldown=self.breaker_cooldown, clock=self.clock
            )
        return self._breakers[name]

    def _lock(self, provider: str, account: str, user: str | None = None) -> asyncio.Lock:
        key = (user, provider, account)
        if key not in self._locks:
            self._locks[key] = asyncio.Lock()
        return self._locks[key]

    def _token(
        self,
        provider: OAuthProvider,
        response: TokenResponse,
        identity: Identity,
        *,
        requested: tuple[str, ...],
        previous: Token | None = None,
        issuer: str | None = None,
    ) -> Token:
        now = _now()
        refresh = response.refresh_token or (
            previous.refresh_token.get_secret_value() if previous and previous.refresh_token else None
        )
        if response.refresh_token is None and response.refresh_expires_in is None and previous is not None:
            refresh_expires_at = previous.refresh_expires_at
        else:
            refresh_expires_at = (
                now + timedelta(seconds=response.refresh_expires_in)
                if response.refresh_expires_in is not None
                else None
            )
        scopes = response.scopes if response.scopes is not None else (previous.scopes if previous else requested)
        return Token(
            provider=provider.name,
            account=identity.account_id,
            account_name=identity.display_name or (previous.account_name if previous else None),
            access_token=SecretStr(response.access_token),
            token_type=response.token_type,
            expires_at=now + timedelta(seconds=response.expires_in) if response.expires_in is not None else None,
            refresh_token=SecretStr(refresh) if refresh else None,
            refresh_expires_at=refresh_expires_at,
            scopes=tuple(scopes),
            issuer=issuer or (previous.issuer if previous else None),
            resource=previous.resource if previous else provider.config.options.get("resource"),
            id_token=SecretStr(response.id_token) if response.id_token else (previous.id_token if previous else None),
            obtained_at=now,
            extra=_public_fields(response.extra) or (dict(previous.extra) if previous else {}),
        )

    # -- login ----------------------------------------------------------------------------------

    async def login(
        self,
        name: str,
        *,
        method: LoginMethod = "browser",
        scopes: tuple[str, ...] | list[str] | None = None,
        on_url: UrlHandler | None = None,
        on_device_code: DeviceHandler | None = None,
        wait: float = 300.0,
        device_sleep: Callable[[float], Any] | None = None,
        port: int = 0,
        read_redirect: Callable[[], Any] | None = None,
        on_warning: Callable[[str], None] | None = None,
        user: str | None = None,
        redirect_uri: str | None = None,
    ) -> Token:
        """Log in to provider ``name`` and store the token; returns it.

        ``method``: ``"browser"`` (authorization code + PKCE; ``on_url`` receives the URL to
        open), ``"paste"`` (the same, with the provider's registered https ``redirect_uri``:
        ``read_redirect`` returns the URL the browser landed on), ``"device"``
        (``on_device_code`` shows the user code) or ``"client_credentials"``. Nothing stored
        changes when the login fails. ``on_warning`` receives what the user should know about a
        login that worked (default: logged as a warning).

        ``user``: a gateway user's ``User.key``: the token is stored as that user's (never as the
        shared one); a client's own credentials (``client_credentials``) belong to no user and are
        refused. ``redirect_uri``: for ``paste``, the redirect URI instead of the provider's
        configured one (a gateway's public callback).
        """
        if user is not None and method not in ("browser", "paste", "device"):
            raise AuthError(f"login for a user: {method!r} is not a user's login (browser, paste or device)")
        slot = self._slot(None if user is None else _user_key(user))
        provider = self.redirecting_to(name, redirect_uri) if redirect_uri is not None else None
        with self.runtime.host.observe("login", provider=name, grant=method, user=_principal(user)) as operation:
            token = await self._login(
                slot,
                name,
                method,
                scopes,
                on_url,
                on_device_code,
                wait,
                device_sleep,
                port,
                read_redirect,
                on_warning,
                provider,
            )
            if operation is not None:
                operation.account = token.account
        if user is None:
            self.runtime.host.token_obtained(name, token.account, token)
        return token

    async def _login(
        self,
        slot: _Slot,
        name: str,
        method: LoginMethod,
        scopes: tuple[str, ...] | list[str] | None,
        on_url: UrlHandler | None,
        on_device_code: DeviceHandler | None,
        wait: float,
        device_sleep: Callable[[float], Any] | None,
        port: int,
        read_redirect: Callable[[], Any] | None,
        on_warning: Callable[[str], None] | None,
        provider: OAuthProvider | None = None,
    ) -> Token:
        provider = provider or self.provider(name)
        async with self.http(provider) as http:
            endpoints = await provider.endpoints(http)
            if method == "client_credentials":
                # A user's default scopes (openid, profile...) mean nothing for the client itself.
                wanted = tuple(scopes or provider.config.scopes or ())
            else:
                wanted = provider.scopes(scopes)
            if method == "browser":
                if on_url is None:
                    raise AuthError("login: on_url is required for the browser flow")
                response = await authorization_code_flow(
                    provider, http, scopes=wanted, on_url=on_url, wait=wait, port=port
                )
            elif method == "paste":
                if on_url is None or read_redirect is None:
                    raise AuthError("login: on_url and read_redirect are required for the paste flow")
                response = await paste_flow(provider, http, scopes=wanted, on_url=on_url, read_redirect=read_redirect)
            elif method == "device":
                if on_device_code is None:
                    raise AuthError("login: on_device_code is required for the device flow")
                kwargs: dict[str, Any] = {"sleep": device_sleep} if device_sleep is not None else {}
                response = await device_flow(provider, http, scopes=wanted, on_code=on_device_code, **kwargs)
            else:
                response = await client_credentials_flow(provider, http, scopes=wanted)
            if method == "client_credentials":
                identity = Identity(provider.client_id, "client credentials")
            else:
                identity = await self._identity(provider, http, response, on_warning)
        token = self._token(provider, response, identity, requested=wanted, issuer=endpoints.issuer)
        await slot.put(token, expected_version=ANY_VERSION)
        log.info("logged in to %s as %s", name, token.account)
        return token

    async def _identity(
        self,
        provider: OAuthProvider,
        http: httpx.AsyncClient,
        response: TokenResponse,
        on_warning: Callable[[str], None] | None,
    ) -> Identity:
        """Who logged in. The tokens are in hand: only an ID token that fails its checks refuses
        the login; a provider that cannot say who it is (userinfo refusing a token meant for
        another API, a lookup that is down) leaves the login under :data:`DEFAULT_ACCOUNT`."""
        try:
            return await provider.identity(http, response)
        except IdTokenError:
            raise
        except AuthError as exc:
            message = (
                f"{exc}; the login worked and is stored under the account '{DEFAULT_ACCOUNT}' (the provider did "
                "not say who logged in)"
            )
            (on_warning or log.warning)(message)
            return Identity(DEFAULT_ACCOUNT, None)

    # -- reading --------------------------------------------------------------------------------

    # ``user`` (every method below): ``None`` for the shared token, or a gateway user's ``User.key``
    # (issuer#sub), whose upstream logins (``tokens = "per_user"``) live in their own namespace of
    # the store and refresh under their own lock: there is no fallback from a user to the shared
    # token or to another user's, and a user without a login gets NeedsLoginError.

    async def stored(self, name: str, account: str | None = None, *, user: str | None = None) -> StoredToken:
        """The stored token of ``account`` (default: the most recent login) at ``name``."""
        if user is not None:
            return await self._stored_for_user(_user_key(user), name, account)
        if account is not None:
            found = await self.store.get(name, account)
            if found is None:
                raise NeedsLoginError(
                    f"provider '{name}': account '{account}' is not logged in; run 'mcpconnect login {name}'",
                    provider=name,
                )
            register_token(found.token)
            return found
        tokens, damaged = await self.store.scan(name)
        if not tokens and damaged:
            # Say why, rather than "not logged in": the login is there but cannot be read.
            raise NeedsLoginError(damaged[0].message, provider=name)
        if not tokens:
            raise NeedsLoginError(f"provider '{name}': not logged in; run 'mcpconnect login {name}'", provider=name)
        latest = max(tokens, key=lambda s: s.token.obtained_at)
        register_token(latest.token)
        return latest

    async def _stored_for_user(self, user: str, name: str, account: str | None) -> StoredToken:
        if account is not None:
            found = await self.store.get_for_user(user, name, account)
        else:
            mine = [s for s in await self.store.list_for_user(user) if s.token.provider == name]
            found = max(mine, key=lambda s: s.token.obtained_at) if mine else None
        if found is None:
            raise NeedsLoginError(
                f"provider '{name}': this user has not connected an account; {_Slot(self.store, user).again(name)}",
                provider=name,
            )
        register_token(found.token)
        return found

    async def get_token(self, name: str, account: str | None = None, *, user: str | None = None) -> Token:
        """A valid token for ``account`` at ``name``, refreshed first when it expires within
        the refresh margin (single flight per user, provider and account, across processes).
        Raises :class:`NeedsLoginError` when only a login can help."""
        slot = self._slot(None if user is None else _user_key(user))
        current = await self.stored(name, account, user=user)
        token = current.token
        if token.needs_login:
            raise self._needs_login(name, token, slot)
        if not token.is_expiring(self.margin_for(token)):
            return token
        if not token.refreshable or not self.provider(name).supports_refresh:
            if not token.is_expiring():
                return token
            raise NeedsLoginError(
                f"provider '{name}': the token of '{token.account}' has expired and cannot be refreshed; "
                f"{slot.again(name)}",
                provider=name,
            )
        try:
            return await self._refresh(slot, name, token.account, seen_version=current.version, force=False)
        except TransientAuthError as exc:
            if not token.is_expiring():
                # Refreshing early failed, but the token still works: use it, try again later.
                log.warning("%s; using the current token, which is still valid", exc)
                return token
            raise

    async def refresh(self, name: str, account: str | None = None, *, user: str | None = None) -> Token:
        """Refresh now, whatever the expiry (``mcpconnect tokens refresh``).

        A token without a refresh token raises :class:`NotRefreshableError` (still valid) or
        :class:`NeedsLoginError` (expired); neither sends a request or changes the stored token.
        """
        slot = self._slot(None if user is None else _user_key(user))
        current = await self.stored(name, account, user=user)
        token = current.token
        if token.needs_login:
            raise self._needs_login(name, token, slot)
        if not token.refreshable or not self.provider(name).supports_refresh:
            raise self._not_refreshable(name, token, slot)
        return await self._refresh(slot, name, token.account, seen_version=current.version, force=True)

    def _not_refreshable(self, name: str, token: Token, slot: _Slot) -> OAuthError:
        why = (
            "its refresh token has expired"
            if token.refresh_token is not None
            else "the provider gave no refresh token with it"
        )
        if token.is_expiring():
            return NeedsLoginError(
                f"provider '{name}': the token of '{token.account}' has expired and cannot be refreshed ({why}); "
                f"{slot.again(name)}",
                provider=name,
            )
        lasts = "it does not expire" if token.expires_at is None else "it stays valid until it expires"
        anew = f"'mcpconnect login {name}'" if slot.user is None else "connecting the account again"
        return NotRefreshableError(
            f"provider '{name}': the token of '{token.account}' cannot be refreshed ({why}); {lasts} and is still "
            f"used as it is; nothing to do until then, and {anew} gets a new one",
            provider=name,
        )

    async def refresh_rejected(self, name: str, rejected: Token, *, user: str | None = None) -> Token:
        """A server answered 401 to ``rejected``: refresh once (unless someone already did)."""
        slot = self._slot(None if user is None else _user_key(user))
        current = await slot.get(name, rejected.account)
        if current is None:
            raise NeedsLoginError(
                f"provider '{name}': '{rejected.account}' was logged out; {slot.again(name)}", provider=name
            )
        stored = current.token
        if stored.access_token.get_secret_value() != rejected.access_token.get_secret_value() and not (
            stored.needs_login or stored.is_expiring()
        ):
            return register_token(stored)
        if stored.needs_login:
            raise self._needs_login(name, stored, slot)
        if not stored.refreshable:
            raise NeedsLoginError(
                f"provider '{name}': the server rejected the token of '{rejected.account}' and it cannot be "
                f"refreshed (no refresh token); {slot.again(name)}",
                provider=name,
            )
        return await self._refresh(slot, name, rejected.account, seen_version=current.version, force=True)

    # -- logins whose callback may reach another process (a gateway's /connect) -------------------

    def redirecting_to(self, name: str, redirect_uri: str) -> OAuthProvider:
        """Provider ``name`` with ``redirect_uri`` instead of its configured one (a gateway's public
        callback); a fresh object, so the shared provider's configuration stays as it is."""
        config = self.provider(name).config.model_copy(update={"redirect_uri": redirect_uri})
        provider: OAuthProvider = self.runtime.host.build("auth", config.type, name, config, returns=OAuthProvider)
        return provider

    async def start_login(
        self,
        name: str,
        *,
        redirect_uri: str,
        wait: float,
        scopes: tuple[str, ...] | list[str] | None = None,
        nonce: bool = False,
    ) -> tuple[str, AuthorizationRequest]:
        """The first half of a login whose callback may reach another process (a gateway replica):
        the authorization URL, and the request to keep (in the store) for :meth:`finish_login`."""
        provider = self.redirecting_to(name, redirect_uri)
        async with self.http(provider) as http:
            return await start_authorization(
                provider, http, scopes=provider.scopes(scopes), redirect_uri=redirect_uri, wait=wait, nonce=nonce
            )

    async def exchange_login(
        self, request: AuthorizationRequest, params: dict[str, str], *, again: str
    ) -> tuple[OAuthProvider, TokenResponse]:
        """Check a callback's query against ``request`` (taken once from the store) and exchange its
        code; nothing is stored. ``again``: what the user does to try again."""
        provider = self.redirecting_to(request.provider, request.redirect_uri)
        async with self.http(provider) as http:
            return provider, await finish_authorization(provider, http, request, params, again=again)

    async def finish_login(
        self, request: AuthorizationRequest, params: dict[str, str], *, user: str | None = None, again: str
    ) -> Token:
        """The second half of :meth:`start_login`: check the callback, exchange its code, and store
        the token as ``user``'s (``None``: the shared token); returns it."""
        slot = self._slot(None if user is None else _user_key(user))
        name = request.provider
        with self.runtime.host.observe(
            "login", provider=name, grant="authorization_code", user=_principal(slot.user)
        ) as operation:
            provider, response = await self.exchange_login(request, params, again=again)
            async with self.http(provider) as http:
                identity = await self._identity(provider, http, response, None)
            token = self._token(provider, response, identity, requested=request.scopes, issuer=request.issuer)
            await slot.put(token, expected_version=ANY_VERSION)
            if operation is not None:
                operation.account = token.account
        log.info("logged in to %s as %s", name, token.account)
        if user is None:
            self.runtime.host.token_obtained(name, token.account, token)
        return token

    def _needs_login(self, name: str, token: Token, slot: _Slot | None = None) -> NeedsLoginError:
        """The error for a login marked ``needs_login``, with the provider's reason when kept."""
        reason = token.extra.get(_REASON)
        if isinstance(reason, dict) and reason.get("message"):
            return NeedsLoginError(str(reason["message"]), provider=name, error=reason.get("error"))
        again = (slot or self._slot()).again(name)
        return NeedsLoginError(
            f"provider '{name}': the login of '{token.account}' needs renewing (the provider refused to refresh "
            f"it); {again}",
            provider=name,
        )

    def _still_good(self, token: Token) -> bool:
        return not token.needs_login and not token.is_expiring(self.margin_for(token))

    def _slot(self, user: str | None = None) -> _Slot:
        return _Slot(self.store, user)

    async def _refresh(self, slot: _Slot, name: str, account: str, *, seen_version: int, force: bool) -> Token:
        async with self._lock(name, account, slot.user):
            current = await slot.get(name, account)
            if current is None:
                raise NeedsLoginError(
                    f"provider '{name}': '{account}' was logged out; {slot.again(name)}", provider=name
                )
            if current.version != seen_version and (self._still_good(current.token) or current.token.needs_login):
                if current.token.needs_login:
                    raise self._needs_login(name, current.token, slot)
                return current.token  # another task refreshed while this one waited
            try:
                lock = slot.lock(name, account, lease=self.http_timeout * self.retries + 5, wait=self.lock_wait)
                async with lock:
                    # Another process may have refreshed while this one waited for the lock.
                    current = await slot.get(name, account)
                    if current is None:
                        raise NeedsLoginError(
                            f"provider '{name}': '{account}' was logged out; {slot.again(name)}", provider=name
                        )
                    if current.token.needs_login:
                        raise self._needs_login(name, current.token, slot)
                    if current.version != seen_version and self._still_good(current.token):
                        return current.token
                    if not force and self._still_good(current.token):
                        return current.token
                    return await self._refresh_locked(slot, name, current)
            except TimeoutError:
                raise TransientAuthError(
                    f"provider '{name}': another process has been refreshing '{account}' for over "
                    f"{self.lock_wait:.0f} s; try again",
                    provider=name,
                ) from None

    async def _refresh_locked(self, slot: _Slot, name: str, current: StoredToken) -> Token:
        breaker = self.breaker(name)
        attempts: list[int] = []
        operation = self.runtime.host.start_operation(
            "refresh", provider=name, account=current.token.account, user=_principal(slot.user)
        )
        try:
            token = await self._refresh_attempts(slot, name, current, breaker, attempts)
        except BaseException as exc:
            self.runtime.host.finish_operation(operation, exc, circuit_state=breaker.state, attempts=len(attempts))
            raise
        self.runtime.host.finish_operation(operation, circuit_state=breaker.state, attempts=len(attempts))
        return token

    async def _refresh_attempts(
        self, slot: _Slot, name: str, current: StoredToken, breaker: CircuitBreaker, attempts: list[int]
    ) -> Token:
        provider = self.provider(name)
        token = register_token(current.token)
        last: TransientAuthError | None = None
        for attempt in range(self.retries):
            breaker.before()
            attempts.append(attempt)
            try:
                async with self.http(provider) as http:
                    response = await provider.refresh(http, token)
            except TransientAuthError as exc:
                last = exc
                if exc.retry_after is not None or exc.error == "rate_limited":
                    # Rate limited: the provider is up and said when to come back; retrying now
                    # would only prolong the limit. The stored token stays as it is.
                    self.runtime.host.token_refresh_failed(name, token.account, exc, False)
                    raise
                breaker.failure()
                will_retry = attempt + 1 < self.retries
                self.runtime.host.token_refresh_failed(name, token.account, exc, will_retry)
                if will_retry:
                    delay = self.backoff * (2**attempt) * (1 + random.random() / 4)  # noqa: S311 - jitter
                    log.warning("%s; retrying in %.1f s", exc, delay)
                    await asyncio.sleep(delay)
                continue
            except NotRefreshableError:
                raise  # nothing was sent; the token stays as it is
            except NeedsLoginError as exc:
                breaker.success()  # the provider answered; it is up
                await self._mark_needs_login(slot, current, exc)
                self.runtime.host.token_refresh_failed(name, token.account, exc, False)
                raise
            except (OAuthError, AuthError) as exc:
                breaker.success()
                self.runtime.host.token_refresh_failed(name, token.account, exc, False)
                raise
            breaker.success()
            identity = Identity(token.account, token.account_name)
            new = self._token(provider, response, identity, requested=token.scopes, previous=token, issuer=token.issuer)
            try:
                # The rotated refresh token is stored before the new access token is handed out.
                await slot.put(new, expected_version=current.version)
            except VersionConflict:
                latest = await slot.get(name, token.account)
                if latest is not None and self._still_good(latest.token):
                    return latest.token
                raise
            log.info("refreshed the token of %s/%s", name, token.account)
            self.runtime.host.token_refreshed(name, token.account, new)
            return new
        assert last is not None
        raise last

    async def _mark_needs_login(self, slot: _Slot, current: StoredToken, reason: NeedsLoginError) -> None:
        extra = {**current.token.extra, _REASON: {"error": reason.error, "message": str(reason)}}
        marked = current.token.model_copy(update={"needs_login": True, "extra": extra})
        # Someone may have stored a newer token meanwhile: theirs stands.
        with contextlib.suppress(VersionConflict):
            await slot.put(marked, expected_version=current.version)

    # -- logout -----------------------------------------------------------------------------------

    async def logout(self, name: str, account: str | None = None) -> LogoutResult:
        """Revoke at the provider (RFC 7009 or its own) and delete the local copy; the local copy
        is deleted even when revocation fails, and the result carries a warning then.

        A damaged record (one that cannot be read) is deleted locally: there is no token to revoke.
        """
        try:
            current = await self.stored(name, account)
        except (NeedsLoginError, StoreError):  # DamagedRecordError, or a record the key cannot read
            _, damaged = await self.store.scan(name)
            damaged = [d for d in damaged if account is None or d.account == account]
            if not damaged:
                raise
            for found in damaged:
                await self.store.delete_damaged(found)
            accounts = ", ".join(d.account for d in damaged)
            return LogoutResult(
                name,
                accounts,
                False,
                f"the stored token of {name} ({accounts}) was damaged and could not be revoked; it was deleted "
                f"locally: run 'mcpconnect login {name}'",
            )
        token = current.token
        remote, warning = False, None
        try:
            provider = self.provider(name)
            async with self.http(provider) as http:
                remote = await provider.revoke(http, token)
            if not remote:
                warning = f"provider '{name}' offers no token revocation; the token was deleted locally only"
        except (AuthError, ConfigError, PluginError) as exc:
            warning = f"{exc}; the token was deleted locally but may stay valid at the provider until it expires"
        await self.store.delete(name, token.account)
        if warning:
            log.info("%s", warning)  # the caller shows LogoutResult.warning; logged once, not twice
        self.runtime.host.token_revoked(name, token.account, remote)
        return LogoutResult(name, token.account, remote, warning)

    # -- health -----------------------------------------------------------------------------------

    async def health(self, name: str) -> dict[str, Any]:
        """For ``mcpconnect check``: endpoints reachable, logged in, expiry. Never raises."""
        out: dict[str, Any] = {"provider": name, "reachable": None, "logged_in": False, "problem": None}
        try:
            provider = self.provider(name)
            async with self.http(provider) as http:
                endpoints = await provider.endpoints(http)
                if endpoints.token:
                    try:
                        await http.head(endpoints.token)
                        out["reachable"] = True
                    except httpx.HTTPError:
                        out["reachable"] = False
            tokens = await self.store.list(name)
            out["logged_in"] = any(not s.token.needs_login for s in tokens)
            out["accounts"] = [s.token.summary() | {"access_token": None} for s in tokens]
        except (AuthError, ConfigError, PluginError) as exc:
            out["problem"] = str(exc)
        return out


def _user_key(user: str) -> str:
    if not user:
        raise ValueError("a per-user token needs a user (issuer#sub); an empty one would be shared")
    return user


def _principal(user: str | None) -> str | None:
    """How observers see a gateway user: the store's name for them (a digest), never the key."""
    return None if user is None else user_principal(user)


def token_manager(runtime: Runtime) -> TokenManager:
    """The one :class:`TokenManager` of ``runtime`` (so its single-flight locks are shared)."""
    return runtime.token_manager()


def register_token(token: Token) -> Token:
    """Register every secret of ``token`` with the log redactor; returns it."""
    for field in (token.access_token, token.refresh_token, token.id_token):
        if field is not None:
            register_secret(field.get_secret_value())
    return token


def secret_of(token: Token) -> str:
    """The access token's value, registered with the log redactor."""
    value = token.access_token.get_secret_value()
    register_secret(value)
    return value
