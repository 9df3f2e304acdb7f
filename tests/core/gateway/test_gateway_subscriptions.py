"""Completions and resource subscriptions through ``serve``: asked of the upstream the name points
at, names and URIs mapped both ways; an upstream subscription counted across the gateway's clients,
dropped with the last of them, renewed when the upstream reconnects."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import anyio
import mcp_types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

GREETING = "mcpconnect://{server}/mem://greeting"


@pytest.fixture
def two_upstreams(gw, mcpconnect_isolated: Path) -> Path:
    """The test upstream twice over stdio: once on the initialize handshake, once on 2026-07-28."""
    config = mcpconnect_isolated / "mcpconnect.toml"
    config.write_text(
        f"""
[storage]
backend = "memory"

[servers.legacy]
command = "{sys.executable}"
args = ["{gw.UPSTREAM}"]
protocol = "legacy"

[servers.modern]
command = "{sys.executable}"
args = ["{gw.UPSTREAM}"]

[servers.modern.resources]
deny = ["mem://hidden"]
"""
    )
    return config


class Updates:
    """A client's ``notifications/resources/updated``, awaitable by URI."""

    def __init__(self) -> None:
        self.uris: list[str] = []
        self._changed = anyio.Event()

    async def __call__(self, message: object) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            self.uris.append(message.params.uri)
            self._changed.set()
            self._changed = anyio.Event()

    async def wait_for(self, uri: str, count: int = 1) -> None:
        with anyio.fail_after(30):
            while self.uris.count(uri) < count:
                await self._changed.wait()


async def subscribed(client: Client, server: str) -> list[str]:
    """The URIs the upstream ``server`` says its handshake client subscribed to."""
    result = await client.call_tool(f"{server}__subscribed", {})
    return result.structured_content["result"]


async def until(check, what: str) -> None:
    with anyio.fail_after(30, shield=False):
        while not await check():
            await anyio.sleep(0.05)
    assert await check(), what


