"""The OAuth engine: provider contract, login flows, token manager, per-server auth.

Provider plugins subclass :class:`OAuthProvider`; see ``docs/oauth.md``. Applications use
:class:`TokenManager` (one per :class:`~mcpconnect.Runtime`, from :func:`token_manager`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcpconnect.auth._errors import IdTokenError, NeedsLoginError, NotRefreshableError, OAuthError, TransientAuthError
from mcpconnect.auth._provider import (
    DEFAULT_ACCOUNT,
    ClientAuth,
    DeviceAuthorization,
    Endpoints,
    Identity,
    OAuthProvider,
    TokenResponse,
    check_secure_url,
    is_loopback,
)

__all__ = [
    "DEFAULT_ACCOUNT",
    "CircuitBreaker",
    "ClientAuth",
    "DeviceAuthorization",
    "Endpoints",
    "IdTokenError",
    "Identity",
    "LogoutResult",
    "MCPAuthorizer",
    "NeedsLoginError",
    "NotRefreshableError",
    "OAuthError",
    "OAuthProvider",
    "TokenManager",
    "TokenResponse",
    "TransientAuthError",
    "check_secure_url",
    "is_loopback",
    "mcp_server_auth",
    "token_manager",
]

if TYPE_CHECKING:
    from mcpconnect.auth._manager import CircuitBreaker, LogoutResult, TokenManager, token_manager
    from mcpconnect.auth._mcp import MCPAuthorizer, mcp_server_auth

_LAZY = {"CircuitBreaker", "LogoutResult", "TokenManager", "token_manager"}
_LAZY_MCP = {"MCPAuthorizer", "mcp_server_auth"}


def __getattr__(name: str) -> Any:
    # The manager pulls in the token model (pydantic) and the flows; provider plugins import this
    # package for OAuthProvider alone, and `mcpconnect plugins list` loads every one of them.
    if name in _LAZY:
        from mcpconnect.auth import _manager as manager

        return getattr(manager, name)
    if name in _LAZY_MCP:
        # MCP authorization (the spec's client side) for applications that log in themselves.
        from mcpconnect.auth import _mcp

        return getattr(_mcp, name)
    raise AttributeError(f"module 'mcpconnect.auth' has no attribute {name!r}")
