"""The gateway's public API, for applications that embed ``mcpconnect serve``.

Every configured server served as one MCP server, from Python::

    from mcpconnect import Runtime
    from mcpconnect.gateway import serve

    exit_code = await serve(Runtime.build("mcpconnect.toml"), ["notes"], transport="http", port=8765)

:func:`open_gateway` gives the :class:`Gateway` itself (its ``server`` is the SDK's low-level
``Server``) to run over a transport of your own; :func:`current_user` is who the request being
answered comes from when the gateway is an OAuth protected resource.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Gateway", "User", "current_user", "open_gateway", "serve"]

if TYPE_CHECKING:
    from mcpconnect._gateway import Gateway, open_gateway, serve
    from mcpconnect._gateway.resource import User
    from mcpconnect._gateway.server import current_user


def __getattr__(name: str) -> Any:
    # Lazy: the gateway imports the SDK's server side and Starlette.
    if name in {"Gateway", "open_gateway", "serve"}:
        from mcpconnect import _gateway

        return getattr(_gateway, name)
    if name == "User":
        from mcpconnect._gateway.resource import User

        return User
    if name == "current_user":
        from mcpconnect._gateway.server import current_user

        return current_user
    raise AttributeError(f"module 'mcpconnect.gateway' has no attribute {name!r}")
