"""The OAuth engine's errors: all :class:`~mcpconnect.errors.AuthError`, told apart by what to do.

- :class:`NeedsLoginError`: only a new login helps (``invalid_grant``, no token, revoked).
- :class:`TransientAuthError`: the provider could not be reached or failed (network, 5xx,
  timeout); retrying later may help, and no stored token was touched.
- :class:`OAuthError`: the provider answered with an OAuth error (``error=...``).

Messages name the provider and say what to run; they never carry a secret.
"""

from __future__ import annotations

from mcpconnect.errors import AuthError

__all__ = ["NeedsLoginError", "OAuthError", "TransientAuthError"]


class OAuthError(AuthError):
    """The provider answered with an OAuth error code (``invalid_grant``, ``access_denied``...)."""

    def __init__(self, message: str, *, provider: str, error: str | None = None) -> None:
        self.provider = provider
        self.error = error
        super().__init__(message)


class NeedsLoginError(OAuthError):
    """Only a new ``mcpconnect login`` can fix this."""


class TransientAuthError(OAuthError):
    """A network error, timeout or 5xx answer; stored tokens were left as they were."""
