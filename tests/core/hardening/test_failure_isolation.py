"""One server's or provider's failure never hides another's: a bug in a plugin (not an
mcpconnect error) fails that server or provider alone, and ``check`` reports every result."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

import mcpconnect
from mcpconnect._config import load_config
from mcpconnect._plugins import PluginHost
from mcpconnect._runtime import Runtime
from mcpconnect.storage._memory import MemoryBackend

FAULTY = str(Path(__file__).resolve().parents[1] / "hub" / "faulty_server.py")


class BrokenStore(MemoryBackend):
    """A store plugin with a bug: listing raises a plain RuntimeError."""

    name = "broken"

    async def list(self, namespace: str) -> Any:
        raise RuntimeError("store plugin bug")


class BrokenStorePlugin:
    @mcpconnect.hookimpl
    def register_token_stores(self, register: Any) -> None:
        register("broken", BrokenStore, description="raises")


@pytest.fixture
def runtime(mcpconnect_isolated: Path) -> Runtime:
    path = mcpconnect_isolated / "mcpconnect.toml"
    path.write_text(
        f"""
[storage]
backend = "broken"

[providers.gh]
type = "github"
client_id = "cid"

[servers.good]
command = {json.dumps(sys.executable)}
args = [{json.dumps(FAULTY)}, "serve"]

[servers.needs-a-token]
url = "https://127.0.0.1:1/mcp"
auth = "provider:gh"
"""
    )
    host = PluginHost.from_env()
    host.register_plugin(BrokenStorePlugin(), kind="store", name="broken")
    return Runtime(load_config(path), host)


async def test_a_plugin_bug_fails_one_server_and_the_others_connect(runtime: Runtime) -> None:
    async with mcpconnect.connect(runtime, health_interval=None, reconnect=False) as hub:
        good, bad = hub.servers["good"], hub.servers["needs-a-token"]
        assert good.ok, good.error
        assert not bad.ok and bad.error is not None
        assert "server 'needs-a-token'" in bad.error and "store plugin bug" in bad.error
        assert (await hub.call_tool("good", "echo", {"message": "still here"})) is not None


async def test_check_reports_every_provider_and_server(runtime: Runtime) -> None:
    from mcpconnect._cli.check_cmd import check_providers

    providers = await check_providers(runtime, ["gh"])
    assert providers[0]["name"] == "gh" and not providers[0]["ok"]
    assert "store plugin bug" in providers[0]["problem"]
