"""The OAuth engine's errors: all :class:`~mcpconnect.errors.AuthError`, told apart by what to do.

- :class:`NeedsLoginError`: only a new login helps (``invalid_grant``, no token, revoked).
- :class:`TransientAuthError`: the provider could not be reached or failed (network, 5xx,
  timeout); retrying later may help, and no stored token was touched.
- :class:`OAuthError`: the provider answered with an OAuth error (``error=...``).
- :class:`IdTokenError`: an ID token failed its checks (issuer, audience): a login that
  fails this way is refused, whereas a userinfo endpoint that fails only costs the name.
- :class:`NotRefreshableError`: a token that cannot be refreshed (no refresh token); it stays
  usable until it expires.

Messages name the provider and say what to run; they never carry a secret.
"""

from __future__ import annotations

from mcpconnect.errors import AuthError

__all__ = [
    "CircuitOpenError",
    "IdTokenError",
    "NeedsLoginError",
    "NotRefreshableError",
    "OAuthError",
    "TransientAuthError",
]


class OAuthError(AuthError):
    """The provider answered with an OAuth error code (``invalid_grant``, ``access_denied``...)."""

    def __init__(self, message: str, *, provider: str, error: str | None = None) -> None:
        self.provider = provider
        self.error = error
        super().__init__(message)


class NeedsLoginError(OAuthError):
    """Only a new ``mcpconnect login`` can fix this."""


class TransientAuthError(OAuthError):
    """A network error, timeout, rate limit or 5xx answer; stored tokens were left as they were.

    ``retry_after``: seconds the provider asked to wait (HTTP 429 ``Retry-After``), if it said.
    """

    def __init__(
        self, message: str, *, provider: str, error: str | None = None, retry_after: float | None = None
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, provider=provider, error=error)


class CircuitOpenError(TransientAuthError):
    """Refreshes for this provider are paused after failures in a row (the circuit breaker is
    open); the stored token was kept. Try again after the cooldown, or check the provider."""


class NotRefreshableError(OAuthError):
    """The token has no refresh token (GitHub OAuth Apps, Slack without rotation, older Notion
    tokens); nothing was sent to the provider and the stored token is unchanged."""


class IdTokenError(AuthError):
    """The ID token did not pass its checks (``iss``, ``aud``, shape): the login is refused."""
