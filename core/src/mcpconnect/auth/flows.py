"""The login flows: authorization code with PKCE, device authorization, client credentials.

Each flow returns the provider's :class:`~mcpconnect.auth.provider.TokenResponse`; the token
manager turns it into a stored :class:`~mcpconnect.tokens.Token`. Per-attempt secrets (PKCE
verifier, ``state``) live in an :class:`AuthorizationAttempt` made fresh for every attempt,
never on the shared provider object.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import inspect
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

from mcpconnect.auth.errors import OAuthError
from mcpconnect.auth.loopback import CallbackResult, LoopbackListener
from mcpconnect.auth.provider import DeviceAuthorization, OAuthProvider, TokenResponse
from mcpconnect.errors import AuthError
from mcpconnect.logs import register_secret, scrub

__all__ = [
    "AuthorizationAttempt",
    "UrlHandler",
    "authorization_code_flow",
    "client_credentials_flow",
    "device_flow",
    "pkce_pair",
]

log = logging.getLogger("mcpconnect.auth")

#: Receives the authorization URL: opens a browser, prints it, or (tests) follows it headlessly.
UrlHandler = Callable[[str], Awaitable[None] | None]
#: Receives the device authorization, to show the user code.
DeviceHandler = Callable[[DeviceAuthorization], Awaitable[None] | None]


def pkce_pair() -> tuple[str, str]:
    """A fresh PKCE verifier (RFC 7636: 43-128 characters) and its S256 challenge."""
    verifier = secrets.token_urlsafe(64)
    register_secret(verifier)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class AuthorizationAttempt:
    """One authorization code attempt: its one-time ``state``, PKCE verifier and deadline."""

    provider: str
    redirect_uri: str
    expires_at: float
    state: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    verifier: str | None = None
    issuer: str | None = None
    iss_required: bool = False
    used: bool = False
    code: str | None = field(default=None, repr=False)
    error: AuthError | None = None
    #: How messages name who is logged in to (an MCP server's provider says ``server 'NAME'``).
    label: str | None = None

    def __repr__(self) -> str:
        return f"AuthorizationAttempt(provider={self.provider!r}, redirect_uri={self.redirect_uri!r}, used={self.used})"

    def check(self, params: dict[str, str], now: float | None = None) -> CallbackResult:
        """Check a callback's query. Sets :attr:`code` and returns ``None`` when it is good; sets
        :attr:`error` and returns a short reason (safe for a page) when not."""
        try:
            self.code = self._check(params, time.monotonic() if now is None else now)
        except AuthError as exc:
            self.error = exc
            return str(exc).split(": ", 1)[-1]
        return None

    def _check(self, params: dict[str, str], now: float) -> str:
        who = self.label or f"provider '{self.provider}'"
        again = f"run 'mcpconnect login {self.provider}' again"
        state = params.get("state")
        if not state:
            raise AuthError(f"{who}: the login callback has no state parameter (possibly forged); {again}")
        if not hmac.compare_digest(state.encode(), self.state.encode()):
            raise AuthError(f"{who}: the login callback's state does not match this login (possibly forged); {again}")
        if self.used:
            raise AuthError(f"{who}: this login callback was already used (replayed); {again}")
        self.used = True
        if now > self.expires_at:
            raise AuthError(f"{who}: the login took too long and its state expired; {again}")
        iss = params.get("iss")
        # RFC 9207: an authorization response from another server is a mix-up attack. Without a
        # known issuer (an oauth2 provider with no `issuer` set) there is nothing to compare to.
        if self.issuer and (iss is not None or self.iss_required) and iss != self.issuer:
            shown = "missing" if iss is None else repr(iss[:100])
            raise AuthError(
                f"{who}: the login callback's issuer (iss) is {shown}, not {self.issuer!r} (possible mix-up "
                f"attack); check issuer in [providers.{self.provider}] and {again}"
            )
        if "error" in params:
            error = params["error"][:60]
            desc = params.get("error_description")
            detail = f" ({scrub(desc)[:200]})" if desc else ""
            raise OAuthError(
                f"{who}: the authorization server refused the login: {error}{detail}; {again}",
                provider=self.provider,
                error=error,
            )
        code = params.get("code")
        if not code:
            raise AuthError(f"{who}: the login callback carries no authorization code; {again}")
        register_secret(code)
        return code


def _add_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


async def _call(handler: Callable[..., Awaitable[None] | None], *args: object) -> None:
    result = handler(*args)
    if inspect.isawaitable(result):
        await result


async def authorization_code_flow(
    provider: OAuthProvider,
    http: httpx.AsyncClient,
    *,
    scopes: tuple[str, ...],
    on_url: UrlHandler,
    wait: float = 300.0,
    port: int = 0,
) -> TokenResponse:
    """Authorization code with PKCE S256, a one-time ``state`` and the RFC 9207 ``iss`` check.

    Opens the loopback listener, passes the authorization URL to ``on_url`` (which opens a
    browser, prints the URL or follows it) and waits up to ``wait`` seconds for the callback.
    The listener is closed when this returns or raises. ``port``: the listener's port (0: any;
    a fixed one for a client registered with that redirect URI).
    """
    endpoints = await provider.endpoints(http)
    authorize = await provider.require(http, "authorize")
    await provider.require(http, "token")

    def on_callback(params: dict[str, str]) -> CallbackResult:
        return attempt.check(params)

    async with LoopbackListener(on_callback, port=port) as listener:
        attempt = AuthorizationAttempt(
            provider=provider.name,
            redirect_uri=listener.redirect_uri,
            expires_at=time.monotonic() + wait,
            issuer=endpoints.issuer,
            iss_required=endpoints.iss_parameter_supported,
            label=provider.label,
        )
        params = {"response_type": "code", "client_id": provider.client_id, "redirect_uri": attempt.redirect_uri}
        params.update(provider.authorize_params(scopes))
        params["state"] = attempt.state
        if provider.pkce:
            attempt.verifier, challenge = pkce_pair()
            params.update(code_challenge=challenge, code_challenge_method="S256")
        url = _add_query(authorize, params)
        log.debug("login to %s: waiting for the callback on %s", provider.name, attempt.redirect_uri)

        waiter = asyncio.ensure_future(listener.wait())
        handler = asyncio.ensure_future(_call(on_url, url))
        try:
            async with asyncio.timeout(wait):
                done, _ = await asyncio.wait({waiter, handler}, return_when=asyncio.FIRST_COMPLETED)
                if waiter not in done:
                    handler.result()  # re-raise what the URL handler failed with
                    await waiter
        except TimeoutError:
            raise AuthError(
                f"{provider.label}: no login callback arrived within {int(wait)} s; "
                f"run 'mcpconnect login {provider.name}' again"
            ) from None
        finally:
            waiter.cancel()
            if not handler.done():
                handler.cancel()
            await asyncio.gather(waiter, handler, return_exceptions=True)
    if attempt.error is not None:
        raise attempt.error
    if attempt.code is None and listener.rejected:
        raise AuthError(f"{provider.label}: {listener.rejected}; run 'mcpconnect login {provider.name}' again")
    if attempt.code is None:  # pragma: no cover - the listener sets one or the other
        raise AuthError(f"provider '{provider.name}': the login ended without a code; run the login again")
    return await provider.exchange_code(
        http, attempt.code, redirect_uri=attempt.redirect_uri, verifier=attempt.verifier
    )


async def device_flow(
    provider: OAuthProvider,
    http: httpx.AsyncClient,
    *,
    scopes: tuple[str, ...],
    on_code: DeviceHandler,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    slow_down_step: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
) -> TokenResponse:
    """RFC 8628: show the user code through ``on_code``, then poll every ``interval`` seconds,
    ``slow_down`` adding ``slow_down_step`` (5 s per the RFC), until approval, denial or expiry."""
    await provider.endpoints(http)
    device = await provider.start_device_authorization(http, scopes)
    await _call(on_code, device)
    interval = max(device.interval, 1.0)
    deadline = clock() + device.expires_in
    again = f"run 'mcpconnect login {provider.name} --device' again"
    while True:
        if clock() + interval > deadline:
            raise AuthError(f"provider '{provider.name}': the device code expired before it was approved; {again}")
        await sleep(interval)
        try:
            return await provider.poll_device_token(http, device)
        except OAuthError as exc:
            if exc.error == "authorization_pending":
                continue
            if exc.error == "slow_down":
                interval += slow_down_step
                log.debug("device login to %s: slow_down, polling every %.0f s", provider.name, interval)
                continue
            if exc.error == "access_denied":
                raise OAuthError(
                    f"provider '{provider.name}': the device login was denied; {again}",
                    provider=provider.name,
                    error=exc.error,
                ) from None
            if exc.error == "expired_token":
                raise OAuthError(
                    f"provider '{provider.name}': the device code expired before it was approved; {again}",
                    provider=provider.name,
                    error=exc.error,
                ) from None
            raise


async def client_credentials_flow(
    provider: OAuthProvider, http: httpx.AsyncClient, *, scopes: tuple[str, ...]
) -> TokenResponse:
    """Client credentials (machine to machine): no user, no browser."""
    await provider.endpoints(http)
    return await provider.client_credentials(http, scopes)
