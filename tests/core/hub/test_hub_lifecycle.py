"""The hub against real stdio servers: isolation of failures, restarts, timeouts, shutdown."""

import os

import anyio
import pytest

import mcpconnect
from mcpconnect._servers import ServerState
from mcpconnect.errors import TransportError


async def test_failures_are_isolated_and_explained(hub_env, helpers):
    before = helpers.children()
    config = {
        "servers": {
            "good": helpers.stdio(),
            "exits": helpers.stdio("exit-at-start"),
            "hangs": helpers.stdio("hang-at-start", timeout=1.5),
            "garbage": helpers.stdio("garbage", timeout=1.5),
            "bigline": helpers.stdio("big-line", timeout=10),
            "missing": {"command": "no-such-command-mcpconnect"},
        }
    }
    async with mcpconnect.connect(config, reconnect=False, cache=False) as hub:
        servers = hub.servers
        assert servers["good"].state is ServerState.READY
        assert servers["good"].tools == 7
        assert "exited with code 3" in servers["exits"].error
        assert "cannot open database /nowhere/db.sqlite" in servers["exits"].error
        assert "timeout" in servers["hangs"].error
        assert "faulty: hanging" in servers["hangs"].error
        assert "not JSON-RPC" in servers["garbage"].error
        assert "longer than" in servers["bigline"].error
        assert "no-such-command-mcpconnect" in servers["missing"].error
        assert "was not found on PATH" in servers["missing"].error
        result = await hub.call_tool("good", "echo", {"message": "still fine"})
        assert result.content[0].text == "still fine"
        with pytest.raises(TransportError, match="exited with code 3"):
            await hub.call_tool("exits", "echo", {"message": "x"})
    assert helpers.children() - before == set()


async def test_crash_mid_call_fails_clearly_and_the_next_call_works(hub_env, helpers):
    events = []

    class Observer:
        @mcpconnect.hookimpl
        def on_server_restarted(self, server, attempt):
            events.append((server, attempt))

    from mcpconnect._plugins import PluginHost

    host = PluginHost.from_env()
    host.pm.register(Observer())
    async with mcpconnect.connect({"servers": {"s": helpers.stdio()}}, host=host, cache=False) as hub:
        first_pid = (await hub.call_tool("s", "pid")).structured_content["result"]
        with pytest.raises(TransportError) as caught:
            await hub.call_tool("s", "crash")
        assert "exited with code 7" in str(caught.value)
        assert "faulty: crashing now" in str(caught.value)
        result = await hub.call_tool("s", "echo", {"message": "back"})
        assert result.content[0].text == "back"
        second_pid = (await hub.call_tool("s", "pid")).structured_content["result"]
        assert second_pid != first_pid
        assert hub.servers["s"].restarts == 1
    assert events == [("s", 1)]


async def test_a_hanging_call_times_out_and_others_work(hub_env, helpers):
    config = {"servers": {"s": helpers.stdio(), "other": helpers.stdio()}}
    async with mcpconnect.connect(config, cache=False) as hub:
        with pytest.raises(TransportError, match="timed out"):
            await hub.call_tool("s", "hang", read_timeout=1.0)
        assert (await hub.call_tool("s", "echo", {"message": "ok"})).content[0].text == "ok"
        assert (await hub.call_tool("other", "echo", {"message": "ok"})).content[0].text == "ok"


async def test_shutdown_leaves_no_process_behind(hub_env, helpers):
    before = helpers.children()
    async with mcpconnect.connect({"servers": {"s": helpers.stdio(), "t": helpers.stdio()}}, cache=False) as hub:
        grandchild = (await hub.call_tool("s", "spawn_child")).structured_content["result"]
        assert helpers.alive(grandchild)
        assert len(helpers.children() - before) == 2
    assert helpers.children() - before == set()
    with anyio.move_on_after(5):
        while helpers.alive(grandchild):
            await anyio.sleep(0.05)
    assert not helpers.alive(grandchild)


