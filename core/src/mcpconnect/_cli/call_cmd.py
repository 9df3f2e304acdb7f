"""``mcpconnect call NAME TOOL --args '{json}'``: call one tool of one server."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from mcpconnect._cli.app import App, fail, handle_errors, print_json


async def _call(app: App, name: str, tool: str, arguments: dict[str, Any]) -> Any:
    """The tool's result, or the message of a usage error (a tool the server does not have)."""
    from mcpconnect._hub import SEPARATOR, connect
    from mcpconnect._runtime import Runtime

    runtime = Runtime(app.loaded, app.host)
    async with connect(runtime, servers=[name], health_interval=None, reconnect=False) as hub:
        if not hub.servers[name].ok:
            # Raises what kept it from connecting: a ConfigError (exit 2) or a TransportError.
            await hub.connection(name).ready_client()
        names = [t.name for t in await hub.list_tools(name)]
        if tool not in names and tool.startswith(f"{name}{SEPARATOR}") and tool[len(name) + 2 :] in names:
            tool = tool[len(name) + 2 :]  # the namespaced name, as `tools` prints it
        if tool not in names:
            return _no_such_tool(name, tool, names)
        if not runtime.config.servers[name].tools.allows(tool):
            from mcpconnect._config.model import table_name
            from mcpconnect.errors import ConfigError

            where = table_name("servers", name, "tools")
            raise ConfigError(
                f"tool '{tool}' of server '{name}' is filtered out by {where}, so serve and proxy never expose "
                f"it; change {where} to call it"
            )
        return await hub.call_tool(name, tool, arguments)


def _no_such_tool(server: str, tool: str, names: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(tool, names, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    listed = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "") if names else "none"
    return (
        f"server '{server}' has no tool '{tool}'; {hint}its tools: {listed} (see them with: mcpconnect tools {server})"
    )


def _no_such_server(app: App, name: str) -> str:
    from mcpconnect._hub import SEPARATOR

    servers = app.loaded.config.servers
    known = ", ".join(servers) or "none"
    for server in sorted(servers, key=len, reverse=True):
        if name.startswith(f"{server}{SEPARATOR}") and len(name) > len(server) + 2:
            return (
                f"no server named '{name}' (configured: {known}); to call tool "
                f"'{name[len(server) + 2 :]}' of server '{server}', run: mcpconnect call {server} "
                f"{name[len(server) + 2 :]}"
            )
    return f"no server named '{name}' (configured: {known})"


@click.command()
@click.argument("name")
@click.argument("tool")
@click.option("--args", "raw_args", default="{}", metavar="JSON", help="The tool's arguments, a JSON object.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON.")
@click.pass_obj
@handle_errors
def call(app: App, name: str, tool: str, raw_args: str, as_json: bool) -> None:
    """Call TOOL of server NAME and print its result (exit 1 when the tool reports an error)."""
    import anyio

    from mcpconnect.errors import ConfigError

    try:
        arguments = json.loads(raw_args)
    except ValueError as exc:
        fail(f'--args is not valid JSON ({exc}); write e.g. --args \'{{"query": "oauth"}}\'')
    if not isinstance(arguments, dict):
        fail('--args must be a JSON object, e.g. --args \'{"query": "oauth"}\'')
    if name not in app.loaded.config.servers:
        raise ConfigError(_no_such_server(app, name))
    result = anyio.run(_call, app, name, tool, arguments)
    if isinstance(result, str):
        fail(result)
    if as_json:
        print_json(result.model_dump(mode="json", by_alias=True, exclude_none=True))
    else:
        for part in result.content:
            text = getattr(part, "text", None)
            click.echo(text if text is not None else json.dumps(part.model_dump(mode="json", by_alias=True)))
        if result.structured_content is not None and not result.content:
            print_json(result.structured_content)
    sys.exit(1 if result.is_error else 0)
