"""An upstream that needs a login: the tool error gives the exact command (``--device`` over SSH when
the provider has the device flow), and a client that declares URL-mode elicitation is asked to open
the login page instead, after which the gateway stores the token and retries the call.

The provider is tests/oidc's oidc-provider; the upstream is an SDK server admitting only its tokens;
the page is followed headlessly, as a person clicking "Allow" would."""

from __future__ import annotations

import sys
from pathlib import Path

import mcp_types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from mcpconnect.auth._headless import follow_authorization
from mcpconnect.testing._transport_contract import free_port, http_server

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "oidc"))

from oidc_fixtures import oidc_server, oidc_server_session  # noqa: F401

pytestmark = pytest.mark.node

PROTECTED = str(Path(__file__).with_name("protected_upstream.py"))


@pytest.fixture
def protected(gw, oidc_server, mcpconnect_isolated):  # noqa: F811
    """A project with the protected upstream behind provider 'local' (nobody logged in)."""
    port = free_port()
    config = mcpconnect_isolated / "mcpconnect.toml"
    config.write_text(
        f"""
[storage]
backend = "memory"

[providers.local]
type = "oidc"
issuer = "{oidc_server.issuer}"
client_id = "public-cli"
scopes = ["openid", "profile", "offline_access"]

[servers.local]
command = "{sys.executable}"
args = ["{gw.UPSTREAM}"]

[servers.protected]
url = "http://127.0.0.1:{port}/mcp"
transport = "streamable-http"
auth = "provider:local"
"""
    )
    with http_server([sys.executable, PROTECTED, "--issuer", oidc_server.issuer, "--port", str(port)], port):
        yield config


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_client_with_url_elicitation_logs_in_and_the_call_goes_through(gw, protected, mode):
    # legacy: the initialize handshake, asked on the request; auto: a 2026-07-28 client, asked in
    # an input_required round while the gateway holds the call and runs the login.
    asked: list[types.ElicitRequestURLParams] = []

    async def elicitation(context, params):
        asked.append(params)
        assert params.mode == "url"
        await follow_authorization(params.url)  # the person opens the page and approves
        return types.ElicitResult(action="accept")

    with gw.serve_http(protected) as (base, _):
        async with Client(f"{base}/mcp", mode=mode, elicitation_callback=elicitation) as client:
            assert (client.protocol_version == "2026-07-28") == (mode == "auto")
            result = await client.call_tool("protected__secret", {})
            assert not result.is_error, result.content[0].text
            assert result.content[0].text == "the protected tool ran"
            again = await client.call_tool("protected__secret", {})  # logged in: no second page
            assert again.content[0].text == "the protected tool ran"
    assert len(asked) == 1
    assert "'protected'" in asked[0].message and "'local'" in asked[0].message
    assert asked[0].url.startswith(protected.read_text().split('issuer = "')[1].split('"')[0])


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_declined_login_answers_with_the_command(gw, protected, mode):
    async def decline(context, params):
        return types.ElicitResult(action="decline")

    with gw.serve_http(protected) as (base, _):
        async with Client(f"{base}/mcp", mode=mode, elicitation_callback=decline) as client:
            result = await client.call_tool("protected__secret", {})
    text = result.content[0].text
    assert result.is_error and "run 'mcpconnect login local'" in text and "declined" in text


@pytest.mark.parametrize(
    ("env", "command"),
    [
        ({}, "'mcpconnect login local'"),
        ({"SSH_CONNECTION": "10.0.0.2 50000 10.0.0.1 22"}, "'mcpconnect login local --device'"),
    ],
)
async def test_without_url_elicitation_the_error_gives_the_exact_command(gw, protected, monkeypatch, env, command):
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    monkeypatch.delenv("SSH_TTY", raising=False)
    asked = []

    async def elicitation(context, params):
        asked.append(params)
        return types.ElicitResult(action="cancel")

    with gw.serve_http(protected, env=env) as (base, _):
        # No elicitation declared, on the handshake or on 2026-07-28: the command, nobody asked.
        for mode, callback in (("legacy", None), ("auto", None)):
            async with Client(f"{base}/mcp", mode=mode, elicitation_callback=callback) as client:
                result = await client.call_tool("protected__secret", {})
                assert result.is_error and command in result.content[0].text, result.content[0].text
                assert "did not complete" not in result.content[0].text
                assert (await client.call_tool("local__echo", {"message": "fine"})).content[0].text == "fine"
    assert asked == []