@pytest.mark.parametrize("inherit", [True, False])
async def test_environment_inheritance(hub_env, helpers, monkeypatch, inherit):
    monkeypatch.setenv("MCPC_PARENT_VAR", "from-parent")
    config = {"servers": {"s": helpers.stdio(env={"MCPC_OWN": "own"}, inherit_env=inherit)}}
    async with mcpconnect.connect(config, cache=False) as hub:
        parent = (await hub.call_tool("s", "env", {"name": "MCPC_PARENT_VAR"})).content[0].text
        own = (await hub.call_tool("s", "env", {"name": "MCPC_OWN"})).content[0].text
    assert own == "own"
    assert parent == ("from-parent" if inherit else "<unset>")


async def test_stderr_log_is_bounded_and_on_disk(hub_env, helpers):
    from mcpconnect.transport import LOG_BYTES, ServerLog, server_log_path

    async with mcpconnect.connect({"servers": {"x": helpers.stdio("exit-at-start")}}, reconnect=False) as hub:
        assert hub.servers["x"].state is ServerState.FAILED
    text = server_log_path("x").read_text()
    assert "cannot open database" in text
    log = ServerLog("bounded", lines=5)
    for i in range(20000):
        log.write(f"line {i} " + "y" * 40)
    assert log.tail(100) == [f"line {i} " + "y" * 40 for i in range(19995, 20000)]
    assert log.path.stat().st_size <= LOG_BYTES
    assert log.path.read_text().splitlines()[-1].startswith("line 19999 ")


async def test_unknown_server_and_namespacing(hub_env, helpers):
    config = {"servers": {"a": helpers.stdio(), "a__b": helpers.stdio()}}
    async with mcpconnect.connect(config, cache=False) as hub:
        names = [t.qualified_name for t in await hub.list_tools()]
        assert "a__echo" in names
        assert "a__b__echo" in names
        assert hub.resolve("a__b__echo") == ("a__b", "echo")
        assert hub.resolve("a__echo") == ("a", "echo")
        with pytest.raises(TransportError, match="no server named 'zzz'"):
            await hub.call_tool("zzz", "echo", {})
    assert os.environ.get("XDG_CACHE_HOME")


async def test_errors_in_the_block_reach_the_caller_unwrapped_and_hooks_fire(hub_env, helpers):
    seen = []

    class Observer:
        @mcpconnect.hookimpl
        def on_server_connected(self, server, transport, protocol_version):
            seen.append(("connected", server, transport, protocol_version))

        @mcpconnect.hookimpl
        def on_server_failed(self, server, error):
            seen.append(("failed", server, type(error).__name__))

    from mcpconnect._plugins import PluginHost

    host = PluginHost.from_env()
    host.pm.register(Observer())
    config = {"servers": {"ok": helpers.stdio(), "bad": helpers.stdio("exit-at-start")}}
    with pytest.raises(TransportError, match="server 'bad'"):
        async with mcpconnect.connect(config, host=host, reconnect=False, cache=False) as hub:
            await hub.call_tool("bad", "echo", {"message": "x"})
    assert ("connected", "ok", "stdio", "2026-07-28") in seen
    assert ("failed", "bad", "TransportError") in seen


async def test_token_to_env_hands_the_api_token_to_the_process(hub_env, helpers, monkeypatch):
    monkeypatch.setenv("MCPC_API_TOKEN", "tok-0123456789abcdef")
    config = {
        "servers": {
            "s": helpers.stdio(
                auth="token", token_env="MCPC_API_TOKEN", token_to_env="SERVICE_TOKEN", inherit_env=False
            )
        }
    }
    async with mcpconnect.connect(config, cache=False) as hub:
        seen = (await hub.call_tool("s", "env", {"name": "SERVICE_TOKEN"})).content[0].text
        assert seen == "tok-0123456789abcdef"
        assert "tok-0123456789abcdef" not in repr(hub.connection("s")._context)
