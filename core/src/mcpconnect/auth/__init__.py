"""The OAuth engine: provider contract, login flows, token manager, per-server auth.

Provider plugins subclass :class:`OAuthProvider`; see ``docs/oauth.md``. Applications use
:class:`TokenManager` (one per :class:`~mcpconnect.runtime.Runtime`, from :func:`token_manager`).
"""

from mcpconnect.auth.errors import NeedsLoginError, OAuthError, TransientAuthError
from mcpconnect.auth.manager import CircuitBreaker, LogoutResult, TokenManager, token_manager
from mcpconnect.auth.provider import (
    DeviceAuthorization,
    Endpoints,
    Identity,
    OAuthProvider,
    TokenResponse,
    check_secure_url,
    is_loopback,
)

__all__ = [
    "CircuitBreaker",
    "DeviceAuthorization",
    "Endpoints",
    "Identity",
    "LogoutResult",
    "NeedsLoginError",
    "OAuthError",
    "OAuthProvider",
    "TokenManager",
    "TokenResponse",
    "TransientAuthError",
    "check_secure_url",
    "is_loopback",
    "token_manager",
]
