"""The login flows: authorization code with PKCE (loopback callback, or the redirect URL pasted
back by the user), device authorization, client credentials.

Each flow returns the provider's :class:`~mcpconnect.auth._provider.TokenResponse`; the token
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
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from mcpconnect._logs import register_secret, scrub
from mcpconnect.auth._errors import OAuthError
from mcpconnect.auth._loopback import CallbackResult, LoopbackListener
from mcpconnect.auth._provider import DeviceAuthorization, OAuthProvider, TokenResponse
from mcpconnect.errors import AuthError

__all__ = [
    "AuthorizationAttempt",
    "AuthorizationRequest",
    "UrlHandler",
    "authorization_code_flow",
    "client_credentials_flow",
    "device_flow",
    "finish_authorization",
    "paste_flow",
    "pkce_pair",
    "start_authorization",
]

log = logging.getLogger("mcpconnect.auth")

#: Receives the authorization URL: opens a browser, prints it, or (tests) follows it headlessly.
UrlHandler = Callable[[str], Awaitable[None] | None]
#: Receives the device authorization, to show the user code.
DeviceHandler = Callable[[DeviceAuthorization], Awaitable[None] | None]
#: Returns the URL the browser landed on after the login (paste mode): typed or pasted by the user.
RedirectReader = Callable[[], Awaitable[str] | str]
#: Longest pasted URL accepted (a redirect with a code and a state is a few hundred bytes).
_MAX_PASTE = 16 * 1024


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
    #: What messages tell the user to run to try again (default: the login command).
    again: str | None = None

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
        again = self.again or f"run 'mcpconnect login {self.provider}' again"
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


def _authorization_url(
    provider: OAuthProvider, authorize: str, attempt: AuthorizationAttempt, scopes: tuple[str, ...]
) -> str:
    params = {"response_type": "code", "client_id": provider.client_id, "redirect_uri": attempt.redirect_uri}
    params.update(provider.authorize_params(scopes))
    params["state"] = attempt.state
    if provider.pkce:
        attempt.verifier, challenge = pkce_pair()
        params.update(code_challenge=challenge, code_challenge_method="S256")
    return _add_query(authorize, params)


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
    if not provider.accepts_loopback_redirect():
        raise AuthError(provider.loopback_refused_advice())

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
        url = _authorization_url(provider, authorize, attempt, scopes)
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
                f"{provider.label}: no login callback arrived within {int(wait)} s; {provider.login_timeout_advice()}"
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


@dataclass(frozen=True)
class AuthorizationRequest:
    """An authorization code login whose callback may reach another process (a gateway replica):
    everything the callback needs, to be kept in a store (:meth:`to_dict`) until it arrives.

    ``expires_at`` is wall-clock (epoch seconds), since the processes share no monotonic clock.
    Its repr shows no secret (``state``, PKCE verifier, ``nonce``).
    """

    provider: str
    redirect_uri: str
    state: str = field(repr=False)
    expires_at: float
    verifier: str | None = field(default=None, repr=False)
    issuer: str | None = None
    iss_required: bool = False
    scopes: tuple[str, ...] = ()
    nonce: str | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, object]:
        return {
            "provider": self.provider,
            "redirect_uri": self.redirect_uri,
            "state": self.state,
            "expires_at": self.expires_at,
            "verifier": self.verifier,
            "issuer": self.issuer,
            "iss_required": self.iss_required,
            "scopes": list(self.scopes),
            "nonce": self.nonce,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> AuthorizationRequest:
        scopes = data.get("scopes") or []
        assert isinstance(scopes, list)
        return cls(
            provider=str(data["provider"]),
            redirect_uri=str(data["redirect_uri"]),
            state=str(data["state"]),
            expires_at=float(data["expires_at"]),  # type: ignore[arg-type]
            verifier=str(data["verifier"]) if data.get("verifier") else None,
            issuer=str(data["issuer"]) if data.get("issuer") else None,
            iss_required=bool(data.get("iss_required")),
            scopes=tuple(str(s) for s in scopes),
            nonce=str(data["nonce"]) if data.get("nonce") else None,
        )


async def start_authorization(
    provider: OAuthProvider,
    http: httpx.AsyncClient,
    *,
    scopes: tuple[str, ...],
    redirect_uri: str,
    wait: float,
    nonce: bool = False,
) -> tuple[str, AuthorizationRequest]:
    """The first half of an authorization code login (PKCE, one-time ``state``; an OpenID Connect
    ``nonce`` when asked) whose callback arrives at ``redirect_uri``, maybe in another process:
    the URL to send the browser to, and what :func:`finish_authorization` needs."""
    endpoints = await provider.endpoints(http)
    authorize = await provider.require(http, "authorize")
    await provider.require(http, "token")
    attempt = AuthorizationAttempt(provider=provider.name, redirect_uri=redirect_uri, expires_at=0.0)
    register_secret(attempt.state)
    url = _authorization_url(provider, authorize, attempt, scopes)
    once = secrets.token_urlsafe(24) if nonce else None
    if once is not None:
        register_secret(once)
        url = _add_query(url, {"nonce": once})
    request = AuthorizationRequest(
        provider=provider.name,
        redirect_uri=redirect_uri,
        state=attempt.state,
        expires_at=time.time() + wait,
        verifier=attempt.verifier,
        issuer=endpoints.issuer,
        iss_required=endpoints.iss_parameter_supported,
        scopes=scopes,
        nonce=once,
    )
    return url, request


async def finish_authorization(
    provider: OAuthProvider,
    http: httpx.AsyncClient,
    request: AuthorizationRequest,
    params: dict[str, str],
    *,
    again: str,
) -> TokenResponse:
    """The second half: check the callback's query (``state``, expiry, RFC 9207 ``iss``, an
    error answer) exactly as a loopback callback is checked, and exchange its code (with the PKCE
    verifier). The caller has taken ``request`` from its store once (one use)."""
    attempt = AuthorizationAttempt(
        provider=request.provider,
        redirect_uri=request.redirect_uri,
        state=request.state,
        expires_at=time.monotonic() + (request.expires_at - time.time()),
        verifier=request.verifier,
        issuer=request.issuer,
        iss_required=request.iss_required,
        label=provider.label,
        again=again,
    )
    if attempt.check(params) is not None:
        assert attempt.error is not None
        raise attempt.error
    assert attempt.code is not None
    return await provider.exchange_code(
        http, attempt.code, redirect_uri=request.redirect_uri, verifier=request.verifier
    )


def redirect_params(pasted: str, redirect_uri: str, *, who: str, again: str) -> dict[str, str]:
    """The query of ``pasted``, the URL the browser landed on, checked to be ``redirect_uri``'s.

    Refuses, with a clear :class:`AuthError`, anything else: another scheme, host, port or
    path (a hostile or mistaken paste), a missing query, a parameter given twice, an
    oversized paste. ``state`` and the code are checked afterwards by the attempt.
    """
    text = pasted.strip().strip("'\"<>").strip()
    if not text:
        raise AuthError(f"{who}: nothing was pasted; {again}, and paste the whole URL from the address bar")
    if len(text) > _MAX_PASTE:
        raise AuthError(f"{who}: the pasted text is over {_MAX_PASTE // 1024} KiB, not a login redirect; {again}")
    got, want = urlsplit(text), urlsplit(redirect_uri)
    try:
        same_place = (got.scheme.lower(), (got.hostname or "").lower(), got.port, got.path or "/") == (
            want.scheme.lower(),
            (want.hostname or "").lower(),
            want.port,
            want.path or "/",
        )
    except ValueError:  # a malformed port
        same_place = False
    if not same_place:
        shown = f"{got.scheme}://{got.hostname or ''}{got.path}"[:120] if got.scheme else "text that is not a URL"
        raise AuthError(
            f"{who}: the pasted URL ({shown}) is not the redirect URI of this login ({redirect_uri}); nothing "
            f"was sent: paste the URL the browser shows after approving, or {again}"
        )
    query = got.query or ""
    if not query and got.fragment and "state=" in got.fragment:
        query = got.fragment
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs:
        raise AuthError(f"{who}: the pasted URL carries no code or state (the query is empty); {again}")
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params:
            raise AuthError(f"{who}: the pasted URL gives {key[:40]!r} twice (possibly forged); {again}")
        params[key] = value
    return params


async def paste_flow(
    provider: OAuthProvider,
    http: httpx.AsyncClient,
    *,
    scopes: tuple[str, ...],
    on_url: UrlHandler,
    read_redirect: RedirectReader,
    wait: float = 900.0,
) -> TokenResponse:
    """Authorization code with PKCE for a provider that redirects only to a registered https
    URI (Slack): the browser lands there, and the user pastes the URL from the address bar.

    ``state`` (one use, ``wait`` seconds), RFC 9207 ``iss`` and PKCE are checked exactly as for
    the loopback callback; the pasted URL must be the redirect URI's.
    """
    endpoints = await provider.endpoints(http)
    authorize = await provider.require(http, "authorize")
    await provider.require(http, "token")
    redirect_uri = provider.paste_redirect_uri()
    again = f"run 'mcpconnect login {provider.name} --paste' again"
    attempt = AuthorizationAttempt(
        provider=provider.name,
        redirect_uri=redirect_uri,
        expires_at=time.monotonic() + wait,
        issuer=endpoints.issuer,
        iss_required=endpoints.iss_parameter_supported,
        label=provider.label,
        again=again,
    )
    await _call(on_url, _authorization_url(provider, authorize, attempt, scopes))
    pasted = read_redirect()
    if inspect.isawaitable(pasted):
        pasted = await pasted
    params = redirect_params(str(pasted), redirect_uri, who=provider.label, again=again)
    if attempt.check(params) is not None:
        assert attempt.error is not None
        raise attempt.error
    assert attempt.code is not None
    return await provider.exchange_code(http, attempt.code, redirect_uri=redirect_uri, verifier=attempt.verifier)


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
            if exc.error in ("access_denied", "authorization_declined"):
                how = "declined" if exc.error == "authorization_declined" else "denied"
                raise OAuthError(
                    f"provider '{provider.name}': the device login was {how} at the provider; {again}",
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
