"""``mcpconnect check``: connect to every configured server at once and report which work."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from mcpconnect._cli.app import App, console, fail, handle_errors, print_json
from mcpconnect._cli.app import plain as _plain

if TYPE_CHECKING:
    from mcpconnect._servers import ServerStatus


def status_json(status: ServerStatus) -> dict[str, Any]:
    """One server in the ``--json`` output."""
    return status.summary()


def provider_json(name: str, ptype: str, health: dict[str, Any]) -> dict[str, Any]:
    """One provider in the ``--json`` output: reachable, logged in, when its token expires."""
    accounts = health.get("accounts") or []
    expiries = [a["expires_in_seconds"] for a in accounts if a.get("expires_in_seconds") is not None]
    return {
        "name": name,
        "type": ptype,
        "ok": health.get("problem") is None and health.get("reachable") is not False,
        "reachable": health.get("reachable"),
        "logged_in": bool(health.get("logged_in")),
        "accounts": [a["account"] for a in accounts],
        "expires_in_seconds": min(expiries) if expiries else None,
        "problem": health.get("problem"),
    }


async def check_providers(runtime: Any, names: list[str]) -> list[dict[str, Any]]:
    """Each provider's health, concurrently: endpoints reachable, logged in, token expiry."""
    import anyio

    from mcpconnect.auth import token_manager
    from mcpconnect.errors import MCPConnectError

    manager = token_manager(runtime)
    results: dict[str, dict[str, Any]] = {}

    async def one(name: str) -> None:
        try:
            health = await manager.health(name)
        except MCPConnectError as exc:  # a broken store or plugin is this provider's problem, not a crash
            health = {"problem": str(exc)}
        except Exception as exc:  # a plugin's bug, too: it must not hide the other providers' results
            from mcpconnect._servers.errors import describe

            health = {"problem": f"provider '{name}': {describe(exc)}"}
        results[name] = provider_json(name, runtime.config.providers[name].type, health)

    async with anyio.create_task_group() as tg:
        for name in names:
            tg.start_soon(one, name)
    return [results[n] for n in names]


def open_store_or_fail(runtime: Any) -> None:
    """Open the configured token store, and ask its backend whether it can work here (a keyring
    store with no keychain); a :class:`~mcpconnect.errors.ConfigError` naming ``[storage]`` and
    where it was set when not."""
    from mcpconnect.errors import ConfigError, StoreError

    store = runtime.store()
    try:
        store.backend.check_available()
    except StoreError as exc:
        source = runtime.loaded.source_of("storage", "backend")
        raise ConfigError(str(exc), source=source, key="storage.backend") from None


async def check_per_user(runtime: Any, name: str) -> tuple[ServerStatus, int]:
    """A ``tokens = "per_user"`` server, which has no login of its own to connect with: what
    ``serve`` requires of it (exit 2 there), and whether its URL answers (a 401 without a token
    is an answer). Also how many gateway users have connected their account (from the store)."""
    import httpx

    from mcpconnect._gateway.peruser import check_per_user as serve_requires
    from mcpconnect._redact import safe_url
    from mcpconnect._servers import ServerState, ServerStatus
    from mcpconnect.errors import MCPConnectError

    server = runtime.config.servers[name]
    transport = server.transport or "auto"
    problem = None
    try:
        serve_requires(runtime.config, [name], "http")
    except MCPConnectError as exc:
        problem = str(exc)
    if problem is None and server.url:
        try:
            async with httpx.AsyncClient(timeout=server.timeout or 10.0, follow_redirects=False) as http:
                await http.get(server.url, headers={"accept": "application/json, text/event-stream"})
        except httpx.HTTPError as exc:
            problem = f"server '{name}': {safe_url(server.url)} does not answer ({type(exc).__name__}); check url"
    users = 0
    provider = server.auth_provider
    if provider is not None:
        try:
            users = await runtime.store().count_users(provider)
        except MCPConnectError as exc:
            problem = problem or str(exc)
    state = ServerState.FAILED if problem else ServerState.READY
    return ServerStatus(name, transport, state, error=problem), users


