"""``mcpconnect serve``: every configured server as one MCP server, over stdio or HTTP."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from mcpconnect._cli.app import App, handle_errors


def announce(line: str) -> None:
    """A status line on stderr (stdout belongs to the MCP client in stdio mode)."""
    click.echo(f"mcpconnect: {line}", err=True)


def finish(code: int) -> NoReturn:
    """Exit with the server's code; stopped by SIGINT (130), say so as every command does."""
    from mcpconnect._cli import EXIT_INTERRUPTED

    if code == EXIT_INTERRUPTED:
        click.echo("\ninterrupted", err=True)
    sys.exit(code)


@click.command()
@click.argument("names", nargs=-1, metavar="[NAME ...]")
@click.option(
    "--transport",
    type=click.Choice(["stdio", "http"]),
    default="stdio",
    show_default=True,
    help="stdio: for a client that starts mcpconnect; http: streamable HTTP on --host:--port.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (http).")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="Port (http).")
@click.option("--no-prefix", is_flag=True, help="With one server: serve its names unchanged (no SERVER__).")
@click.pass_obj
@handle_errors
def serve(app: App, names: tuple[str, ...], transport: str, host: str, port: int, no_prefix: bool) -> None:
    """Serve the configured servers (all enabled ones, or NAME ...) as one MCP server.

    Tools and prompts are named SERVER__NAME, resources mcpconnect://SERVER/URI. Each server keeps
    its own connection, authentication and reconnection; one that is down leaves the others
    serving. Stops on SIGINT/SIGTERM, or (stdio) when the client closes stdin.
    """
    import anyio

    from mcpconnect._gateway import serve as run
    from mcpconnect._runtime import Runtime

    runtime = Runtime(app.loaded, app.host)

    async def main() -> int:
        try:
            return await run(
                runtime,
                names,
                transport=transport,
                host=host,
                port=port,
                prefix=not no_prefix,
                announce=announce,
                log_level="debug" if app.debug else "warning",
            )
        finally:
            await runtime.aclose()

    finish(anyio.run(main))


def _proxy_target(app: App, target: str) -> str:
    """The configured server ``target`` names, or one made for the URL ``target``.

    A URL that a configured server already has is that server (its login, tokens and options
    apply); any other URL becomes a server named after its host, with MCP authorization.
    """
    from urllib.parse import urlsplit

    from mcpconnect._config import ServerConfig
    from mcpconnect.errors import ConfigError

    servers = app.loaded.config.servers
    if target in servers:
        return target
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        known = ", ".join(servers) or "none"
        raise ConfigError(f"proxy: '{target}' is neither a configured server (configured: {known}) nor an http(s) URL")
    for name, server in servers.items():
        if server.url == target:
            return name
    name = parts.hostname
    servers[name] = ServerConfig(url=target, auth="mcp")
    from mcpconnect._config.model import table_name

    announce(
        f"{target} is not in the configuration; it is served as '{name}'. If it needs a login, add to "
        f'the configuration:\n  {table_name("servers", name)}\n  url = "{target}"\n  auth = "mcp"\nthen run '
        f"'mcpconnect login {name}'"
    )
    return name


@click.command()
@click.argument("target", metavar="NAME|URL")
@click.pass_obj
@handle_errors
def proxy(app: App, target: str) -> None:
    """Bridge one server (configured NAME, or a URL) to stdio with its names unchanged.

    The drop-in for `npx mcp-remote URL` in a client's configuration, with mcpconnect's login,
    token store and refresh shared by every instance.
    """
    import anyio

    from mcpconnect._gateway import serve as run
    from mcpconnect._runtime import Runtime

    name = _proxy_target(app, target)
    runtime = Runtime(app.loaded, app.host)

    async def main() -> int:
        try:
            return await run(runtime, [name], transport="stdio", prefix=False, announce=announce)
        finally:
            await runtime.aclose()

    finish(anyio.run(main))
