"""``mcpconnect install CLIENT``: make a client (Claude Desktop, Cursor, VS Code, Claude Code)
start mcpconnect."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from mcpconnect._cli.app import App, handle_errors

CLIENT_NAMES = ("claude-desktop", "cursor", "vscode", "claude-code")


@click.command()
@click.argument("client", type=click.Choice(CLIENT_NAMES))
@click.argument("names", nargs=-1, metavar="[NAME ...]")
@click.option("--proxy", is_flag=True, help="One 'mcpconnect proxy NAME' entry per server instead of one 'serve'.")
@click.option("--file", "file_", type=click.Path(dir_okay=False, path_type=Path), help="The client's file elsewhere.")
@click.option("--dry-run", is_flag=True, help="Show the change; write nothing.")
@click.option("--undo", "undo_", is_flag=True, help="Put the file back as it was before the first install.")
@click.pass_obj
@handle_errors
def install(
    app: App, client: str, names: tuple[str, ...], proxy: bool, file_: Path | None, dry_run: bool, undo_: bool
) -> None:
    """Write CLIENT's configuration file so that it runs mcpconnect serve (all enabled servers, or
    NAME ...), showing the diff and keeping a backup that --undo restores.

    Files: claude-desktop and cursor their user file; vscode .vscode/mcp.json and claude-code
    .mcp.json in this folder.
    """
    from dataclasses import replace

    from mcpconnect._gateway import select_servers
    from mcpconnect._gateway.install import client_file, plan, undo
    from mcpconnect._runtime import Runtime
    from mcpconnect.errors import ConfigError

    target = client_file(client)
    if file_ is not None:
        target = replace(target, path=file_.resolve())
    if undo_:
        click.echo(undo(target))
        return
    loaded = app.loaded
    if loaded.project_file is None:
        raise ConfigError(
            "install: there is no project configuration to point the client at; "
            "create mcpconnect.toml here or pass --config FILE"
        )
    servers = select_servers(Runtime(loaded, app.host), names)
    change = plan(target, loaded.project_file, list(names) if not proxy else servers, proxy=proxy)
    if not change.changed:
        click.echo(f"{target.path} already runs mcpconnect this way; nothing to do")
        return
    click.echo(change.diff, nl=False)
    if not proxy:
        # Entries of the same servers the client starts itself (left by `init` or by hand): serve
        # serves them too, so the client would list their tools twice.
        section = json.loads(change.after).get(target.key, {})
        twice = [n for n in servers if n in section and n != "mcpconnect"]
        if twice:
            from mcpconnect._cli.app import warn

            warn(
                f"{target.path.name} also starts {', '.join(repr(n) for n in twice)} itself, and mcpconnect serve "
                "serves them too, so the client would see their tools twice: remove those entries from the file, "
                f"or use 'mcpconnect install {client} --proxy', whose entries replace them one for one"
            )
    _warn_unset(loaded.config, servers, client)
    if dry_run:
        click.echo("(--dry-run: nothing written)")
        return
    backup = change.write()
    click.echo(f"wrote {target.path} (backup: {backup.name}; undo with 'mcpconnect install {client} --undo')")
    click.echo(f"restart {client} to pick it up")


def _warn_unset(config: Any, servers: list[str], client: str) -> None:
    """Say which variables the served servers need that are not set here: a client started from
    the desktop passes its own environment to mcpconnect, not this shell's."""
    from mcpconnect._cli.app import warn
    from mcpconnect._config.variables import unset_vars

    missing: dict[str, list[str]] = {}
    for name in servers:
        server = config.servers[name]
        texts = [server.command or "", *server.args, server.url or "", *server.env.values(), *server.headers.values()]
        needed = [v for text in texts for v in unset_vars(text)]
        if server.token_env and server.token_env not in os.environ:
            needed.append(server.token_env)
        for var in dict.fromkeys(needed):
            missing.setdefault(var, []).append(name)
    if missing:
        listed = ", ".join(f"{var} ({', '.join(names)})" for var, names in missing.items())
        warn(
            f"the servers need variables that are not set in this shell: {listed}; {client} starts mcpconnect "
            "with its own environment, not this shell's: make them available to it (for a desktop client, "
            'the entry\'s "env" in its file, or the environment it is started with)'
        )
