"""@modelcontextprotocol/server-everything (npm) over stdio, SSE and streamable HTTP."""

import os
from pathlib import Path

import pytest

import mcpconnect
from mcpconnect.testing._transport_contract import free_port, http_server

pytestmark = pytest.mark.node

NODE_MODULES = Path(__file__).resolve().parents[2] / "node" / "node_modules"
NODE = NODE_MODULES / ".bin" / "node"
EVERYTHING = NODE_MODULES / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
LOOPBACK = str(Path(__file__).with_name("loopback.mjs"))


def everything(transport: str) -> list[str]:
    return [str(NODE), "--import", LOOPBACK, str(EVERYTHING), transport]


@pytest.fixture(scope="module")
def node_peers():
    if not (NODE.exists() and EVERYTHING.exists()):
        if os.environ.get("CI") == "true":
            pytest.fail("the npm peers are missing; run bash tests/node/install.sh")
        pytest.skip("the npm peers are not installed (bash tests/node/install.sh)")


@pytest.fixture(scope="module")
def everything_http(node_peers):
    port = free_port()
    with http_server(everything("streamableHttp"), port, env={"PORT": str(port)}):
        yield f"http://127.0.0.1:{port}/mcp"


@pytest.fixture(scope="module")
def everything_sse(node_peers):
    port = free_port()
    with http_server(everything("sse"), port, env={"PORT": str(port)}):
        yield f"http://127.0.0.1:{port}/sse"


async def test_everything_server_on_every_transport(mcpconnect_isolated, everything_http, everything_sse):
    command, *args = everything("stdio")
    config = {
        "servers": {
            "stdio": {"command": command, "args": args},
            "http": {"url": everything_http, "transport": "streamable-http"},
            "sse": {"url": everything_sse, "transport": "sse"},
        }
    }
    async with mcpconnect.connect(config, cache=False) as hub:
        for name in config["servers"]:
            status = hub.servers[name]
            assert status.ok, status.error
            assert status.server_name == "mcp-servers/everything"
            tools = {t.name for t in await hub.list_tools(name)}
            assert {"echo", "get-sum"} <= tools
            echoed = await hub.call_tool(name, "echo", {"message": f"via {name}"})
            assert echoed.content[0].text == f"Echo: via {name}"
            resource = await hub.read_resource(name, "demo://resource/static/document/features.md")
            assert resource.contents[0].text.strip()
            prompt = await hub.get_prompt(name, "args-prompt", {"city": "Lyon", "state": "Rhone"})
            assert "Lyon" in prompt.messages[0].content.text
