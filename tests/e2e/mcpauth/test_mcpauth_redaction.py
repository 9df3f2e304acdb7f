"""No secret of an MCP authorization login reaches the logs, even at DEBUG."""

from __future__ import annotations

import logging

import mcpconnect
from mcpconnect.auth._mcp import MCPAuthorizer


async def test_login_and_calls_log_no_secret(protected, make_runtime, caplog):
    caplog.set_level(logging.DEBUG)
    async with protected.running() as run:
        entry = {"url": run.mcp_url, "transport": "streamable-http", "auth": "mcp", "options": {"headless_login": True}}
        runtime = make_runtime({"notes": entry})
        token = await MCPAuthorizer("notes", runtime.config.servers["notes"], runtime).login()
        async with mcpconnect.connect(runtime, cache=False, reconnect=False, health_interval=None) as hub:
            await hub.call_tool("notes", "read_note", {})
        (client,) = run.authority.clients.values()
        secrets = [token.access_token.get_secret_value(), client.client_secret]
        assert token.refresh_token is not None
        secrets.append(token.refresh_token.get_secret_value())
    logged = "\n".join(
        r.getMessage() for r in caplog.records if r.name.split(".")[0] in {"mcpconnect", "httpx", "httpcore", "mcp"}
    )
    assert "notes" in logged  # the logs were captured at all
    for secret in secrets:
        assert secret and secret not in logged
