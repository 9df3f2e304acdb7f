"""The token manager: logins, valid tokens on demand, single-flight refresh, logout.

Rules it keeps:

- a valid token is handed out; one expiring within ``config.refresh_margin`` is refreshed first;
- single flight per provider and account: an in-process lock, then the store's ``refresh_lock``
  (other processes), and after each the store is read again, since someone else may have
  refreshed already. 1000 callers holding one expired token cause one refresh request;
- a refreshed token (a rotated refresh token included) is stored, compare-and-swap on the
  version read, before it is handed out;
- ``invalid_grant`` marks the login ``needs_login`` and says to log in again; a transient
  failure (network, 5xx, timeout) is retried with backoff and never deletes or overwrites the
  stored token, and a per-provider circuit breaker stops hammering a provider that is down;
- ``logout`` revokes at the provider and deletes the local copy even when the provider is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import httpx
from pydantic import SecretStr

from mcpconnect.auth.errors import NeedsLoginError, OAuthError, TransientAuthError
from mcpconnect.auth.flows import (
    DeviceHandler,
    UrlHandler,
    authorization_code_flow,
    client_credentials_flow,
    device_flow,
)
from mcpconnect.auth.provider import Identity, OAuthProvider, TokenResponse
from mcpconnect.errors import AuthError, ConfigError, PluginError, VersionConflict
from mcpconnect.logs import register_secret
from mcpconnect.tokens import Token

if TYPE_CHECKING:
    from mcpconnect.runtime import Runtime
    from mcpconnect.storage.store import StoredToken, TokenStore

__all__ = ["CircuitBreaker", "LogoutResult", "TokenManager", "token_manager"]

log = logging.getLogger("mcpconnect.auth")

LoginMethod = Literal["browser", "device", "client_credentials"]


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
        raise TransientAuthError(
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


class TokenManager:
    """Tokens for the providers of one :class:`~mcpconnect.runtime.Runtime`.

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
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
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

    def http(self) -> httpx.AsyncClient:
        """A client for provider requests; redirects are not followed (a token endpoint that
        redirects is misconfigured, and following could send secrets elsewhere)."""
        return httpx.AsyncClient(timeout=self.http_timeout, follow_redirects=False)

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
            registration = self.runtime.host.load("auth", cfg.type)
            provider = registration.factory(name, cfg)
            if not isinstance(provider, OAuthProvider):
                raise PluginError(
                    f"auth provider plugin '{cfg.type}' returned {type(provider).__name__}, not an OAuthProvider; "
                    "report this to the plugin's authors"
                )
            self._providers[name] = provider
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

    def _lock(self, provider: str, account: str) -> asyncio.Lock:
        key = (provider, account)
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
    ) -> Token:
        """Log in to provider ``name`` and store the token; returns it.

        ``method``: ``"browser"`` (authorization code + PKCE; ``on_url`` receives the URL to
        open), ``"device"`` (``on_device_code`` shows the user code) or
        ``"client_credentials"``. Nothing stored changes when the login fails.
        """
        with self.runtime.host.observe("login", provider=name, grant=method) as operation:
            token = await self._login(name, method, scopes, on_url, on_device_code, wait, device_sleep, port)
            if operation is not None:
                operation.account = token.account
        self.runtime.host.token_obtained(name, token.account, token)
        return token

    async def _login(
        self,
        name: str,
        method: LoginMethod,
        scopes: tuple[str, ...] | list[str] | None,
        on_url: UrlHandler | None,
        on_device_code: DeviceHandler | None,
        wait: float,
        device_sleep: Callable[[float], Any] | None,
        port: int,
    ) -> Token:
        provider = self.provider(name)
        async with self.http() as http:
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
                identity = await provider.identity(http, response)
        token = self._token(provider, response, identity, requested=wanted, issuer=endpoints.issuer)
        await self.store.put(token)
        log.info("logged in to %s as %s", name, token.account)
        return token

    # -- reading --------------------------------------------------------------------------------

    async def stored(self, name: str, account: str | None = None) -> StoredToken:
        """The stored token of ``account`` (default: the most recent login) at ``name``."""
        if account is not None:
            found = await self.store.get(name, account)
            if found is None:
                raise NeedsLoginError(
                    f"provider '{name}': account '{account}' is not logged in; run 'mcpconnect login {name}'",
                    provider=name,
                )
            register_token(found.token)
            return found
        tokens = await self.store.list(name)
        if not tokens:
            raise NeedsLoginError(f"provider '{name}': not logged in; run 'mcpconnect login {name}'", provider=name)
        latest = max(tokens, key=lambda s: s.token.obtained_at)
        register_token(latest.token)
        return latest

    async def get_token(self, name: str, account: str | None = None) -> Token:
        """A valid token for ``account`` at ``name``, refreshed first when it expires within
        the refresh margin. Raises :class:`NeedsLoginError` when only a login can help."""
        current = await self.stored(name, account)
        token = current.token
        if token.needs_login:
            raise self._needs_login(name, token.account)
        if not token.is_expiring(self.margin_for(token)):
            return token
        if not token.refreshable or not self.provider(name).supports_refresh:
            if not token.is_expiring():
                return token
            raise NeedsLoginError(
                f"provider '{name}': the token of '{token.account}' has expired and cannot be refreshed; "
                f"run 'mcpconnect login {name}'",
                provider=name,
            )
        try:
            return await self._refresh(name, token.account, seen_version=current.version, force=False)
        except TransientAuthError as exc:
            if not token.is_expiring():
                # Refreshing early failed, but the token still works: use it, try again later.
                log.warning("%s; using the current token, which is still valid", exc)
                return token
            raise

    async def refresh(self, name: str, account: str | None = None) -> Token:
        """Refresh now, whatever the expiry (``mcpconnect tokens refresh``)."""
        current = await self.stored(name, account)
        return await self._refresh(name, current.token.account, seen_version=current.version, force=True)

    async def refresh_rejected(self, name: str, rejected: Token) -> Token:
        """A server answered 401 to ``rejected``: refresh once (unless someone already did)."""
        current = await self.store.get(name, rejected.account)
        if current is None:
            raise NeedsLoginError(
                f"provider '{name}': '{rejected.account}' was logged out; run 'mcpconnect login {name}'", provider=name
            )
        stored = current.token
        if stored.access_token.get_secret_value() != rejected.access_token.get_secret_value() and not (
            stored.needs_login or stored.is_expiring()
        ):
            return stored
        if not stored.refreshable:
            raise NeedsLoginError(
                f"provider '{name}': the server rejected the token of '{rejected.account}' and it cannot be "
                f"refreshed; run 'mcpconnect login {name}'",
                provider=name,
            )
        return await self._refresh(name, rejected.account, seen_version=current.version, force=True)

    def _needs_login(self, name: str, account: str) -> NeedsLoginError:
        return NeedsLoginError(
            f"provider '{name}': the login of '{account}' needs renewing (its refresh token was rejected); "
            f"run 'mcpconnect login {name}'",
            provider=name,
            error="invalid_grant",
        )

    def _still_good(self, token: Token) -> bool:
        return not token.needs_login and not token.is_expiring(self.margin_for(token))

    async def _refresh(self, name: str, account: str, *, seen_version: int, force: bool) -> Token:
        async with self._lock(name, account):
            current = await self.store.get(name, account)
            if current is None:
                raise NeedsLoginError(
                    f"provider '{name}': '{account}' was logged out; run 'mcpconnect login {name}'", provider=name
                )
            if current.version != seen_version and (self._still_good(current.token) or current.token.needs_login):
                if current.token.needs_login:
                    raise self._needs_login(name, account)
                return current.token  # another task refreshed while this one waited
            try:
                lock = self.store.refresh_lock(
                    name, account, lease=self.http_timeout * self.retries + 5, wait=self.lock_wait
                )
                async with lock:
                    # Another process may have refreshed while this one waited for the lock.
                    current = await self.store.get(name, account)
                    if current is None:
                        raise NeedsLoginError(
                            f"provider '{name}': '{account}' was logged out; run 'mcpconnect login {name}'",
                            provider=name,
                        )
                    if current.token.needs_login:
                        raise self._needs_login(name, account)
                    if current.version != seen_version and self._still_good(current.token):
                        return current.token
                    if not force and self._still_good(current.token):
                        return current.token
                    return await self._refresh_locked(name, current)
            except TimeoutError:
                raise TransientAuthError(
                    f"provider '{name}': another process has been refreshing '{account}' for over "
                    f"{self.lock_wait:.0f} s; try again",
                    provider=name,
                ) from None

    async def _refresh_locked(self, name: str, current: StoredToken) -> Token:
        breaker = self.breaker(name)
        attempts: list[int] = []
        operation = self.runtime.host.start_operation("refresh", provider=name, account=current.token.account)
        try:
            token = await self._refresh_attempts(name, current, breaker, attempts)
        except BaseException as exc:
            self.runtime.host.finish_operation(operation, exc, circuit_state=breaker.state, attempts=len(attempts))
            raise
        self.runtime.host.finish_operation(operation, circuit_state=breaker.state, attempts=len(attempts))
        return token

    async def _refresh_attempts(
        self, name: str, current: StoredToken, breaker: CircuitBreaker, attempts: list[int]
    ) -> Token:
        provider = self.provider(name)
        token = register_token(current.token)
        last: TransientAuthError | None = None
        for attempt in range(self.retries):
            breaker.before()
            attempts.append(attempt)
            try:
                async with self.http() as http:
                    response = await provider.refresh(http, token)
            except TransientAuthError as exc:
                breaker.failure()
                last = exc
                will_retry = attempt + 1 < self.retries
                self.runtime.host.token_refresh_failed(name, token.account, exc, will_retry)
                if will_retry:
                    delay = self.backoff * (2**attempt) * (1 + random.random() / 4)  # noqa: S311 - jitter
                    log.warning("%s; retrying in %.1f s", exc, delay)
                    await asyncio.sleep(delay)
                continue
            except NeedsLoginError as exc:
                breaker.success()  # the provider answered; it is up
                await self._mark_needs_login(current)
                self.runtime.host.token_refresh_failed(name, token.account, exc, False)
                raise self._needs_login(name, token.account) from None
            except (OAuthError, AuthError) as exc:
                breaker.success()
                self.runtime.host.token_refresh_failed(name, token.account, exc, False)
                raise
            breaker.success()
            identity = Identity(token.account, token.account_name)
            new = self._token(provider, response, identity, requested=token.scopes, previous=token, issuer=token.issuer)
            try:
                # The rotated refresh token is stored before the new access token is handed out.
                await self.store.put(new, expected_version=current.version)
            except VersionConflict:
                latest = await self.store.get(name, token.account)
                if latest is not None and self._still_good(latest.token):
                    return latest.token
                raise
            log.info("refreshed the token of %s/%s", name, token.account)
            self.runtime.host.token_refreshed(name, token.account, new)
            return new
        assert last is not None
        raise last

    async def _mark_needs_login(self, current: StoredToken) -> None:
        marked = current.token.model_copy(update={"needs_login": True})
        # Someone may have stored a newer token meanwhile: theirs stands.
        with contextlib.suppress(VersionConflict):
            await self.store.put(marked, expected_version=current.version)

    # -- logout -----------------------------------------------------------------------------------

    async def logout(self, name: str, account: str | None = None) -> LogoutResult:
        """Revoke at the provider (RFC 7009 or its own) and delete the local copy; the local copy
        is deleted even when revocation fails, and the result carries a warning then."""
        current = await self.stored(name, account)
        token = current.token
        remote, warning = False, None
        try:
            provider = self.provider(name)
            async with self.http() as http:
                remote = await provider.revoke(http, token)
            if not remote:
                warning = f"provider '{name}' offers no token revocation; the token was deleted locally only"
        except (AuthError, ConfigError, PluginError) as exc:
            warning = f"{exc}; the token was deleted locally but may stay valid at the provider until it expires"
        await self.store.delete(name, token.account)
        if warning:
            log.warning("%s", warning)
        self.runtime.host.token_revoked(name, token.account, remote)
        return LogoutResult(name, token.account, remote, warning)

    # -- health -----------------------------------------------------------------------------------

    async def health(self, name: str) -> dict[str, Any]:
        """For ``mcpconnect check``: endpoints reachable, logged in, expiry. Never raises."""
        out: dict[str, Any] = {"provider": name, "reachable": None, "logged_in": False, "problem": None}
        try:
            provider = self.provider(name)
            async with self.http() as http:
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


_by_id: dict[int, TokenManager] = {}


def token_manager(runtime: Runtime) -> TokenManager:
    """The one :class:`TokenManager` of ``runtime`` (so its single-flight locks are shared)."""
    manager = _by_id.get(id(runtime))
    if manager is None or manager.runtime is not runtime:
        manager = TokenManager(runtime)
        _by_id[id(runtime)] = manager
        weakref.finalize(runtime, _by_id.pop, id(runtime), None)
    return manager


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
