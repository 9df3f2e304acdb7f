"""``mcpconnect tokens list`` and ``tokens refresh``: stored logins, never a secret."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mcpconnect._cli.app import App, console, handle_errors, plain, print_json, warn
from mcpconnect._cli.login_cmd import _expires, run_with_manager
from mcpconnect.auth._actions import damaged_row, list_logins, refresh_login

if TYPE_CHECKING:
    pass

__all__ = ["COMMANDS"]


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@handle_errors
def list_(app: App, as_json: bool) -> None:
    """Every stored login: provider, account, scopes, expiry, refreshable, state."""

    rows, damaged = run_with_manager(app, list_logins)
    if as_json:
        # A damaged record is a row of its own, state "damaged", with what to do in "problem".
        print_json(rows + [damaged_row(d) for d in damaged])
        return
    for found in damaged:
        warn(found.message)
    if not rows:
        if not damaged:
            click.echo("No stored tokens; log in with 'mcpconnect login NAME'.", err=True)
        return
    from rich.table import Table

    table = Table("provider", "account", "scopes", "expires in", "refreshable", "state")
    for row in rows:
        who = f"{row['account']} ({row['account_name']})" if row["account_name"] else row["account"]
        table.add_row(
            plain(row["provider"]),
            plain(who),  # names come from the provider: never read as markup
            plain(" ".join(row["scopes"]) or "-"),
            _expires(row["expires_in_seconds"]),
            "yes" if row["refreshable"] else "no",
            row["state"],
        )
    console().print(table)


@click.command()
@click.argument("name")
@click.option("--account", help="Which account, when several are logged in (default: the latest).")
@click.pass_obj
@handle_errors
def refresh(app: App, name: str, account: str | None) -> None:
    """Refresh the token of provider NAME now."""
    from mcpconnect._cli.login_cmd import stored_target, unknown_login
    from mcpconnect.auth._errors import NotRefreshableError
    from mcpconnect.errors import MCPConnectError

    name = stored_target(app, name)
    try:
        token = run_with_manager(app, lambda manager: refresh_login(manager, name, account))
    except NotRefreshableError as exc:
        click.echo(f"Not refreshed: {exc}", err=True)  # the token is still valid: nothing failed
        return
    except MCPConnectError as exc:
        raise unknown_login(app, name, exc) from None
    left = token.expires_in()
    click.echo(
        f"Refreshed {name} ({token.account}); expires in {_expires(None if left is None else left.total_seconds())}",
        err=True,
    )


COMMANDS = [list_, refresh]