async def subscribe(client: Client, uri: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # removed at 2026-07-28; these clients are on the handshake
        await client.subscribe_resource(uri)


async def unsubscribe(client: Client, uri: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        await client.unsubscribe_resource(uri)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_completions_reach_the_right_upstream_with_names_mapped(gw, two_upstreams, mode):
    with gw.serve_http(two_upstreams) as (base, _):
        async with Client(f"{base}/mcp", mode=mode) as client:
            assert client.server_capabilities.completions is not None
            for server in ("legacy", "modern"):
                prompt = types.PromptReference(name=f"{server}__greet")
                names = await client.complete(prompt, {"name": "name", "value": "al"})
                assert names.completion.values == ["alice", "albert"]
                template = types.ResourceTemplateReference(uri=f"mcpconnect://{server}/mem://item/{{item_id}}")
                ids = await client.complete(template, {"name": "item_id", "value": "1"})
                assert ids.completion.values == ["1", "12"]
            with pytest.raises(MCPError, match="Unknown prompt: nobody__greet"):
                await client.complete(types.PromptReference(name="nobody__greet"), {"name": "name", "value": ""})
            hidden = types.ResourceTemplateReference(uri="mcpconnect://modern/mem://hidden")
            with pytest.raises(MCPError, match="Unknown resource"):
                await client.complete(hidden, {"name": "x", "value": ""})


async def test_handshake_subscriptions_are_counted_across_clients(gw, two_upstreams):
    uri = GREETING.format(server="legacy")
    first_updates, second_updates = Updates(), Updates()
    with gw.serve_http(two_upstreams) as (base, _):
        async with Client(f"{base}/mcp", mode="legacy", message_handler=first_updates) as first:
            async with Client(f"{base}/mcp", mode="legacy", message_handler=second_updates) as second:
                assert first.server_capabilities.resources.subscribe
                await subscribe(first, uri)
                await subscribe(second, uri)
                assert await subscribed(first, "legacy") == ["mem://greeting"]  # once upstream, for both

                await first.call_tool("legacy__touch", {"uri": "mem://greeting"})
                await first_updates.wait_for(uri)
                await second_updates.wait_for(uri)

                await unsubscribe(first, uri)
                assert await subscribed(first, "legacy") == ["mem://greeting"]  # the second still holds it
                await first.call_tool("legacy__touch", {"uri": "mem://greeting"})
                await second_updates.wait_for(uri, 2)

                # The upstream reconnects (a crash, restarted by the hub): the subscription is made again.
                await first.call_tool("legacy__crash", {})

                async def renewed() -> bool:
                    try:
                        return await subscribed(first, "legacy") == ["mem://greeting"]
                    except MCPError:
                        return False

                await until(renewed, "the subscription renewed on the new connection")
                await first.call_tool("legacy__touch", {"uri": "mem://greeting"})
                await second_updates.wait_for(uri, 3)
                assert first_updates.uris == [uri]  # the first unsubscribed
            # The last holder went away without unsubscribing.

            async def released() -> bool:
                return await subscribed(first, "legacy") == []

            await until(released, "the upstream subscription dropped with its last client")


async def test_a_2026_upstream_is_subscribed_through_a_listen_stream(gw, two_upstreams):
    uri = GREETING.format(server="modern")
    updates = Updates()
    with gw.serve_http(two_upstreams) as (base, _):
        async with Client(f"{base}/mcp", mode="legacy", message_handler=updates) as client:
            await subscribe(client, uri)
            await client.call_tool("modern__touch", {"uri": "mem://greeting"})
            await updates.wait_for(uri)
            await client.call_tool("modern__touch", {"uri": "mem://item/7"})  # not subscribed: not sent
            await unsubscribe(client, uri)
            await client.call_tool("modern__touch", {"uri": "mem://greeting"})
            await client.call_tool("modern__touch", {"uri": "mem://greeting"})
            with pytest.raises(MCPError, match="Unknown resource"):
                await subscribe(client, "mcpconnect://modern/mem://hidden")  # filtered: unknown
        assert updates.uris == [uri]


async def test_a_2026_client_subscribes_on_its_listen_stream(gw, two_upstreams):
    with gw.serve_http(two_upstreams) as (base, _):
        async with Client(f"{base}/mcp") as client, Client(f"{base}/mcp", mode="legacy") as observer:
            assert client.protocol_version == "2026-07-28"
            uris = [GREETING.format(server="legacy"), GREETING.format(server="modern")]
            async with client.listen(resource_subscriptions=uris) as subscription:
                assert await subscribed(observer, "legacy") == ["mem://greeting"]
                seen = []
                for server in ("legacy", "modern"):
                    await observer.call_tool(f"{server}__touch", {"uri": "mem://greeting"})
                    with anyio.fail_after(30):
                        event = await subscription.__anext__()
                    seen.append(event.uri)
                assert seen == uris

            async def released() -> bool:
                return await subscribed(observer, "legacy") == []

            await until(released, "the stream's subscriptions dropped when it closed")


async def test_a_2026_upstream_subscription_is_renewed_after_it_reconnects(gw, two_upstreams):
    """A 2026-07-28 upstream is subscribed with a listen stream, which ends with its connection:
    after the hub reconnects it, the gateway opens one again and updates flow as before."""
    uri = GREETING.format(server="modern")
    updates = Updates()
    with gw.serve_http(two_upstreams) as (base, _):
        async with Client(f"{base}/mcp", mode="legacy", message_handler=updates) as client:
            await subscribe(client, uri)
            await client.call_tool("modern__touch", {"uri": "mem://greeting"})
            await updates.wait_for(uri)
            first_pid = (await client.call_tool("modern__pid", {})).structured_content["result"]

            await client.call_tool("modern__crash", {})  # restarted by the hub on a new connection

            async def renewed() -> bool:
                # Touch until an update comes through the new connection's listen stream.
                try:
                    await client.call_tool("modern__touch", {"uri": "mem://greeting"})
                except MCPError:
                    return False
                with anyio.move_on_after(0.5):
                    await updates.wait_for(uri, 2)
                return updates.uris.count(uri) >= 2

            await until(renewed, "the listen stream reopened on the new connection")
            second_pid = (await client.call_tool("modern__pid", {})).structured_content["result"]
            assert second_pid != first_pid  # it was a new upstream process
