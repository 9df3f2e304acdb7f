"""The MCP conformance harness's client under test, built on mcpconnect's library API.

The harness (``@modelcontextprotocol/conformance``) runs ``python client.py SERVER_URL`` with
``MCP_CONFORMANCE_SCENARIO`` (and, when it asks for a protocol version,
``MCP_CONFORMANCE_PROTOCOL_VERSION``) in the environment, then judges what went over the wire.
Exit status 0 means the client did what the scenario asks without an error of its own.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import mcpconnect

HANDSHAKE_ERA = {"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"}


def protocol_mode() -> str:
    """The SDK mode for the protocol version the harness asks for (``auto`` when it asks none)."""
    version = os.environ.get("MCP_CONFORMANCE_PROTOCOL_VERSION", "")
    return "legacy" if version in HANDSHAKE_ERA else "auto"


def default_for(schema: dict[str, Any]) -> Any:
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    return {"string": "", "integer": 0, "number": 0, "boolean": False}.get(kind)


async def elicit(context: Any, params: Any) -> Any:
    """Accept every elicitation, filling each field with its schema's default (SEP-1034)."""
    from mcp_types import ElicitResult

    schema = getattr(params, "requested_schema", None) or {}
    content = {
        name: value
        for name, prop in (schema.get("properties") or {}).items()
        if (value := default_for(prop)) is not None
    }
    return ElicitResult(action="accept", content=content)


async def sample(context: Any, params: Any) -> Any:
    from mcp_types import CreateMessageResult, TextContent

    return CreateMessageResult(role="assistant", content=TextContent(type="text", text="ok"), model="mcpconnect")


async def roots(context: Any) -> Any:
    from mcp_types import ListRootsResult

    return ListRootsResult(roots=[])


async def run(url: str, scenario: str) -> int:
    config = {"storage": {"backend": "memory"}, "servers": {"peer": {"url": url, "transport": "streamable-http"}}}
    async with mcpconnect.connect(
        config,
        protocol=protocol_mode(),
        cache=False,
        reconnect=False,
        health_interval=None,
        elicitation_callback=elicit,
        sampling_callback=sample,
        list_roots_callback=roots,
    ) as hub:
        status = hub.servers["peer"]
        if not status.ok:
            print(f"connect failed: {status.error}", file=sys.stderr)
            return 1
        tools = await hub.list_tools("peer")
        print(f"{scenario}: {status.protocol_version}, tools: {[t.name for t in tools]}")
        if scenario == "tools_call":
            result = await hub.call_tool("peer", "add_numbers", {"a": 5, "b": 3})
            print(result.content[0].text)
        elif scenario == "elicitation-sep1034-client-defaults":
            result = await hub.call_tool("peer", "test_client_elicitation_defaults", {})
            print(result.content[0].text)
        elif scenario == "sse-retry":
            result = await hub.call_tool("peer", "test_reconnection", {})
            print(result.content[0].text)
        elif scenario == "http-invalid-tool-headers":
            # Call every tool the client kept: tools with invalid x-mcp-header annotations must
            # have been left out of the list, and the valid one must still be usable.
            for tool in tools:
                properties = (tool.tool.input_schema or {}).get("properties") or {}
                arguments = {name: "x" for name, prop in properties.items() if prop.get("type") == "string"}
                await hub.call_tool("peer", tool.name, arguments)
        elif scenario == "json-schema-2020-12-preservation":
            # Echo the other tool's inputSchema back exactly as the client received it: 2020-12
            # keywords ($schema, $defs, if/then/else, additionalProperties) must survive.
            (focal,) = [t for t in tools if t.name != "json_schema_echo"]
            await hub.call_tool("peer", "json_schema_echo", {"schema": focal.tool.input_schema})
        elif scenario == "sep-2322-client-request-state":
            # Multi-round-trip requests: the SDK answers each input request (elicitation above) and
            # retries with the server's requestState; two at once must not mix their states.
            # One result omits resultType: the hub defaults it to "complete" (SEP-2322).
            await asyncio.gather(*(hub.call_tool("peer", t.name, {}) for t in tools))
        # Scenarios that say which calls to make do so in their context.
        import json

        context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
        for call in context.get("toolCalls") or []:
            result = await hub.call_tool("peer", call["name"], call.get("arguments") or {})
            print(call["name"], [getattr(c, "text", None) for c in result.content])
    return 0


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: client.py SERVER_URL (with MCP_CONFORMANCE_SCENARIO set)", file=sys.stderr)
        return 2
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    if scenario.startswith("auth/"):
        # The authorization scenarios live in auth_client.py, beside this file.
        import json

        from auth_client import run_auth_scenario

        context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
        return asyncio.run(run_auth_scenario(scenario, sys.argv[1], context))
    return asyncio.run(run(sys.argv[1], scenario))


if __name__ == "__main__":
    sys.exit(main())
