"""The SDK's client against ``mcpconnect serve`` (stdio and streamable HTTP) in front of a stdio,
a streamable-HTTP and an SSE upstream, with filters, and a dead upstream beside them."""

from __future__ import annotations

import os

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError


def stdio_client(gw, config, *args, mode="auto", **kwargs):
    params = StdioServerParameters(command=gw.MCPCONNECT, args=gw.serve_argv(config, *args)[1:], env=dict(os.environ))
    return Client(params, mode=mode, **kwargs)


def texts(result):
    return [block.text for block in result.content if getattr(block, "text", None) is not None]


async def exercise(client):
    """What every client of the gateway sees, whatever transport or protocol era it speaks."""
    tools = {t.name for t in (await client.list_tools()).tools}
    for server in ("local", "old"):
        assert {f"{server}__echo", f"{server}__count", f"{server}__add_tool", f"{server}__link"} <= tools
    assert "old__secret_dump" in tools  # no filter on old
    assert "local__secret_dump" not in tools  # deny = ["secret_*"]
    assert {t for t in tools if t.startswith("remote__")} == {"remote__echo", "remote__count"}  # allow
    assert not any(t.startswith("dead__") for t in tools)

    for server in ("local", "remote", "old"):
        result = await client.call_tool(f"{server}__echo", {"message": f"via {server}"})
        assert texts(result) == [f"via {server}"] and not result.is_error

    # Filtered names are unknown, exactly as names that exist nowhere are.
    unknown = ("local__secret_dump", "remote__pid", "remote__secret_dump", "nowhere__echo", "echo", "local__")
    for name in (*unknown, "local__no_such_tool"):
        with pytest.raises(MCPError, match="Unknown tool"):
            await client.call_tool(name, {})

    # A dead upstream fails its own calls with the reason, and nothing else.
    dead = await client.call_tool("dead__echo", {"message": "x"})
    assert dead.is_error and "mcpconnect-no-such-server-command" in texts(dead)[0]
    assert "was not found on PATH" in texts(dead)[0]

    resources = {r.uri for r in (await client.list_resources()).resources}
    assert "mcpconnect://local/mem://greeting" in resources and "mcpconnect://old/mem://hidden" in resources
    assert "mcpconnect://local/mem://hidden" not in resources
    read = await client.read_resource("mcpconnect://local/mem://greeting")
    assert read.contents[0].text == "hello from upstream"
    assert read.contents[0].uri == "mcpconnect://local/mem://greeting"
    for uri in ("mcpconnect://local/mem://hidden", "mem://greeting", "mcpconnect://nowhere/mem://greeting"):
        with pytest.raises(MCPError, match="Unknown resource"):
            await client.read_resource(uri)

    # The upstream's own error passes through, the URI in its data in the gateway's form (SEP-2164).
    with pytest.raises(MCPError) as caught:
        await client.read_resource("mcpconnect://old/mem://nope")
    assert caught.value.code == -32602 and caught.value.data == {"uri": "mcpconnect://old/mem://nope"}

    templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
    assert "mcpconnect://remote/mem://item/{item_id}" in templates
    assert (await client.read_resource("mcpconnect://remote/mem://item/42")).contents[0].text == "item 42"

    prompts = {p.name for p in (await client.list_prompts()).prompts}
    assert {"local__greet", "old__greet"} <= prompts and "remote__greet" not in prompts  # allow = []
    prompt = await client.get_prompt("local__greet", {"name": "Ada"})
    assert "Say hello to Ada." in prompt.messages[0].content.text
    with pytest.raises(MCPError, match="Unknown prompt"):
        await client.get_prompt("remote__greet", {"name": "Ada"})

    # A resource link in a tool result points back through the gateway.
    linked = await client.call_tool("old__link", {})
    link = next(b for b in linked.content if b.type == "resource_link")
    assert link.uri == "mcpconnect://old/mem://greeting"
    assert (await client.read_resource(link.uri)).contents[0].text == "hello from upstream"

    progress = []

    async def on_progress(value, total, message):
        progress.append((value, total, message))

    counted = await client.call_tool("local__count", {"steps": 3}, progress_callback=on_progress)
    assert texts(counted) == ["counted 3"]
    assert [p[0] for p in progress] == [1, 2, 3] and progress[-1][2] == "step 3"


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_stdio_client_through_serve(gw, three_upstreams, mode):
    async with stdio_client(gw, three_upstreams, mode=mode) as client:
        assert client.server_info.name == "mcpconnect"
        await exercise(client)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_http_client_through_serve(gw, three_upstreams, mode):
    with gw.serve_http(three_upstreams) as (base, _):
        health = httpx.get(f"{base}/healthz").json()
        assert health == {"status": "ok", "servers": 4, "ready": 3, "per_user": 0}
        async with Client(f"{base}/mcp", mode=mode) as client:
            await exercise(client)


