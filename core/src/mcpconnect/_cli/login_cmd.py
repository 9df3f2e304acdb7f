"""``mcpconnect login``, ``logout`` and ``whoami``."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mcpconnect._cli.app import App, handle_errors, print_json, warn
from mcpconnect._config.model import table_name
from mcpconnect.auth._actions import describe_expiry, log_in, log_out
from mcpconnect.auth._actions import mcp_server as find_mcp_server
from mcpconnect.errors import MCPConnectError

if TYPE_CHECKING:
    from mcpconnect._config.model import ServerConfig
    from mcpconnect._runtime import Runtime
    from mcpconnect.auth._manager import TokenManager
    from mcpconnect.auth._provider import DeviceAuthorization

__all__ = ["login", "logout", "whoami"]

T = TypeVar("T")


def run_with_manager(app: App, work: Callable[[TokenManager], Awaitable[T]]) -> T:
    """Run ``work`` with the token manager of a runtime built from the CLI's configuration."""
    from mcpconnect._runtime import Runtime
    from mcpconnect.auth._manager import token_manager

    async def main() -> T:
        runtime: Runtime = Runtime.build(app.loaded, host=app.host)
        try:
            return await work(token_manager(runtime))
        finally:
            await runtime.aclose()

    return asyncio.run(main())


_expires = describe_expiry


def _mcp_server(app: App, name: str) -> ServerConfig | None:
    """``[servers.NAME]`` when NAME is a server with ``auth = "mcp"`` and no provider has that name."""
    return find_mcp_server(app.loaded.config, name)


def stored_target(app: App, name: str) -> str:
    """What ``logout``/``whoami``/``tokens refresh`` NAME acts on: as :func:`_login_target`, quietly
    (a server's provider, or a usage error for a server that logs in no way)."""
    return _login_target(app, name, say=None)


def unknown_login(app: App, name: str, exc: Exception) -> Exception:
    """``exc`` (nothing stored for NAME), or a configuration error when NAME is configured
    nowhere: then 'run mcpconnect login NAME' would lead nowhere."""
    from mcpconnect.auth._errors import NeedsLoginError
    from mcpconnect.errors import ConfigError

    config = app.loaded.config
    if not isinstance(exc, NeedsLoginError) or name in config.providers or name in config.servers:
        return exc
    known = ", ".join(sorted(config.providers)) or "none"
    return ConfigError(
        f"no provider named '{name}' is configured (configured: {known}) and no login is stored for it; "
        f"add [providers.{name}] to mcpconnect.toml, or check the name"
    )


def _login_target(app: App, name: str, *, say: str | None = "logging in to") -> str:
    """What ``login NAME`` logs in to: the provider NAME, the server NAME with ``auth = "mcp"``,
    or the provider of server NAME (``auth = "provider:P"``). A server that logs in no way is a
    usage error that says how it authenticates."""
    config = app.loaded.config
    server = config.servers.get(name)
    if name in config.providers or server is None or server.auth == "mcp":
        return name
    provider = server.auth_provider
    if provider is not None:
        if say:
            click.echo(f"Server '{name}' logs in through provider '{provider}': {say} {provider}.", err=True)
        return provider
    if server.auth == "token":
        raise click.UsageError(
            f"server '{name}' authenticates with an API token (token_env, token_file or token in "
            f"{table_name('servers', name)}), not a login; set the token there"
        )
    raise click.UsageError(
        f"server '{name}' needs no login (no auth in {table_name('servers', name)}); to log in to it, "
        'set auth = "mcp" '
        f'(the server runs its own authorization) or auth = "provider:NAME" with a [providers.NAME]'
    )


