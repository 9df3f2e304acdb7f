"""Upstream authentication stays mcpconnect's: a logged-out upstream fails its calls with the
command to run, the others keep serving, and after ``mcpconnect login`` in another process the
running gateway reconnects it with the stored token."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
from mcp import Client

from mcpconnect.testing._transport_contract import free_port, http_server

PROTECTED = Path(__file__).resolve().parents[3] / "examples" / "protected" / "protected_server.py"


async def test_logged_out_upstream_says_what_to_run_and_comes_back_after_login(gw, mcpconnect_isolated):
    auth_port, mcp_port = free_port(), free_port()
    config = mcpconnect_isolated / "mcpconnect.toml"
    config.write_text(
        f'[storage]\nbackend = "sqlite"\npath = "{mcpconnect_isolated / "tokens.db"}"\n'
        f'[servers.local]\ncommand = "{sys.executable}"\nargs = ["{gw.UPSTREAM}"]\n'
        f'[servers.protected]\nurl = "http://127.0.0.1:{mcp_port}/mcp"\ntransport = "streamable-http"\n'
        'auth = "mcp"\n'
    )
    argv = [sys.executable, str(PROTECTED), "--auth-port", str(auth_port), "--mcp-port", str(mcp_port)]
    with http_server(argv, mcp_port), gw.serve_http(config) as (base, _):
        async with Client(f"{base}/mcp") as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            assert "local__echo" in tools and not any(t.startswith("protected__") for t in tools)
            refused = await client.call_tool("protected__read_note", {})
            assert refused.is_error and "run 'mcpconnect login protected'" in refused.content[0].text
            assert (await client.call_tool("local__echo", {"message": "fine"})).content[0].text == "fine"

            # The demo authorization server approves at once: follow its login without a browser.
            headless = "servers.protected.options.headless_login=true"
            login = subprocess.run(
                [gw.MCPCONNECT, "--config", str(config), "--set", headless, "login", "protected"],
                capture_output=True,
                text=True,
                timeout=120,
                stdin=subprocess.DEVNULL,
            )
            assert login.returncode == 0, login.stderr
            gw.wait_until(lambda: httpx.get(f"{base}/healthz").json()["ready"] == 2, what="protected ready", within=60)
            note = await client.call_tool("protected__read_note", {})
            assert not note.is_error and "demo-user" in note.content[0].text
