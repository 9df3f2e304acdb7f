"""``mcpconnect ui``: the dashboard of ``serve --transport http`` (``/ui``), without serving MCP."""

from __future__ import annotations

import click

from mcpconnect._cli.app import App, handle_errors
from mcpconnect._cli.serve_cmd import announce, finish


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8767, show_default=True, help="Port (0: any free one).")
@click.pass_obj
@handle_errors
def ui(app: App, host: str, port: int) -> None:
    """Open a local dashboard: every server's state and every login, with log in, log out and refresh.

    Connects to every enabled server and serves the page at http://HOST:PORT/ui until SIGINT or
    SIGTERM. Any address other than loopback needs client keys, as serve does ([gateway] api_keys_env).
    """
    import anyio

    from mcpconnect._gateway.dashboard import serve_dashboard
    from mcpconnect._runtime import Runtime

    runtime = Runtime(app.loaded, app.host)

    async def main() -> int:
        try:
            return await serve_dashboard(
                runtime, host=host, port=port, announce=announce, log_level="debug" if app.debug else "warning"
            )
        finally:
            await runtime.aclose()

    finish(anyio.run(main))
