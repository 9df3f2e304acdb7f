"""A small MCP server built on the official SDK: notes kept in memory.

Run it over stdio (what an MCP client starts)::

    python examples/servers/notes_server.py

or over HTTP on 127.0.0.1::

    python examples/servers/notes_server.py --transport streamable-http --port 8766
    python examples/servers/notes_server.py --transport sse --port 8766
"""

from __future__ import annotations

import argparse

from mcp.server.mcpserver import MCPServer

server = MCPServer("notes", instructions="Keeps short notes in memory.")
_notes: list[str] = []


@server.tool()
def add_note(text: str) -> str:
    """Add a note; returns how many notes there are."""
    _notes.append(text)
    return f"{len(_notes)} note(s)"


@server.tool()
def list_notes() -> list[str]:
    """Every note, oldest first."""
    return list(_notes)


@server.tool()
def echo(message: str) -> str:
    """Echo the message back."""
    return message


@server.resource("notes://all")
def all_notes() -> str:
    """Every note, one per line."""
    return "\n".join(_notes)


@server.prompt()
def summarize(style: str = "short") -> str:
    """Ask for a summary of the notes."""
    return f"Summarize these notes in a {style} style:\n" + "\n".join(_notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=["stdio", "sse", "streamable-http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--stateless", action="store_true", help="streamable HTTP without sessions")
    args = parser.parse_args()
    if args.transport == "stdio":
        server.run()
    elif args.transport == "sse":
        server.run("sse", host=args.host, port=args.port)
    else:
        server.run("streamable-http", host=args.host, port=args.port, stateless_http=args.stateless)


if __name__ == "__main__":
    main()