async def run_check(
    app: App, names: tuple[str, ...], refresh: bool, live: bool
) -> tuple[list[ServerStatus], list[dict[str, Any]], dict[str, int]]:
    """Connect to the servers (no health checks, no reconnects) and check the providers; return
    the servers' states and the providers' health."""
    from mcpconnect._hub import connect
    from mcpconnect._runtime import Runtime
    from mcpconnect.errors import ConfigError

    configured = app.loaded.config.servers
    unknown = [n for n in names if n not in configured]
    if unknown:
        raise ConfigError(f"no server named '{unknown[0]}' (configured: {', '.join(configured) or 'none'})")
    runtime = Runtime(app.loaded, app.host)
    selected = list(names) or [n for n, s in configured.items() if s.enabled]
    # Providers are reported when the whole configuration is checked (no NAMEs given).
    provider_names = [] if names else list(runtime.config.providers)
    from mcpconnect._cli.progress import Connecting

    progress = Connecting(selected)

    def on_state(status: ServerStatus) -> None:
        progress.update(status.name, status.state.value)

    display = None
    try:
        # The store is checked even when no server needs a token: a configuration whose store
        # cannot be opened is broken, and `check` is where that must show.
        open_store_or_fail(runtime)
    except BaseException:
        await runtime.aclose()
        raise
    if live:
        from rich.live import Live

        display = Live(progress, console=console(stderr=True), transient=True, refresh_per_second=8)
        display.start()
    # Per-user servers have no shared login to connect with: checked as the gateway serves them.
    per_user = [n for n in selected if configured[n].tokens == "per_user"]
    shared = [n for n in selected if n not in per_user]
    try:
        providers = await check_providers(runtime, provider_names) if provider_names else []
        users: dict[str, int] = {}
        found: dict[str, ServerStatus] = {}
        for name in per_user:
            found[name], users[name] = await check_per_user(runtime, name)
            on_state(found[name])
        if shared:
            async with connect(
                runtime, servers=shared, health_interval=None, reconnect=False, refresh=refresh, on_state=on_state
            ) as hub:
                found.update(hub.servers)
        return [found[n] for n in selected if n in found], providers, users
    finally:
        if display is not None:
            display.stop()
        await runtime.aclose()


def _table(statuses: list[ServerStatus], users: dict[str, int] | None = None) -> Any:
    from rich.table import Table

    table = Table(title=None, show_lines=False)
    for column in ("server", "transport", "state", "protocol", "tools", "latency", "error"):
        table.add_column(column, overflow="fold")
    for s in statuses:
        state = "[green]ready[/]" if s.ok else f"[red]{s.state.value}[/]"
        if users is not None and s.name in users:
            state = f"[green]per user ({users[s.name]} connected)[/]" if s.ok else "[red]per user[/]"
        # Errors name tables ("[servers.x]"): plain text, not rich markup.
        error = (s.error or "").splitlines()[0] if s.error else ""
        table.add_row(
            _plain(s.name),
            _plain(s.transport),
            state,
            _plain(s.protocol_version or "-"),
            "-" if s.tools is None else str(s.tools),
            "-" if s.latency_ms is None else f"{s.latency_ms:.0f} ms",
            _plain(error),
        )
    return table


def _provider_table(providers: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    table = Table(title=None, show_lines=False)
    for column in ("provider", "type", "endpoints", "login", "expires in", "problem"):
        table.add_column(column, overflow="fold")
    for p in providers:
        reachable = {True: "[green]reachable[/]", False: "[red]unreachable[/]", None: "-"}[p["reachable"]]
        from rich.text import Text

        login = Text(", ".join(p["accounts"]), style="green") if p["logged_in"] else "[yellow]not logged in[/]"
        expires = p["expires_in_seconds"]
        table.add_row(
            _plain(p["name"]),
            _plain(p["type"]),
            reachable,
            login,
            "-" if expires is None else _duration(expires),
            _plain(p["problem"] or ""),
        )
    return table


def _duration(seconds: int) -> str:
    if seconds <= 0:
        return "expired"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d"


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

    config = app.loaded.config
    if not names and not any(s.enabled for s in config.servers.values()) and not config.providers:
        fail("no servers are configured; add a [servers.NAME] table to mcpconnect.toml", 2)
    from mcpconnect._cli.progress import live_allowed

    live = not as_json and live_allowed()
    statuses, providers, users = anyio.run(run_check, app, names, refresh, live)
    ok = sum(1 for s in statuses if s.ok)
    providers_ok = sum(1 for p in providers if p["ok"])
    if as_json:
        servers = [
            status_json(s) | ({"tokens": "per_user", "users": users[s.name]} if s.name in users else {})
            for s in statuses
        ]
        result: dict[str, Any] = {"total": len(statuses), "ok": ok, "servers": servers}
        if providers:
            result["providers"] = providers
        print_json(result)
    else:
        out = console()
        if statuses:
            out.print(_table(statuses, users))
            for s in statuses:
                if s.error and "\n" in s.error:
                    # The error names its server already; printed as it is (no markup in it is read).
                    out.print()
                    out.print(s.error, markup=False, highlight=False)
        if providers:
            out.print(_provider_table(providers))
        summary = f"\n{ok}/{len(statuses)} servers operational"
        if providers:
            logged_in = sum(1 for p in providers if p["logged_in"])
            summary += f"; {providers_ok}/{len(providers)} providers reachable, {logged_in} logged in"
        out.print(summary)
    if any(s.config_error for s in statuses):
        sys.exit(2)  # a server failed on the configuration (a variable not set, a store option)
    sys.exit(0 if ok == len(statuses) and providers_ok == len(providers) else 1)
