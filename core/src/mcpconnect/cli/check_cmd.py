"""``mcpconnect check``: connect to every configured server at once and report which work."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from mcpconnect.cli.app import App, console, fail, handle_errors, print_json

if TYPE_CHECKING:
    from mcpconnect.servers import ServerStatus


def status_json(status: ServerStatus) -> dict[str, Any]:
    """One server in the ``--json`` output."""
    return {
        "name": status.name,
        "transport": status.transport,
        "ok": status.ok,
        "protocol_version": status.protocol_version,
        "tools": status.tools,
        "latency_ms": status.latency_ms,
        "error": status.error,
    }


async def run_check(app: App, names: tuple[str, ...], refresh: bool, live: bool) -> list[ServerStatus]:
    """Connect to the servers (no health checks, no reconnects) and return their states."""
    from mcpconnect.hub import connect
    from mcpconnect.runtime import Runtime

    runtime = Runtime(app.loaded, app.host)
    configured = runtime.config.servers
    selected = list(names) or [n for n, s in configured.items() if s.enabled]
    progress: dict[str, str] = dict.fromkeys(selected, "waiting")

    def on_state(status: ServerStatus) -> None:
        progress[status.name] = status.state.value
        if display is not None:
            display.update(_progress_table(progress))

    display = None
    if live:
        from rich.live import Live

        display = Live(_progress_table(progress), console=console(stderr=True), transient=True)
        display.start()
    try:
        async with connect(
            runtime, servers=selected, health_interval=None, reconnect=False, refresh=refresh, on_state=on_state
        ) as hub:
            return list(hub.servers.values())
    finally:
        if display is not None:
            display.stop()
        await runtime.aclose()


def _progress_table(progress: dict[str, str]) -> Any:
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    for name, state in progress.items():
        mark = {"ready": "[green]✓[/]", "failed": "[red]✗[/]"}.get(state, "[yellow]…[/]")
        table.add_row(mark, name, state)
    return table


def _table(statuses: list[ServerStatus]) -> Any:
    from rich.table import Table

    table = Table(title=None, show_lines=False)
    for column in ("server", "transport", "state", "protocol", "tools", "latency", "error"):
        table.add_column(column, overflow="fold")
    for s in statuses:
        state = "[green]ready[/]" if s.ok else f"[red]{s.state.value}[/]"
        error = (s.error or "").splitlines()[0] if s.error else ""
        table.add_row(
            s.name,
            s.transport,
            state,
            s.protocol_version or "-",
            "-" if s.tools is None else str(s.tools),
            "-" if s.latency_ms is None else f"{s.latency_ms:.0f} ms",
            error,
        )
    return table


@click.command()
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--refresh", is_flag=True, help="Ask every server again; ignore the discovery cache.")
@click.pass_obj
@handle_errors
def check(app: App, names: tuple[str, ...], as_json: bool, refresh: bool) -> None:
    """Connect to every configured server (or NAMEs) concurrently and report which work.

    Exit status 0 when every server is operational, 1 otherwise.
    """
    import anyio

    if not names and not any(s.enabled for s in app.loaded.config.servers.values()):
        fail("no servers are configured; add a [servers.NAME] table to mcpconnect.toml", 2)
    live = not as_json and sys.stderr.isatty()
    statuses = anyio.run(run_check, app, names, refresh, live)
    ok = sum(1 for s in statuses if s.ok)
    if as_json:
        print_json({"total": len(statuses), "ok": ok, "servers": [status_json(s) for s in statuses]})
    else:
        out = console()
        out.print(_table(statuses))
        for s in statuses:
            if s.error and "\n" in s.error:
                out.print(f"\n[bold]{s.name}[/]: {s.error}", markup=False)
        out.print(f"\n{ok}/{len(statuses)} servers operational")
    sys.exit(0 if ok == len(statuses) else 1)
