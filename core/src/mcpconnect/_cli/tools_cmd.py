"""``mcpconnect tools``: the tools each server offers (from the discovery cache when fresh)."""

from __future__ import annotations

import sys
from typing import Any

import click

from mcpconnect._cli.app import App, console, handle_errors, plain, print_json, warn


def _from_cache(app: App, names: list[str]) -> list[dict[str, Any]] | None:
    from mcpconnect._servers.cache import DiscoveryCache, cache_key

    cache = DiscoveryCache()
    rows: list[dict[str, Any]] = []
    for name in names:
        entry = cache.get(cache_key(name, app.loaded.config.servers[name]))
        if entry is None:
            return None
        rows.extend(_row(name, t) for t in entry.get("tools", []))
    return rows


def _row(server: str, tool: dict[str, Any]) -> dict[str, Any]:
    from mcpconnect._hub import SEPARATOR

    return {
        "server": server,
        "name": tool["name"],
        "qualified_name": f"{server}{SEPARATOR}{tool['name']}",
        "description": tool.get("description"),
        "input_schema": tool.get("inputSchema"),
    }


async def _live(app: App, names: list[str], refresh: bool) -> list[dict[str, Any]]:
    from mcpconnect._hub import connect
    from mcpconnect._runtime import Runtime

    runtime = Runtime(app.loaded, app.host)
    rows: list[dict[str, Any]] = []
    async with connect(runtime, servers=names, health_interval=None, reconnect=False, refresh=refresh) as hub:
        for name, status in hub.servers.items():
            if not status.ok:
                warn(f"{(status.error or name).splitlines()[0]}")
                continue
            for tool in await hub.list_tools(name):
                rows.append(_row(name, tool.tool.model_dump(mode="json", by_alias=True, exclude_none=True)))
    return rows


@click.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the tools as JSON.")
@click.option("--refresh", is_flag=True, help="Ask the servers; ignore the discovery cache.")
@click.option("--all", "show_all", is_flag=True, help="Also the tools [servers.NAME.tools] filters out.")
@click.pass_obj
@handle_errors
def tools(app: App, name: str | None, as_json: bool, refresh: bool, show_all: bool) -> None:
    """The tools of every server (or of NAME), namespaced SERVER__TOOL, as serve exposes them
    (the filters of [servers.NAME.tools] applied; --all for every tool)."""
    import anyio

    from mcpconnect.errors import ConfigError

    configured = app.loaded.config.servers
    if name is not None and name not in configured:
        raise ConfigError(f"no server named '{name}' (configured: {', '.join(configured) or 'none'})")
    names = [name] if name else [n for n, s in configured.items() if s.enabled]
    if not names:
        where = app.loaded.project_file or "mcpconnect.toml"
        raise ConfigError(
            f"no servers are configured (or all are disabled); add one as [servers.NAME] in {where} "
            "(see docs/configuration.md), or import a client's with 'mcpconnect config import FILE'"
        )
    rows = None if refresh else _from_cache(app, names)
    if rows is None:
        rows = anyio.run(_live, app, names, refresh)
    hidden: dict[str, int] = {}
    for row in rows:
        row["exposed"] = configured[row["server"]].tools.allows(row["name"])
        if not row["exposed"]:
            hidden[row["server"]] = hidden.get(row["server"], 0) + 1
    if not show_all:
        rows = [row for row in rows if row["exposed"]]
        for server, count in hidden.items():
            from mcpconnect._config.model import table_name

            where = table_name("servers", server, "tools")
            warn(f"{count} tool(s) of '{server}' filtered out by {where}; --all shows them")
    if as_json:
        print_json(rows)
        return
    from rich.table import Table

    table = Table()
    for column in ("tool", "description"):
        table.add_column(column, overflow="fold")
    for row in rows:
        # Names and descriptions come from the server: shown as text, never read as markup.
        label = row["qualified_name"] + ("" if row["exposed"] else " (filtered out)")
        table.add_row(plain(label), plain((row["description"] or "").strip().split("\n")[0]))
    console().print(table)
    if not rows:
        click.echo("No tools: no server answered with any (see 'mcpconnect check').", err=True)
        sys.exit(1)
