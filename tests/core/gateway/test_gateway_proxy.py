"""``mcpconnect proxy NAME|URL``: one server on stdio with its names unchanged, the drop-in for
``npx mcp-remote URL``; instances share the token store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

from mcpconnect.testing._transport_contract import free_port, http_server

PROTECTED = Path(__file__).resolve().parents[3] / "examples" / "protected" / "protected_server.py"


def proxy_client(gw, config, target):
    argv = ["--config", str(config), "proxy", target]
    return Client(StdioServerParameters(command=gw.MCPCONNECT, args=argv, env=dict(os.environ)))


async def test_proxy_to_a_url_keeps_every_name(gw, mcpconnect_isolated, streamable_url):
    config = mcpconnect_isolated / "mcpconnect.toml"
    config.write_text('[storage]\nbackend = "memory"\n')
    async with proxy_client(gw, config, streamable_url) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert {"echo", "secret_dump", "pid"} <= tools and not any("__" in t for t in tools)
        assert (await client.call_tool("echo", {"message": "bridged"})).content[0].text == "bridged"
        assert (await client.read_resource("mem://greeting")).contents[0].text == "hello from upstream"
        templates = (await client.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates] == ["mem://item/{item_id}", "mem://asked/{topic}"]
        linked = await client.call_tool("link", {})
        assert next(b for b in linked.content if b.type == "resource_link").uri == "mem://greeting"


async def test_proxy_to_a_configured_server_applies_its_filters(gw, three_upstreams):
    async with proxy_client(gw, three_upstreams, "remote") as client:
        assert {t.name for t in (await client.list_tools()).tools} == {"echo", "count"}


def test_proxy_to_nothing_known_is_a_usage_error(gw, three_upstreams):
    for target in ("nosuch", "ftp://example.com/mcp", "http://"):
        result = subprocess.run(
            [gw.MCPCONNECT, "--config", str(three_upstreams), "proxy", target],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 2 and "neither a configured server" in result.stderr, result.stderr
        assert "configured: local, remote, old, dead" in result.stderr


async def test_two_proxies_at_once_share_one_login(gw, mcpconnect_isolated):
    auth_port, mcp_port = free_port(), free_port()
    url = f"http://127.0.0.1:{mcp_port}/mcp"
    config = mcpconnect_isolated / "mcpconnect.toml"
    config.write_text(
        f'[storage]\nbackend = "sqlite"\npath = "{mcpconnect_isolated / "tokens.db"}"\n'
        f'[servers.protected]\nurl = "{url}"\ntransport = "streamable-http"\nauth = "mcp"\n'
    )
    argv = [sys.executable, str(PROTECTED), "--auth-port", str(auth_port), "--mcp-port", str(mcp_port)]
    with http_server(argv, mcp_port):
        headless = "servers.protected.options.headless_login=true"
        login = subprocess.run(
            [gw.MCPCONNECT, "--config", str(config), "--set", headless, "login", "protected"],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert login.returncode == 0, login.stderr
        answers = []

        async def one(target):
            async with proxy_client(gw, config, target) as client:
                answers.append((await client.call_tool("read_note", {})).content[0].text)

        async with anyio.create_task_group() as tg:
            tg.start_soon(one, "protected")
            tg.start_soon(one, url)  # the URL of a configured server is that server, with its login
        assert len(answers) == 2 and all("demo-user" in a for a in answers)
