"""What an upstream asks of its client (sampling, elicitation, roots) reaches the gateway's client
that made the call, and the answer goes back; a client that cannot answer gets a clear error."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings

import anyio
import mcp_types as types
from mcp import Client, StdioServerParameters

from mcpconnect._gateway import open_gateway
from mcpconnect._runtime import Runtime


@contextlib.asynccontextmanager
async def legacy_gateway(gw):
    config = {
        "storage": {"backend": "memory"},
        "servers": {"local": {"command": sys.executable, "args": [gw.UPSTREAM]}},
    }
    runtime = Runtime.build(config)
    try:
        # Upstreams on the initialize handshake send these as requests on their connection.
        async with open_gateway(runtime, ["local"], protocol="legacy") as gateway:
            yield gateway
    finally:
        await runtime.aclose()


async def test_sampling_elicitation_and_roots_reach_the_calling_client(gw, mcpconnect_isolated):
    asked = []

    async def sampling(context, params):
        asked.append(("sampling", params.messages[0].content.text))
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(text="forty-two"), model="test-model"
        )

    async def elicitation(context, params):
        asked.append(("elicitation", params.message))
        return types.ElicitResult(action="accept", content={"name": "Ada"})

    async def list_roots(context):
        return types.ListRootsResult(roots=[types.Root(uri="file:///work/project", name="project")])

    async with (
        legacy_gateway(gw) as gateway,
        Client(
            gateway.server,
            mode="legacy",
            sampling_callback=sampling,
            elicitation_callback=elicitation,
            list_roots_callback=list_roots,
        ) as client,
    ):
        sampled = await client.call_tool("local__sample", {"prompt": "the answer?"})
        assert sampled.content[0].text == "the model said: forty-two"
        elicited = await client.call_tool("local__ask_name", {})
        assert elicited.content[0].text == "hello Ada"
        roots = await client.call_tool("local__roots", {})
        assert roots.structured_content == {"result": ["file:///work/project"]}
    assert asked == [("sampling", "the answer?"), ("elicitation", "What is your name?")]


async def test_a_client_without_the_capability_gets_a_clear_error(gw, mcpconnect_isolated):
    async with legacy_gateway(gw) as gateway, Client(gateway.server, mode="legacy") as client:
        result = await client.call_tool("local__sample", {"prompt": "x"})
        assert result.is_error and "does not support sampling" in result.content[0].text
        result = await client.call_tool("local__ask_name", {})
        assert result.is_error and "does not support elicitation" in result.content[0].text


async def test_upstream_logs_reach_the_client_at_the_level_it_set(gw, mcpconnect_isolated):
    received = []
    arrived = anyio.Event()

    async def on_log(params):
        received.append((params.level, params.logger, params.data))
        if params.data == "loud":
            arrived.set()

    async with legacy_gateway(gw) as gateway, Client(gateway.server, mode="legacy", logging_callback=on_log) as client:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # logging/setLevel is deprecated at 2026-07-28
            await client.set_logging_level("error")
        await client.call_tool("local__shout", {"message": "quiet", "level": "info"})
        await client.call_tool("local__shout", {"message": "loud", "level": "error"})
        with anyio.fail_after(30):
            await arrived.wait()
    assert [r for r in received if r[2] in ("quiet", "loud")] == [("error", "local", "loud")]


async def test_through_the_cli_an_upstream_on_the_handshake_can_sample(gw, mcpconnect_isolated):
    config = mcpconnect_isolated / "mcpconnect.toml"
    config.write_text(
        f'[storage]\nbackend = "memory"\n[servers.local]\ncommand = "{sys.executable}"\n'
        f'args = ["{gw.UPSTREAM}"]\nprotocol = "legacy"\n'
    )

    async def sampling(context, params):
        return types.CreateMessageResult(role="assistant", content=types.TextContent(text="via cli"), model="m")

    params = StdioServerParameters(command=gw.MCPCONNECT, args=gw.serve_argv(config)[1:], env=dict(os.environ))
    async with Client(params, mode="legacy", sampling_callback=sampling) as client:
        result = await client.call_tool("local__sample", {"prompt": "x"})
        assert result.content[0].text == "the model said: via cli"
