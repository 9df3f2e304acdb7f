"""An upstream for the gateway's tests, on the official SDK: tools that change, report progress
and return resource links; a resource, a resource template and a prompt.

    python upstream_server.py [--transport stdio|sse|streamable-http] [--port N] [--extra-tools N]
"""

from __future__ import annotations

import argparse
import os

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import (
    Completion,
    CreateMessageRequest,
    CreateMessageRequestParams,
    ElicitRequest,
    ElicitRequestFormParams,
    EmptyResult,
    InputRequiredResult,
    PromptReference,
    ResourceLink,
    ResourceTemplateReference,
    SamplingMessage,
    SubscribeRequestParams,
    TextContent,
    UnsubscribeRequestParams,
)
from pydantic import BaseModel

server = MCPServer("upstream", instructions="The gateway tests' upstream.")


@server.tool()
def echo(message: str) -> str:
    """Echo the message back."""
    return message


@server.tool()
def secret_dump() -> str:
    """A tool every test filters out."""
    return "the secret tool ran"


@server.tool()
def pid() -> int:
    """This process's id (the tests look for it after the gateway is killed)."""
    return os.getpid()


@server.tool()
async def add_tool(name: str, ctx: Context) -> str:
    """Register a tool called NAME and tell the client the list changed."""

    def added() -> str:
        return f"{name} ran"

    server.add_tool(added, name=name, description=f"added at run time as {name}")
    await ctx.notify_tools_changed()  # 2026-07-28 clients: subscriptions/listen
    await ctx.session.send_tool_list_changed()  # handshake clients: on the connection
    return f"added {name}"


@server.tool()
async def count(steps: int, ctx: Context) -> str:
    """Report progress STEPS times, then finish."""
    for step in range(1, steps + 1):
        await ctx.report_progress(step, steps, f"step {step}")
        await anyio.sleep(0.01)
    return f"counted {steps}"


@server.tool()
async def block(marker: str) -> str:
    """Write MARKER.started, wait until cancelled; then write MARKER, so that a test can see the
    call began and the cancel arrived."""
    with open(f"{marker}.started", "w") as fh:
        fh.write("started")
    try:
        await anyio.sleep(120)
    except anyio.get_cancelled_exc_class():
        with open(marker, "w") as fh:
            fh.write("cancelled")
        raise
    return "never cancelled"


class Name(BaseModel):
    name: str


@server.tool()
async def ask_name(ctx: Context) -> str:
    """Ask the user for a name (form elicitation) and greet it."""
    answer = await ctx.elicit("What is your name?", Name)
    return f"hello {answer.data.name}" if answer.action == "accept" else f"no name ({answer.action})"


@server.tool()
async def sample(prompt: str, ctx: Context) -> str:
    """Ask the client's model to complete PROMPT."""
    message = SamplingMessage(role="user", content=TextContent(text=prompt))
    result = await ctx.session.create_message(messages=[message], max_tokens=20)
    return f"the model said: {result.content.text}"


@server.tool()
async def interview(ctx: Context) -> str:
    """Ask a name (elicitation), then the model about it (sampling): two questions in turn."""
    answer = await ctx.elicit("What is your name?", Name)
    if answer.action != "accept":
        return f"no name ({answer.action})"
    message = SamplingMessage(role="user", content=TextContent(text=f"a word for {answer.data.name}"))
    result = await ctx.session.create_message(messages=[message], max_tokens=20)
    return f"{answer.data.name} is {result.content.text}"


_NAME_SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


@server.tool()
async def interview_rounds(topic: str, ctx: Context) -> str | InputRequiredResult:
    """The same on 2026-07-28: ``input_required`` rounds (a name and a model's word, then a
    confirmation), the client answering each by retrying with the answers."""
    answers = ctx.input_responses or {}
    if ctx.request_state is None:
        ask = ElicitRequestFormParams(message="What is your name?", requested_schema=_NAME_SCHEMA)
        name = ElicitRequest(params=ask)
        word = CreateMessageRequest(
            params=CreateMessageRequestParams(
                messages=[SamplingMessage(role="user", content=TextContent(text=f"a word for {topic}"))], max_tokens=20
            )
        )
        return InputRequiredResult(input_requests={"name": name, "word": word}, request_state="first")
    if ctx.request_state == "first":
        who = answers["name"].content["name"]
        said = answers["word"].content.text
        sure = ElicitRequest(
            params=ElicitRequestFormParams(
                message=f"Sure, {who}?", requested_schema={"type": "object", "properties": {}}
            )
        )
        return InputRequiredResult(input_requests={"sure": sure}, request_state=f"second:{who}:{said}")
    _, who, said = ctx.request_state.split(":")
    return f"{who} on {topic}: {said} ({answers['sure'].action})"


