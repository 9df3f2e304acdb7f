"""A 2026-07-28 client of ``serve`` answers what an upstream asks during a call (sampling,
elicitation) in multi-round-trip rounds: the gateway answers ``input_required`` with the upstream's
questions and resumes the upstream call when the client retries with the answers, whether the
upstream asked with requests on its handshake connection or with its own ``input_required``."""

from __future__ import annotations

import sys
from pathlib import Path

import mcp_types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError


@pytest.fixture
def two_upstreams(gw, mcpconnect_isolated: Path) -> Path:
    """The test upstream twice over stdio: on the initialize handshake, and on 2026-07-28."""
    config = mcpconnect_isolated / "mcpconnect.toml"
    config.write_text(
        f"""
[storage]
backend = "memory"

[servers.legacy]
command = "{sys.executable}"
args = ["{gw.UPSTREAM}"]
protocol = "legacy"

[servers.modern]
command = "{sys.executable}"
args = ["{gw.UPSTREAM}"]
"""
    )
    return config


class Person:
    """A client's answers: a name for forms, a word from the model; what it was asked, in order."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def sampling(self, context, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        self.asked.append(f"sampling: {params.messages[0].content.text}")
        return types.CreateMessageResult(role="assistant", content=types.TextContent(text="brave"), model="m")

    async def elicitation(self, context, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.asked.append(f"elicitation: {params.message}")
        content = {} if params.message.startswith("Sure") else {"name": "Ada"}
        return types.ElicitResult(action="accept", content=content)


async def test_a_2026_client_answers_upstream_questions_in_rounds(gw, two_upstreams):
    person = Person()
    with gw.serve_http(two_upstreams) as (base, _):
        async with Client(
            f"{base}/mcp", sampling_callback=person.sampling, elicitation_callback=person.elicitation
        ) as client:
            assert client.protocol_version == "2026-07-28"
            # A handshake upstream's requests on its connection: one round each, then two in turn.
            sampled = await client.call_tool("legacy__sample", {"prompt": "the answer?"})
            assert sampled.content[0].text == "the model said: brave"
            elicited = await client.call_tool("legacy__ask_name", {})
            assert elicited.content[0].text == "hello Ada"
            interview = await client.call_tool("legacy__interview", {})
            assert interview.content[0].text == "Ada is brave"
            # A 2026-07-28 upstream's own input_required rounds (two questions, then a third).
            rounds = await client.call_tool("modern__interview_rounds", {"topic": "tea"})
            assert not rounds.is_error, rounds.content[0].text
            assert rounds.content[0].text == "Ada on tea: brave (accept)"
    assert person.asked[:4] == [
        "sampling: the answer?",
        "elicitation: What is your name?",
        "elicitation: What is your name?",
        "sampling: a word for Ada",
    ]
    assert sorted(person.asked[4:6]) == ["elicitation: What is your name?", "sampling: a word for tea"]
    assert person.asked[6:] == ["elicitation: Sure, Ada?"]


async def test_the_rounds_on_the_wire(gw, two_upstreams):
    """Driven by hand: the questions come as ``input_required``; a forged ``requestState`` is
    refused; the retry with the answers gets the tool's result; the state is then spent."""
    person = Person()
    with gw.serve_http(two_upstreams) as (base, _):
        async with Client(f"{base}/mcp", sampling_callback=person.sampling) as client:
            await client.list_tools()
            first = await client.session.call_tool("legacy__sample", {"prompt": "hi"}, allow_input_required=True)
            assert isinstance(first, types.InputRequiredResult)
            assert first.request_state
            ((key, request),) = first.input_requests.items()
            assert isinstance(request, types.CreateMessageRequest)
            assert request.params.messages[0].content.text == "hi"

            with pytest.raises(MCPError, match="Invalid or expired requestState"):
                await client.session.call_tool(
                    "legacy__sample",
                    {"prompt": "hi"},
                    request_state=first.request_state[:-2] + "AA",
                    allow_input_required=True,
                )
            with pytest.raises(MCPError, match="Invalid or expired requestState"):  # bound to the arguments
                await client.session.call_tool(
                    "legacy__sample",
                    {"prompt": "other"},
                    request_state=first.request_state,
                    allow_input_required=True,
                )

            answer = types.CreateMessageResult(role="assistant", content=types.TextContent(text="hello"), model="m")
            done = await client.session.call_tool(
                "legacy__sample",
                {"prompt": "hi"},
                input_responses={key: answer},
                request_state=first.request_state,
                allow_input_required=True,
            )
            assert isinstance(done, types.CallToolResult)
            assert done.content[0].text == "the model said: hello"

            with pytest.raises(MCPError, match="input round is over"):
                await client.session.call_tool(
                    "legacy__sample",
                    {"prompt": "hi"},
                    input_responses={key: answer},
                    request_state=first.request_state,
                    allow_input_required=True,
                )


async def test_a_2026_client_without_the_capability_gets_a_clear_error(gw, two_upstreams):
    with gw.serve_http(two_upstreams) as (base, _):
        async with Client(f"{base}/mcp") as client:
            result = await client.call_tool("legacy__sample", {"prompt": "x"})
            assert result.is_error and "does not support sampling" in result.content[0].text
            result = await client.call_tool("modern__interview_rounds", {"topic": "x"})
            assert result.is_error and "does not support" in result.content[0].text
            echo = await client.call_tool("legacy__echo", {"message": "still fine"})
            assert echo.content[0].text == "still fine"


async def test_a_handshake_client_cannot_name_a_round(gw, two_upstreams):
    """``requestState`` is only ever handed out sealed, to 2026-07-28 clients: on the handshake it
    names nothing."""
    with gw.serve_http(two_upstreams) as (base, _):
        async with Client(f"{base}/mcp", mode="legacy") as client:
            with pytest.raises(MCPError, match="requestState belongs to the 2026-07-28 protocol"):
                await client.session.call_tool(
                    "legacy__echo", {"message": "x"}, request_state="anything", allow_input_required=True
                )
            echo = await client.call_tool("legacy__echo", {"message": "fine"})
            assert echo.content[0].text == "fine"


async def test_prompts_and_resources_ask_in_rounds_too(gw, two_upstreams):
    person = Person()
    with gw.serve_http(two_upstreams) as (base, _):
        async with Client(f"{base}/mcp", elicitation_callback=person.elicitation) as client:
            prompt = await client.get_prompt("legacy__greet_asked")
            assert prompt.messages[0].content.text == "Say hello to Ada."
            note = await client.read_resource("mcpconnect://legacy/mem://asked/tea")
            assert note.contents[0].text == "Ada on tea"
            assert note.contents[0].uri == "mcpconnect://legacy/mem://asked/tea"
    assert person.asked == ["elicitation: Whom to greet?", "elicitation: Who writes about tea?"]
