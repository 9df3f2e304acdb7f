"""The server side of the conformance harness: an MCP server on the official SDK with the tools,
prompts and resources the harness's server scenarios name (``conformance list --server``).

    python tests/conformance/server.py --port 9470        streamable HTTP at /mcp on 127.0.0.1

``run_server.sh`` runs the harness against it directly and through ``mcpconnect serve``.
"""

from __future__ import annotations

import argparse
import base64
import json

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import (
    AudioContent,
    EmbeddedResource,
    ImageContent,
    PromptMessage,
    SamplingMessage,
    TextContent,
    TextResourceContents,
)
from pydantic import BaseModel, Field

# A 1x1 red PNG and a 1-sample WAV: the smallest valid media the scenarios accept.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c63f8cfc0f01f0005000201e2f3a6270000000049454e44ae426082"
    )
).decode()
WAV = base64.b64encode(
    b"RIFF"
    + (37).to_bytes(4, "little")
    + b"WAVEfmt "
    + (16).to_bytes(4, "little")
    + (1).to_bytes(2, "little")
    + (1).to_bytes(2, "little")
    + (8000).to_bytes(4, "little")
    + (8000).to_bytes(4, "little")
    + (1).to_bytes(2, "little")
    + (8).to_bytes(2, "little")
    + b"data"
    + (1).to_bytes(4, "little")
    + b"\x80"
).decode()

server = MCPServer("mcpconnect-conformance-server")


@server.tool(description="Returns a simple text response.")
def test_simple_text() -> list[TextContent]:
    return [TextContent(text="This is a simple text response for testing.")]


@server.tool(description="Returns an image.")
def test_image_content() -> list[ImageContent]:
    return [ImageContent(data=PNG, mime_type="image/png")]


@server.tool(description="Returns audio.")
def test_audio_content() -> list[AudioContent]:
    return [AudioContent(data=WAV, mime_type="audio/wav")]


@server.tool(description="Returns an embedded resource.")
def test_embedded_resource() -> list[EmbeddedResource]:
    contents = TextResourceContents(
        uri="test://embedded-resource", mime_type="text/plain", text="This is an embedded resource content."
    )
    return [EmbeddedResource(resource=contents)]


@server.tool(description="Returns text, an image and an embedded resource.")
def test_multiple_content_types() -> list[TextContent | ImageContent | EmbeddedResource]:
    contents = TextResourceContents(
        uri="test://mixed-content-resource",
        mime_type="application/json",
        text=json.dumps({"test": "data", "value": 123}),
    )
    return [
        TextContent(text="Multiple content types test:"),
        ImageContent(data=PNG, mime_type="image/png"),
        EmbeddedResource(resource=contents),
    ]


@server.tool(description="Sends three log messages while it runs.")
async def test_tool_with_logging(ctx: Context) -> str:
    await ctx.info("Tool execution started")
    await anyio.sleep(0.05)
    await ctx.info("Tool processing data")
    await anyio.sleep(0.05)
    await ctx.info("Tool execution completed")
    return "Tool with logging executed successfully"


@server.tool(description="Always fails.")
def test_error_handling() -> str:
    raise ValueError("This tool intentionally returns an error for testing")


@server.tool(description="Reports progress 0, 50 and 100 of 100.")
async def test_tool_with_progress(ctx: Context) -> str:
    for step in (0, 50, 100):
        await ctx.report_progress(step, 100)
        if step < 100:
            await anyio.sleep(0.05)
    return "Tool with progress executed successfully"


@server.tool(description="Asks the client's model to answer PROMPT.")
async def test_sampling(prompt: str, ctx: Context) -> str:
    message = SamplingMessage(role="user", content=TextContent(text=prompt))
    result = await ctx.session.create_message(messages=[message], max_tokens=100)
    text = result.content.text if isinstance(result.content, TextContent) else str(result.content)
    return f"LLM response: {text}"


class UserInfo(BaseModel):
    username: str = Field(description="User's response")
    email: str = Field(description="User's email address")


@server.tool(description="Asks the user for a username and an email.")
async def test_elicitation(message: str, ctx: Context) -> str:
    answer = await ctx.elicit(message, UserInfo)
    return f"User response: action={answer.action}, content={answer.data.model_dump() if answer.data else {}}"


@server.resource("test://static-text", mime_type="text/plain", description="A static text resource.")
def static_text() -> str:
    return "This is the content of the static text resource."


@server.resource("test://static-binary", mime_type="image/png", description="A static binary resource.")
def static_binary() -> bytes:
    return base64.b64decode(PNG)


@server.resource("test://watched-resource", mime_type="text/plain", description="A resource to subscribe to.")
def watched() -> str:
    return "Watched resource content."


@server.resource("test://template/{id}/data", mime_type="application/json", description="Data for an id.")
def template(id: str) -> str:
    return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})


@server.prompt(description="A simple prompt.")
def test_simple_prompt() -> str:
    return "This is a simple prompt for testing."


@server.prompt(description="A prompt with two arguments.")
def test_prompt_with_arguments(arg1: str, arg2: str) -> str:
    return f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"


@server.prompt(description="A prompt embedding a resource.")
def test_prompt_with_embedded_resource(resourceUri: str) -> list[PromptMessage]:
    text = "Embedded resource content for testing."
    contents = TextResourceContents(uri=resourceUri, mime_type="text/plain", text=text)
    return [
        PromptMessage(role="user", content=EmbeddedResource(resource=contents)),
        PromptMessage(role="user", content=TextContent(text="Please process the embedded resource above.")),
    ]


@server.prompt(description="A prompt with an image.")
def test_prompt_with_image() -> list[PromptMessage]:
    return [
        PromptMessage(role="user", content=ImageContent(data=PNG, mime_type="image/png")),
        PromptMessage(role="user", content=TextContent(text="Please analyze the image above.")),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=["stdio", "streamable-http"], default="streamable-http")
    parser.add_argument("--port", type=int, default=9470)
    args = parser.parse_args()
    if args.transport == "stdio":
        server.run()
    else:
        server.run("streamable-http", host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
