"""The discovery cache, tools/list_changed, and background health checks."""

import json
import os
import signal
import time

import anyio

import mcpconnect
from mcpconnect._servers.cache import DiscoveryCache, cache_key


async def test_discovery_is_cached_keyed_by_config_and_refreshable(hub_env, helpers):
    config = {"servers": {"s": helpers.stdio()}}
    async with mcpconnect.connect(config) as hub:
        assert hub.servers["s"].tools == 7
    from mcpconnect._config import ServerConfig

    server = ServerConfig.model_validate(helpers.stdio())
    cache = DiscoveryCache()
    entry = cache.get(cache_key("s", server))
    assert entry is not None
    assert {t["name"] for t in entry["tools"]} >= {"echo", "crash", "grow"}
    assert entry["server_info"]["name"] == "faulty"

    # A cached listing is what the hub serves: doctor it, and the doctored listing comes back.
    path = cache.directory / f"{cache_key('s', server)}.json"
    data = json.loads(path.read_text())
    data["tools"] = [t for t in data["tools"] if t["name"] == "echo"]
    path.write_text(json.dumps(data))
    async with mcpconnect.connect(config) as hub:
        assert [t.name for t in await hub.list_tools("s")] == ["echo"]
    # --refresh bypasses it and rewrites it.
    async with mcpconnect.connect(config, refresh=True) as hub:
        assert hub.servers["s"].tools == 7
    assert len(cache.get(cache_key("s", server))["tools"]) == 7

    # Another configuration is another key.
    other = ServerConfig.model_validate(helpers.stdio(env={"X": "1"}))
    assert cache_key("s", other) != cache_key("s", server)
    assert cache.get(cache_key("s", other)) is None


def test_cache_entries_expire(hub_env, tmp_path):
    cache = DiscoveryCache(tmp_path, max_age=60)
    cache.put("k", {"tools": []})
    assert cache.get("k") is not None
    data = json.loads((tmp_path / "k.json").read_text())
    data["saved_at"] = time.time() - 61
    (tmp_path / "k.json").write_text(json.dumps(data))
    assert cache.get("k") is None
    cache.put("k", {"tools": []})
    cache.invalidate("k")
    assert cache.get("k") is None


async def test_tools_list_changed_invalidates_and_relists(hub_env, helpers):
    from mcpconnect._config import ServerConfig

    config = {"servers": {"s": helpers.stdio()}}
    key = cache_key("s", ServerConfig.model_validate(helpers.stdio()))
    async with mcpconnect.connect(config, protocol="legacy") as hub:
        assert DiscoveryCache().get(key) is not None
        added = (await hub.call_tool("s", "grow")).content[0].text
        with anyio.fail_after(10):
            while added not in {t.name for t in await hub.list_tools("s")}:
                await anyio.sleep(0.05)
        assert (await hub.call_tool("s", added)).content[0].text == added
    entry = DiscoveryCache().get(key)
    assert entry is not None
    assert added in {t["name"] for t in entry["tools"]}


async def test_health_check_restarts_a_stuck_server(hub_env, helpers):
    config = {"servers": {"s": helpers.stdio(timeout=3, options={"stop_timeout": 0.5})}}
    states = []
    async with mcpconnect.connect(
        config, health_interval=0.2, cache=False, on_state=lambda s: states.append(s.state.value)
    ) as hub:
        pid = (await hub.call_tool("s", "pid")).structured_content["result"]
        os.kill(pid, signal.SIGSTOP)  # alive but deaf: only a health check can tell
        with anyio.fail_after(30):
            while hub.servers["s"].restarts < 1:
                await anyio.sleep(0.05)
        assert "failed its health check" in (hub.servers["s"].error or "") or hub.servers["s"].ok
        new_pid = (await hub.call_tool("s", "pid")).structured_content["result"]
        assert new_pid != pid
    assert "restarting" in states
    assert not helpers.alive(pid)
