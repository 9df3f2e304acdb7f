"""``mcpconnect logs NAME``: the bounded stderr log of a local server."""

from __future__ import annotations

import click

from mcpconnect._cli.app import App, fail, handle_errors


@click.command()
@click.argument("name")
@click.option("-n", "--lines", default=100, show_default=True, help="How many of the last lines to show.")
@click.pass_obj
@handle_errors
def logs(app: App, name: str, lines: int) -> None:
    """The last stderr lines of server NAME (kept for local, stdio servers)."""
    from mcpconnect.transport import server_log_path

    path = server_log_path(name)
    if not path.exists():
        configured = app.loaded.config.servers
        if name not in configured:
            fail(f"no server named '{name}' (configured: {', '.join(configured) or 'none'})")
        fail(f"no log for server '{name}' yet: it is written when mcpconnect starts the server (stdio only)", 1)
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    for line in text[-lines:]:
        click.echo(line)