@click.command()
@click.argument("name")
@click.option("--no-browser", is_flag=True, help="Print the authorization URL instead of opening a browser.")
@click.option("--device", is_flag=True, help="Device flow, for machines without a browser (RFC 8628).")
@click.option(
    "--paste",
    is_flag=True,
    help="For providers that redirect only to a registered https URI (Slack): paste the URL the browser "
    "lands on after approving.",
)
@click.option("--client-credentials", is_flag=True, help="Client credentials: log the application itself in (no user).")
@click.option("--scope", "scopes", multiple=True, metavar="SCOPE", help="Ask for this scope (repeatable).")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for the browser login.")
@click.pass_obj
@handle_errors
def login(
    app: App,
    name: str,
    no_browser: bool,
    device: bool,
    paste: bool,
    client_credentials: bool,
    scopes: tuple[str, ...],
    timeout: float,
) -> None:
    """Log in to the provider configured as [providers.NAME], or to the server [servers.NAME]
    with auth = "mcp" (MCP authorization), and store the token."""
    if sum((device, client_credentials, paste or no_browser)) > 1:
        raise click.UsageError("give at most one of --device, --client-credentials and --no-browser/--paste")
    name = _login_target(app, name)
    mcp_server = _mcp_server(app, name)
    if mcp_server is not None and paste:
        raise click.UsageError(f"server '{name}' uses MCP authorization, which logs in through the loopback callback")
    if mcp_server is not None and (device or client_credentials):
        raise click.UsageError(
            f"server '{name}' uses MCP authorization, whose grant is set in "
            f"{table_name('servers', name, 'options')} (grant = "
            '"client_credentials"); --device and --client-credentials are for providers'
        )

    from mcpconnect._cli.progress import Waiting

    waiting = Waiting()

    def show_url(url: str) -> None:
        click.echo(f"Open this URL in a browser to log in to {name}:", err=True)
        click.echo(url)  # alone on its line, on stdout, for copy and paste and for scripts
        sys.stdout.flush()
        waiting.start(f"the login to {name} in the browser", timeout)

    async def open_browser(url: str) -> None:
        import webbrowser

        click.echo(f"Opening a browser to log in to {name}; if none appears, open this URL:", err=True)
        click.echo(url)
        sys.stdout.flush()
        if not await asyncio.to_thread(webbrowser.open, url):
            click.echo("No browser could be opened: open the URL above.", err=True)
        waiting.start(f"the login to {name} in the browser", timeout)

    async def read_redirect() -> str:
        click.echo(
            "After approving, the browser lands on the app's redirect page (it may show an error or nothing: "
            "that is expected).",
            err=True,
        )
        return str(
            await asyncio.to_thread(
                click.prompt,
                "Paste the full URL from the browser's address bar",
                default="",
                err=True,
                show_default=False,
            )
        )

    def show_device_code(auth: DeviceAuthorization) -> None:
        click.echo(f"To log in to {name}, open {auth.verification_uri} and enter the code:", err=True)
        click.echo(auth.user_code)
        if auth.verification_uri_complete:
            click.echo(f"(or open {auth.verification_uri_complete})", err=True)
        sys.stdout.flush()
        waiting.start(f"the code to be entered at {auth.verification_uri}", auth.expires_in)

    async def work(manager: TokenManager) -> Any:
        if device:
            method = "device"
        elif client_credentials:
            method = "client_credentials"
        else:
            method = "paste" if paste else "browser"
        return await log_in(
            manager,
            name,
            method=method,
            scopes=scopes,
            on_url=show_url if no_browser else open_browser,
            on_device_code=show_device_code,
            read_redirect=read_redirect,
            wait=timeout,
            on_warning=warn,
            on_notice=lambda line: click.echo(line, err=True),
        )

    try:
        token = run_with_manager(app, work)
    finally:
        waiting.stop()
    who = f"{token.account_name} ({token.account})" if token.account_name else token.account
    left = token.expires_in()
    click.echo(
        f"Logged in to {name} as {who}; token expires in "
        f"{_expires(None if left is None else left.total_seconds())}"
        + ("" if token.refresh_token else " (no refresh token: log in again then)"),
        err=True,
    )


@click.command()
@click.argument("name")
@click.option("--account", help="Which account, when several are logged in (default: the latest).")
@click.pass_obj
@handle_errors
def logout(app: App, name: str, account: str | None) -> None:
    """Revoke the token at the provider and delete it locally (even when the provider is down)."""
    name = stored_target(app, name)
    try:
        result = run_with_manager(app, lambda manager: log_out(manager, name, account))
    except MCPConnectError as exc:
        raise unknown_login(app, name, exc) from None
    if result.warning:
        warn(result.warning)
    where = "revoked at the provider and deleted" if result.remote else "deleted locally"
    click.echo(f"Logged out of {name} ({result.account}): token {where}", err=True)


@click.command()
@click.argument("name")
@click.option("--account", help="Which account, when several are logged in (default: the latest).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@handle_errors
def whoami(app: App, name: str, account: str | None, as_json: bool) -> None:
    """Show who is logged in at provider NAME (never a secret)."""

    async def work(manager: TokenManager) -> dict[str, Any]:
        stored = await manager.stored(name, account)
        summary = stored.token.summary()
        summary.pop("access_token", None)
        summary["issuer"] = stored.token.issuer
        return summary

    name = stored_target(app, name)
    try:
        info = run_with_manager(app, work)
    except MCPConnectError as exc:
        raise unknown_login(app, name, exc) from None
    if as_json:
        print_json(info)
        return
    who = f"{info['account_name']} ({info['account']})" if info["account_name"] else info["account"]
    click.echo(f"{name}: {who}")
    click.echo(f"  scopes:      {' '.join(info['scopes']) or '-'}")
    click.echo(f"  expires in:  {_expires(info['expires_in_seconds'])}")
    click.echo(f"  refreshable: {'yes' if info['refreshable'] else 'no'}")
    click.echo(f"  state:       {info['state']}")
    if info["issuer"]:
        click.echo(f"  issuer:      {info['issuer']}")
