"""The SDK's own server over stdio, SSE and streamable HTTP, through the library API."""

import sys

import pytest

import mcpconnect
from mcpconnect.errors import TransportError
from mcpconnect.testing._transport_contract import free_port, http_server


@pytest.fixture
def servers(streamable_url, sse_url, notes_path):
    return {
        "stdio": {"command": sys.executable, "args": [notes_path]},
        "http": {"url": streamable_url, "transport": "streamable-http"},
        "sse": {"url": sse_url, "transport": "sse"},
    }


@pytest.mark.parametrize("protocol", ["auto", "legacy"])
async def test_tools_resources_prompts_on_every_transport(mcpconnect_isolated, servers, protocol):
    async with mcpconnect.connect({"servers": servers}, protocol=protocol, cache=False) as hub:
        for name in servers:
            status = hub.servers[name]
            assert status.ok, status.error
            assert status.transport == name if name != "http" else status.transport == "streamable-http"
            if protocol == "legacy":
                assert status.protocol_version != "2026-07-28"
            await hub.call_tool(name, "add_note", {"text": f"note via {name}"})
            echoed = await hub.call_tool(name, "echo", {"message": f"hello {name}"})
            assert echoed.content[0].text == f"hello {name}"
            resource = await hub.read_resource(name, "notes://all")
            assert f"note via {name}" in resource.contents[0].text
            prompt = await hub.get_prompt(name, "summarize", {"style": "terse"})
            assert "terse" in prompt.messages[0].content.text
        tools = {t.qualified_name for t in await hub.list_tools()}
        assert {"stdio__echo", "http__echo", "sse__echo"} <= tools


async def test_auto_falls_back_to_sse(mcpconnect_isolated, sse_url):
    async with mcpconnect.connect({"servers": {"s": {"url": sse_url}}}, cache=False) as hub:
        assert hub.servers["s"].ok, hub.servers["s"].error
        assert hub.servers["s"].transport == "sse"


async def test_auto_shows_both_causes(mcpconnect_isolated):
    url = f"http://127.0.0.1:{free_port()}/mcp"
    async with mcpconnect.connect({"servers": {"s": {"url": url}}}, reconnect=False) as hub:
        error = hub.servers["s"].error
    assert "streamable-http: connection refused" in error
    assert "sse: connection refused" in error


@pytest.mark.parametrize(
    ("status", "expected"),
    [(500, "HTTP 500 Internal Server Error"), (401, "HTTP 401 Unauthorized"), (404, "HTTP 404 Not Found")],
)
async def test_http_error_statuses(mcpconnect_isolated, status_server, streamable_url, status, expected):
    config = {
        "servers": {
            "bad": {"url": status_server(status), "transport": "streamable-http", "timeout": 10},
            "good": {"url": streamable_url, "transport": "streamable-http"},
        }
    }
    async with mcpconnect.connect(config, reconnect=False, cache=False) as hub:
        assert expected in hub.servers["bad"].error
        assert "server 'bad'" in hub.servers["bad"].error
        assert (await hub.call_tool("good", "echo", {"message": "x"})).content[0].text == "x"
        with pytest.raises(TransportError, match=expected):
            await hub.call_tool("bad", "echo", {"message": "x"})


_RESOLVE_PROBE = """
import asyncio, mcpconnect
async def main():
    config = {"servers": {"s": {"url": "http://mcpconnect-test.invalid/mcp", "transport": "streamable-http"}}}
    async with mcpconnect.connect(config, reconnect=False, cache=False) as hub:
        print(hub.servers["s"].error)
asyncio.run(main())
"""


def test_unresolvable_host(mcpconnect_isolated):
    # In a network namespace of its own, so the lookup cannot leave this machine.
    import shutil
    import subprocess
    import sys

    if shutil.which("unshare") is None or subprocess.run(["unshare", "-n", "true"], check=False).returncode:
        pytest.skip("needs 'unshare -n' (root or user namespaces) to keep the DNS lookup off the network")
    result = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", _RESOLVE_PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "server 's'" in result.stdout and "cannot be resolved" in result.stdout


async def test_session_terminated_is_reinitialized_once(mcpconnect_isolated, notes_argv):
    port = free_port()
    config = {"servers": {"s": {"url": f"http://127.0.0.1:{port}/mcp", "transport": "streamable-http"}}}
    restarted = []
    first = http_server(notes_argv("streamable-http", port), port)
    first.__enter__()
    try:
        async with mcpconnect.connect(config, protocol="legacy", cache=False, health_interval=None) as hub:
            hub.runtime.host.pm.register(_Restarted(restarted))
            assert (await hub.call_tool("s", "echo", {"message": "one"})).content[0].text == "one"
            first.__exit__(None, None, None)
            first = None
            # The restarted server knows no session: it answers 404 and the hub re-initializes.
            with http_server(notes_argv("streamable-http", port), port):
                result = await hub.call_tool("s", "echo", {"message": "two"})
                assert result.content[0].text == "two"
                assert hub.servers["s"].restarts == 1
    finally:
        if first is not None:
            first.__exit__(None, None, None)
    assert restarted == ["s"]


class _Restarted:
    def __init__(self, seen):
        self.seen = seen

    @mcpconnect.hookimpl
    def on_server_restarted(self, server, attempt):
        self.seen.append(server)


async def test_a_dropped_sse_stream_reconnects(mcpconnect_isolated, notes_argv):
    import anyio

    from mcpconnect._servers import ServerState

    port = free_port()
    config = {"servers": {"s": {"url": f"http://127.0.0.1:{port}/sse", "transport": "sse", "timeout": 10}}}
    first = http_server(notes_argv("sse", port), port)
    first.__enter__()
    try:
        async with mcpconnect.connect(config, cache=False, health_interval=None) as hub:
            assert (await hub.call_tool("s", "echo", {"message": "one"})).content[0].text == "one"
            first.__exit__(None, None, None)
            first = None
            with anyio.fail_after(10):
                while hub.servers["s"].state is ServerState.READY:
                    await anyio.sleep(0.05)
            assert "closed the connection" in (hub.servers["s"].error or "")
            with http_server(notes_argv("sse", port), port):
                with anyio.fail_after(30):
                    while not hub.servers["s"].ok:
                        await anyio.sleep(0.05)
                assert (await hub.call_tool("s", "echo", {"message": "two"})).content[0].text == "two"
                assert hub.servers["s"].restarts == 1
    finally:
        if first is not None:
            first.__exit__(None, None, None)


async def test_secrets_in_urls_and_headers_never_reach_errors(mcpconnect_isolated, status_server, monkeypatch):
    monkeypatch.setenv("MCPC_HEADER_SECRET", "hdr-secret-0123456789")
    bad = status_server(401).replace("http://", "http://user:url-password-0123@") + "?token=query-secret-0123"
    refused = f"http://user:url-password-0123@127.0.0.1:{free_port()}/mcp?token=query-secret-0123"
    config = {
        "servers": {
            "bad": {
                "url": bad,
                "transport": "streamable-http",
                "headers": {"Authorization": "Bearer ${MCPC_HEADER_SECRET}"},
            },
            "refused": {"url": refused},
        }
    }
    async with mcpconnect.connect(config, reconnect=False, cache=False) as hub:
        errors = " ".join(s.error or "" for s in hub.servers.values())
    assert "HTTP 401 Unauthorized" in errors
    assert "neither streamable HTTP nor SSE" in errors
    for secret in ("url-password-0123", "query-secret-0123", "hdr-secret-0123456789"):
        assert secret not in errors
