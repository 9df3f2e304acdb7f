"""``mcpconnect call NAME TOOL --args '{json}'``: call one tool of one server."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from mcpconnect.cli.app import App, fail, handle_errors, print_json


async def _call(app: App, name: str, tool: str, arguments: dict[str, Any]) -> Any:
    from mcpconnect.errors import TransportError
    from mcpconnect.hub import connect
    from mcpconnect.runtime import Runtime

    runtime = Runtime(app.loaded, app.host)
    async with connect(runtime, servers=[name], health_interval=None, reconnect=False) as hub:
        status = hub.servers[name]
        if not status.ok:
            raise TransportError(status.error or f"server '{name}' is not connected")
        return await hub.call_tool(name, tool, arguments)


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
        known = ", ".join(app.loaded.config.servers) or "none"
        raise ConfigError(f"no server named '{name}' (configured: {known})")
    result = anyio.run(_call, app, name, tool, arguments)
    if as_json:
        print_json(result.model_dump(mode="json", by_alias=True, exclude_none=True))
    else:
        for part in result.content:
            text = getattr(part, "text", None)
            click.echo(text if text is not None else json.dumps(part.model_dump(mode="json", by_alias=True)))
        if result.structured_content is not None and not result.content:
            print_json(result.structured_content)
    sys.exit(1 if result.is_error else 0)
