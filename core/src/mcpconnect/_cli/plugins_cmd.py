"""``mcpconnect plugins``: what is installed and whether it loads."""

from __future__ import annotations

import click

from mcpconnect._cli.app import App, console, handle_errors, print_json, warn


@click.group()
def plugins() -> None:
    """Installed plugins: auth providers, token stores, transports."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
@handle_errors
def list_plugins(app: App, as_json: bool) -> None:
    """List every installed plugin: name, kind, distribution, version, status."""
    rows = app.host.load_all()
    if as_json:
        print_json([r.as_dict() for r in rows])
    else:
        from rich.table import Table

        table = Table(title=None, show_edge=False, header_style="bold")
        for col in ("name", "kind", "distribution", "version", "status"):
            table.add_column(col)
        for r in rows:
            style = {"ok": "green", "disabled": "dim"}.get(r.status, "red")
            table.add_row(r.name, r.kind, r.distribution or "-", r.version or "-", f"[{style}]{r.status}[/]")
        console().print(table)
    for r in rows:
        if r.error:
            warn(r.error)