async def test_no_prefix_serves_one_server_unchanged(gw, three_upstreams):
    async with stdio_client(gw, three_upstreams, "local", "--no-prefix") as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert "echo" in tools and "secret_dump" not in tools and not any("__" in t for t in tools)
        assert texts(await client.call_tool("echo", {"message": "plain"})) == ["plain"]
        resources = {r.uri for r in (await client.list_resources()).resources}
        assert resources == {"mem://greeting"}
        assert (await client.read_resource("mem://greeting")).contents[0].text == "hello from upstream"
        with pytest.raises(MCPError, match="Unknown tool"):
            await client.call_tool("secret_dump", {})


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_list_changed_from_an_upstream_reaches_the_client(gw, three_upstreams, mode):
    changed = anyio.Event()
    announced: list[object] = []

    async def on_message(message):
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            announced.append(message)
            changed.set()

    async with stdio_client(gw, three_upstreams, "local", "old", mode=mode, message_handler=on_message) as client:
        before = {t.name for t in (await client.list_tools()).tools}
        assert "local__fresh" not in before

        async def listed() -> set[str]:
            return {t.name for t in (await client.list_tools(cache_mode="bypass")).tools}

        async def wait_for_change():
            # A change of another cause (a server coming up late on a loaded machine) may be
            # announced first: wait for the announcement after which the new tool is listed.
            nonlocal changed
            if client.protocol_version == "2026-07-28":
                async with client.listen(tools_list_changed=True) as subscription:
                    await client.call_tool("local__add_tool", {"name": "fresh"})
                    async for _ in subscription:
                        if "local__fresh" in await listed():
                            return
            else:
                changed = anyio.Event()
                count = len(announced)
                await client.call_tool("local__add_tool", {"name": "fresh"})
                while True:
                    with anyio.move_on_after(1):  # or look again: the list may lag its notification
                        await changed.wait()
                    changed = anyio.Event()
                    if len(announced) > count and "local__fresh" in await listed():
                        return

        with anyio.fail_after(30):
            await wait_for_change()
        after = await listed()
        assert after - before == {"local__fresh"}
        assert texts(await client.call_tool("local__fresh", {})) == ["fresh ran"]


async def test_pagination_on_both_sides(gw, mcpconnect_isolated):
    import sys

    config = mcpconnect_isolated / "mcpconnect.toml"
    config.write_text(
        f'[storage]\nbackend = "memory"\n[servers.many]\ncommand = "{sys.executable}"\n'
        f'args = ["{gw.UPSTREAM}", "--extra-tools", "250"]\n'
    )
    async with stdio_client(gw, config) as client:
        names, cursor, pages = [], None, 0
        while True:
            page = await client.list_tools(cursor=cursor)
            names += [t.name for t in page.tools]
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
        assert pages == 3 and len(names) == len(set(names)) > 250
        assert {f"many__extra_{n:03d}" for n in range(250)} <= set(names)
        for bad in ("not-a-cursor", "-1", "100000"):
            with pytest.raises(MCPError, match="Invalid cursor"):
                await client.list_tools(cursor=bad)


def test_allow_patterns_that_match_nothing_are_reported(gw, mcpconnect_isolated):
    import signal
    import subprocess
    import sys

    from mcpconnect.testing._transport_contract import free_port

    config = mcpconnect_isolated / "mcpconnect.toml"
    config.write_text(
        f'[storage]\nbackend = "memory"\n[servers.local]\ncommand = "{sys.executable}"\nargs = ["{gw.UPSTREAM}"]\n'
        '[servers.local.tools]\nallow = ["echo", "ecko", "add_*"]\n'
    )
    port = free_port()
    argv = gw.serve_argv(config, "--transport", "http", "--port", str(port))
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        gw.wait_until(lambda: _status(port) == "ok", what="serve ready")
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "warning: servers.local.tools.allow: 'ecko' matches no tool of local" in err
    assert "'echo'" not in err and "'add_*'" not in err
    assert "local: ready (stdio, " in err and "serving 1 server(s) at http://127.0.0.1:" in err


def _status(port):
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()["status"]
    except httpx.HTTPError:
        return None


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_client_cancel_reaches_the_upstream_call(gw, three_upstreams, mode, tmp_path):
    marker = tmp_path / "cancelled"
    started = tmp_path / "cancelled.started"
    async with stdio_client(gw, three_upstreams, "local", "remote", mode=mode) as client:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(lambda: client.call_tool("local__block", {"marker": str(marker)}))
            # Cancelled once the upstream is inside the call, however long the way there took.
            await anyio.to_thread.run_sync(lambda: gw.wait_until(started.exists, what="the upstream began the call"))
            tasks.cancel_scope.cancel()
        await anyio.to_thread.run_sync(lambda: gw.wait_until(marker.exists, what="the upstream saw the cancel"))
        assert marker.read_text() == "cancelled"
        # The connection is still good for the next call.
        assert texts(await client.call_tool("remote__echo", {"message": "after"})) == ["after"]


async def test_changes_still_arrive_after_an_upstream_restarts(gw, three_upstreams):
    changes = []
    changed = anyio.Event()

    async def on_message(message):
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            changes.append(message)
            changed.set()

    async with stdio_client(gw, three_upstreams, "local", mode="legacy", message_handler=on_message) as client:
        first = (await client.call_tool("local__pid", {})).structured_content["result"]
        crashed = await client.call_tool("local__crash", {})
        assert crashed.is_error
        # The restart itself is a change (the tools went and came back); wait for the new process.
        with anyio.fail_after(60):
            while True:
                result = await client.call_tool("local__pid", {})
                if not result.is_error and result.structured_content["result"] != first:
                    break
                await anyio.sleep(0.2)
        before = len(changes)
        await client.call_tool("local__add_tool", {"name": "after_restart"})
        # A late notification of the restart itself may come first: wait until a notification has
        # come since the tool was added and the list has it. The event is made anew before each
        # look, so that a notification arriving while the list is fetched is never missed.
        with anyio.fail_after(30):
            while True:
                changed = anyio.Event()
                if len(changes) > before and "local__after_restart" in {
                    t.name for t in (await client.list_tools()).tools
                }:
                    break
                with anyio.move_on_after(1):  # or look again: the list may lag its notification
                    await changed.wait()