@server.tool()
async def roots(ctx: Context) -> list[str]:
    """The client's roots."""
    return [str(root.uri) for root in (await ctx.session.list_roots()).roots]


@server.tool()
async def shout(message: str, level: str, ctx: Context) -> str:
    """Log MESSAGE at LEVEL (info or error) to the client."""
    await (ctx.error(message) if level == "error" else ctx.info(message))
    return "logged"


@server.tool()
def crash() -> str:
    """Exit at once, as a crashing server does."""
    os._exit(3)


@server.tool()
def link() -> list[ResourceLink | TextContent]:
    """A link to this server's greeting resource."""
    return [
        TextContent(text="see the link"),
        ResourceLink(name="greeting", uri="mem://greeting", mime_type="text/plain"),
    ]


@server.resource("mem://greeting")
def greeting() -> str:
    """A fixed greeting."""
    return "hello from upstream"


@server.resource("mem://hidden")
def hidden() -> str:
    """A resource the tests filter out."""
    return "hidden contents"


@server.resource("mem://item/{item_id}")
def item(item_id: str) -> str:
    """One item by id."""
    return f"item {item_id}"


NAMES = ["alice", "albert", "bob"]
#: URIs a client on the initialize handshake subscribed to (2026-07-28 clients listen instead).
SUBSCRIBED: set[str] = set()


@server.completion()
async def complete(ref, argument, context) -> Completion | None:
    """Names for the greet prompt, ids for the item template."""
    if isinstance(ref, PromptReference) and ref.name == "greet":
        return Completion(values=[n for n in NAMES if n.startswith(argument.value)])
    if isinstance(ref, ResourceTemplateReference) and ref.uri == "mem://item/{item_id}":
        return Completion(values=[i for i in ("1", "2", "12") if i.startswith(argument.value)])
    return None


async def subscribe(ctx, params: SubscribeRequestParams) -> EmptyResult:
    SUBSCRIBED.add(params.uri)
    return EmptyResult()


async def unsubscribe(ctx, params: UnsubscribeRequestParams) -> EmptyResult:
    SUBSCRIBED.discard(params.uri)
    return EmptyResult()


server._lowlevel_server.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
server._lowlevel_server.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)


@server.tool()
async def touch(uri: str, ctx: Context) -> str:
    """Say that resource URI changed (to subscribed handshake clients, and on listen streams)."""
    await ctx.notify_resource_updated(uri)  # 2026-07-28: the subscriptions/listen streams that asked
    if uri in SUBSCRIBED:
        await ctx.session.send_resource_updated(uri)  # the handshake: only when subscribed
    return f"touched {uri}"


@server.tool()
def subscribed() -> list[str]:
    """The URIs handshake clients are subscribed to."""
    return sorted(SUBSCRIBED)


@server.prompt()
def greet(name: str) -> str:
    """Greet NAME."""
    return f"Say hello to {name}."


@server.prompt()
async def greet_asked(ctx: Context) -> str:
    """Greet a name asked of the user (elicitation)."""
    answer = await ctx.elicit("Whom to greet?", Name)
    return f"Say hello to {answer.data.name}."


@server.resource("mem://asked/{topic}")
async def asked(topic: str, ctx: Context) -> str:
    """A note on TOPIC by a name asked of the user (elicitation)."""
    answer = await ctx.elicit(f"Who writes about {topic}?", Name)
    return f"{answer.data.name} on {topic}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transport", choices=["stdio", "sse", "streamable-http"], default="stdio")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--extra-tools", type=int, default=0)
    args = parser.parse_args()
    for n in range(args.extra_tools):
        server.add_tool(lambda n=n: f"extra {n}", name=f"extra_{n:03d}", description="one of many")
    if args.transport == "stdio":
        server.run()
    elif args.transport == "sse":
        server.run("sse", host="127.0.0.1", port=args.port)
    else:
        server.run("streamable-http", host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
