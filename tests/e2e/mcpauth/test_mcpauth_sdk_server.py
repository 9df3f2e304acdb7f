"""MCP authorization end to end against the official SDK's authorization server and a protected
MCP server (examples/protected): login, a tool call, expiry and refresh, a server-side
revocation, logout with revocation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import mcpconnect
from mcpconnect.auth._mcp import MCPAuthorizer


def server_entry(url: str, **options: object) -> dict:
    return {"url": url, "transport": "streamable-http", "auth": "mcp", "options": {"headless_login": True, **options}}


async def test_login_then_call_a_tool_on_the_protected_server(protected, make_runtime):
    async with protected.running() as run:
        runtime = make_runtime({"notes": server_entry(run.mcp_url)})
        token = await MCPAuthorizer("notes", runtime.config.servers["notes"], runtime).login()
        assert token.resource == run.mcp_url
        assert token.issuer == run.authority.issuer
        assert token.refresh_token is not None
        assert run.authority.requests == {"register": 1, "authorize": 1, "token": 1}
        # the registration is kept per issuer, for the next login and for refreshes
        registration = await runtime.store().get_registration(run.authority.issuer)
        assert registration is not None and registration["how"] == "dynamic"
        async with mcpconnect.connect(runtime, cache=False, reconnect=False, health_interval=None) as hub:
            assert hub.servers["notes"].ok, hub.servers["notes"].error
            result = await hub.call_tool("notes", "read_note", {"name": "todo"})
        assert result.content[0].text == "note 'todo' of demo-user: the protected server answered"
        # the stored token served the connection: no second login
        assert run.authority.requests["authorize"] == 1


async def test_first_connection_logs_in_on_the_401(protected, make_runtime):
    async with protected.running() as run:
        runtime = make_runtime({"notes": server_entry(run.mcp_url)})
        async with mcpconnect.connect(runtime, cache=False, reconnect=False, health_interval=None) as hub:
            assert hub.servers["notes"].ok, hub.servers["notes"].error
            result = await hub.call_tool("notes", "read_note", {})
        assert "demo-user" in result.content[0].text
        stored = await runtime.store().list("notes")
        assert [s.token.resource for s in stored] == [run.mcp_url]


async def test_an_expired_token_is_refreshed_before_use(protected, make_runtime):
    async with protected.running() as run:
        runtime = make_runtime({"notes": server_entry(run.mcp_url)})
        first = await MCPAuthorizer("notes", runtime.config.servers["notes"], runtime).login()
        store = runtime.store()
        await store.put(first.model_copy(update={"expires_at": datetime.now(UTC) - timedelta(seconds=5)}))
        # a new authorizer, as in a new process: metadata and registration come back from the store
        async with mcpconnect.connect(runtime, cache=False, reconnect=False, health_interval=None) as hub:
            assert hub.servers["notes"].ok, hub.servers["notes"].error
            await hub.call_tool("notes", "read_note", {})
        assert run.authority.requests["refresh"] == 1
        assert run.authority.requests["authorize"] == 1
        (latest,) = await store.list("notes")
        assert latest.token.access_token.get_secret_value() != first.access_token.get_secret_value()
        assert not latest.token.is_expiring()


async def test_a_token_revoked_at_the_server_is_refreshed_on_the_401(protected, make_runtime):
    async with protected.running() as run:
        runtime = make_runtime({"notes": server_entry(run.mcp_url)})
        first = await MCPAuthorizer("notes", runtime.config.servers["notes"], runtime).login()
        run.authority.access.clear()  # the server forgets every access token, keeps refresh tokens
        async with mcpconnect.connect(runtime, cache=False, reconnect=False, health_interval=None) as hub:
            assert hub.servers["notes"].ok, hub.servers["notes"].error
            await hub.call_tool("notes", "read_note", {})
        assert run.authority.requests["refresh"] == 1
        assert run.authority.requests["authorize"] == 1
        (latest,) = await runtime.store().list("notes")
        assert latest.token.access_token.get_secret_value() != first.access_token.get_secret_value()


async def test_logout_revokes_at_the_authorization_server(protected, make_runtime):
    async with protected.running() as run:
        runtime = make_runtime({"notes": server_entry(run.mcp_url)})
        authorizer = MCPAuthorizer("notes", runtime.config.servers["notes"], runtime)
        token = await authorizer.login()
        assert await run.authority.load_access_token(token.access_token.get_secret_value()) is not None
        result = await MCPAuthorizer("notes", runtime.config.servers["notes"], runtime).logout()
        assert result.remote is True and result.warning is None
        assert run.authority.requests["revoke"] >= 1
        assert await run.authority.load_access_token(token.access_token.get_secret_value()) is None
        assert await runtime.store().list("notes") == []


async def test_without_a_login_handler_the_error_says_what_to_run(protected, make_runtime):
    async with protected.running() as run:
        runtime = make_runtime({"notes": {"url": run.mcp_url, "transport": "streamable-http", "auth": "mcp"}})
        async with mcpconnect.connect(runtime, cache=False, reconnect=False, health_interval=None) as hub:
            status = hub.servers["notes"]
        assert not status.ok
        assert "run 'mcpconnect login notes'" in str(status.error)
        assert run.authority.requests.get("authorize", 0) == 0