async def test_mcp_authorization_logs_in_through_the_client_too(gw, mcpconnect_isolated):
    """``auth = "mcp"``: the server's own authorization server, the login the CLI runs for it."""
    example = Path(__file__).resolve().parents[3] / "examples" / "protected" / "protected_server.py"
    auth_port, mcp_port = free_port(), free_port()
    config = mcpconnect_isolated / "mcpconnect.toml"
    config.write_text(
        f'[storage]\nbackend = "memory"\n'
        f'[servers.notes]\nurl = "http://127.0.0.1:{mcp_port}/mcp"\ntransport = "streamable-http"\nauth = "mcp"\n'
    )
    asked = []

    async def elicitation(context, params):
        asked.append(params.url)
        await follow_authorization(params.url)  # the demo authorization server approves at once
        return types.ElicitResult(action="accept")

    argv = [sys.executable, str(example), "--auth-port", str(auth_port), "--mcp-port", str(mcp_port)]
    env = {"SSH_CONNECTION": "10.0.0.2 50000 10.0.0.1 22"}  # no device flow for MCP authorization
    with http_server(argv, mcp_port), gw.serve_http(config, env=env) as (base, _):
        async with Client(f"{base}/mcp", mode="legacy") as plain:
            refused = await plain.call_tool("notes__read_note", {})
            assert refused.is_error and "'mcpconnect login notes'" in refused.content[0].text
        async with Client(f"{base}/mcp", mode="legacy", elicitation_callback=elicitation) as client:
            note = await client.call_tool("notes__read_note", {})
            assert not note.is_error and "demo-user" in note.content[0].text
    assert len(asked) == 1 and asked[0].startswith(f"http://127.0.0.1:{auth_port}/")


NOTES = "mcpconnect://protected/secret://notes"


@pytest.mark.parametrize(
    ("env", "command"),
    [
        ({}, "'mcpconnect login local'"),
        ({"SSH_CONNECTION": "10.0.0.2 50000 10.0.0.1 22"}, "'mcpconnect login local --device'"),
    ],
)
async def test_prompts_and_resources_give_the_exact_command_too(gw, protected, monkeypatch, env, command):
    """No tool error to carry it: the MCP error of ``prompts/get`` and ``resources/read`` says it."""
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    monkeypatch.delenv("SSH_TTY", raising=False)
    with gw.serve_http(protected, env=env) as (base, _):
        for mode in ("legacy", "auto"):
            async with Client(f"{base}/mcp", mode=mode) as client:
                with pytest.raises(MCPError) as prompt_error:
                    await client.get_prompt("protected__briefing")
                assert command in str(prompt_error.value), str(prompt_error.value)
                with pytest.raises(MCPError) as read_error:
                    await client.read_resource(NOTES)
                assert command in str(read_error.value), str(read_error.value)
                assert "server 'protected'" in str(read_error.value)
                greeting = await client.read_resource("mcpconnect://local/mem://greeting")
                assert greeting.contents[0].text == "hello from upstream"


async def test_a_prompt_or_a_resource_logs_in_through_the_client(gw, protected):
    asked: list[str] = []

    async def elicitation(context, params):
        asked.append(params.url)
        await follow_authorization(params.url)
        return types.ElicitResult(action="accept")

    with gw.serve_http(protected) as (base, _):
        async with Client(f"{base}/mcp", mode="legacy", elicitation_callback=elicitation) as client:
            prompt = await client.get_prompt("protected__briefing")
            assert prompt.messages[0].content.text == "the protected prompt"
            notes = await client.read_resource(NOTES)  # logged in: no second page
            assert notes.contents[0].text == "the protected notes"
            assert notes.contents[0].uri == NOTES
    assert len(asked) == 1


async def test_a_declined_login_for_a_resource_answers_with_the_command(gw, protected):
    async def decline(context, params):
        return types.ElicitResult(action="decline")

    with gw.serve_http(protected) as (base, _):
        async with Client(f"{base}/mcp", mode="legacy", elicitation_callback=decline) as client:
            with pytest.raises(MCPError) as error:
                await client.read_resource(NOTES)
    assert "run 'mcpconnect login local'" in str(error.value) and "declined" in str(error.value)
