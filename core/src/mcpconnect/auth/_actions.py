"""Log in, log out, refresh and list logins: the flows behind ``mcpconnect login``, ``logout``,
``tokens refresh`` and ``tokens list``, shared with the dashboard (``/ui``) so that both run the
same code. Nothing here prints: what a person should see comes back, or goes to a callback.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from mcpconnect.errors import AuthError

if TYPE_CHECKING:
    from mcpconnect._config import Config
    from mcpconnect._config.model import ServerConfig
    from mcpconnect.auth._flows import UrlHandler
    from mcpconnect.auth._manager import LogoutResult, TokenManager
    from mcpconnect.auth._provider import DeviceAuthorization
    from mcpconnect.storage._store import DamagedRecord
    from mcpconnect.tokens import Token

__all__ = [
    "damaged_row",
    "describe_expiry",
    "list_logins",
    "log_in",
    "log_out",
    "login_names",
    "mcp_server",
    "refresh_login",
]


def mcp_server(config: Config, name: str) -> ServerConfig | None:
    """``[servers.NAME]`` when NAME is a server with ``auth = "mcp"`` and no provider has that name."""
    server = config.servers.get(name)
    if name in config.providers or server is None or server.auth != "mcp":
        return None
    return server


def login_names(config: Config) -> list[tuple[str, str]]:
    """What can be logged in to, as ``(name, type)``: every provider, then every server with
    ``auth = "mcp"`` (type ``"mcp"``)."""
    found = [(name, provider.type) for name, provider in config.providers.items()]
    found += [(name, "mcp") for name in config.servers if mcp_server(config, name) is not None]
    return found


def describe_expiry(seconds: float | None) -> str:
    """``"59m"``, ``"3h05m"``, ``"4d"``, ``"expired"`` or ``"never"``."""
    if seconds is None:
        return "never"
    if seconds <= 0:
        return "expired"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours < 48 else f"{hours // 24}d"


async def log_in(
    manager: TokenManager,
    name: str,
    *,
    method: str = "browser",
    scopes: tuple[str, ...] = (),
    on_url: UrlHandler | None = None,
    on_device_code: Callable[[DeviceAuthorization], Any] | None = None,
    read_redirect: Callable[[], Awaitable[str]] | None = None,
    wait: float = 300.0,
    on_warning: Callable[[str], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> Token:
    """Log in to provider ``name``, or to server ``name`` with ``auth = "mcp"``; store the token.

    ``method`` is ``browser`` (the loopback listener; ``on_url`` receives the authorization URL),
    ``paste``, ``device`` or ``client_credentials`` (providers only). A provider that redirects
    only to its registered https URI is logged in with ``paste`` instead of ``browser``
    (``on_notice`` is told); without ``read_redirect`` that is an error saying what to run.
    """
    server = mcp_server(manager.runtime.config, name)
    if server is not None:
        from mcpconnect.auth._mcp import MCPAuthorizer

        authorizer = MCPAuthorizer(name, server, manager.runtime, wait=wait)
        if not authorizer.settings.headless:
            authorizer.on_url = on_url
        return await authorizer.login(scopes=scopes or None)
    if method == "browser" and not manager.provider(name).accepts_loopback_redirect():
        if read_redirect is None:
            raise AuthError(
                f"{name} redirects only to the https redirect URI registered with the app, which this login cannot "
                f"receive; run 'mcpconnect login {name} --paste'"
            )
        if on_notice is not None:
            on_notice(
                f"{name} redirects only to the https redirect URI registered with the app, so this login uses --paste."
            )
        method = "paste"
    if method == "device":
        return await manager.login(name, method="device", scopes=scopes, on_device_code=on_device_code)
    if method == "client_credentials":
        return await manager.login(name, method="client_credentials", scopes=scopes)
    if method not in ("browser", "paste"):
        raise AuthError(f"login to {name}: unknown method {method!r} (browser, paste, device, client_credentials)")
    return await manager.login(
        name,
        method="paste" if method == "paste" else "browser",
        scopes=scopes,
        on_url=on_url,
        wait=wait,
        read_redirect=read_redirect,
        on_warning=on_warning,
    )


async def log_out(manager: TokenManager, name: str, account: str | None = None) -> LogoutResult:
    """Revoke the token at the provider (or the server's authorization server) and delete it
    locally, even when the provider is down."""
    server = mcp_server(manager.runtime.config, name)
    if server is not None:
        from mcpconnect.auth._mcp import MCPAuthorizer

        return await MCPAuthorizer(name, server, manager.runtime).logout(account)
    return await manager.logout(name, account)


async def refresh_login(manager: TokenManager, name: str, account: str | None = None) -> Token:
    """Refresh the token of ``name`` now (raises ``NotRefreshableError`` when it cannot be)."""
    return await manager.refresh(name, account)


def damaged_row(found: DamagedRecord) -> dict[str, Any]:
    """A record that cannot be read, as a row of :func:`list_logins` (state ``damaged``)."""
    return {
        "provider": found.provider,
        "account": found.account,
        "account_name": None,
        "scopes": [],
        "expires_in_seconds": None,
        "refreshable": False,
        "state": "damaged",
        "problem": found.message,
    }


async def list_logins(manager: TokenManager) -> tuple[list[dict[str, Any]], list[DamagedRecord]]:
    """Every stored login without its secrets (``Token.summary()`` less the access token), and
    the records that cannot be read."""
    rows = []
    tokens, damaged = await manager.store.scan()
    for stored in tokens:
        row = stored.token.summary()
        row.pop("access_token", None)
        rows.append(row)
    return rows, damaged
