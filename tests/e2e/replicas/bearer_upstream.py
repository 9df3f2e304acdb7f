"""A protected upstream for the replica tests, on the official SDK over streamable HTTP: every
request must carry a bearer token, and the token's fingerprint (a SHA-256 prefix, never the token)
is appended to a log, one line per request, so that a test sees which token each call carried.
A ``tools/call`` line also names the call: its ``message`` argument, JSON-quoted, after the
fingerprint (read the log with :func:`read_log`).

    python bearer_upstream.py --port N --log FILE
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import uvicorn
from mcp.server.mcpserver import MCPServer

server = MCPServer("bearer-upstream")


@server.tool()
def echo(message: str) -> str:
    """Echo the message back."""
    return message


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def read_log(path: Path) -> list[tuple[str, str | None]]:
    """The log's requests: (token fingerprint, the tool call's message or ``None``), oldest first."""
    if not path.exists():
        return []
    entries: list[tuple[str, str | None]] = []
    *lines, _being_written = path.read_text().split("\n")
    for line in lines:
        token, _, message = line.partition(" ")
        entries.append((token, json.loads(message) if message else None))
    return entries


def called(body: bytes) -> str | None:
    """The ``message`` of a ``tools/call`` request body, if it is one."""
    try:
        request = json.loads(body)
    except ValueError:
        return None
    if not isinstance(request, dict) or request.get("method") != "tools/call":
        return None
    arguments = (request.get("params") or {}).get("arguments") or {}
    message = arguments.get("message")
    return message if isinstance(message, str) else None


class RecordBearer:
    """401 without a bearer token; with one, its fingerprint (and a call's message) goes to the log."""

    def __init__(self, app, log: str) -> None:
        self.app, self.log = app, log

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        value = headers.get(b"authorization", b"").decode()
        if not value.lower().startswith("bearer "):
            await send({"type": "http.response.start", "status": 401, "headers": [(b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        # The whole body first (to name the call), then handed on to the app as it came.
        chunks: list[dict] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message)
            more = message["type"] == "http.request" and message.get("more_body", False)
        body = b"".join(m.get("body", b"") for m in chunks if m["type"] == "http.request")
        call = called(body) if scope["method"] == "POST" else None
        line = fingerprint(value[7:].strip()) + ("" if call is None else " " + json.dumps(call))
        with open(self.log, "a") as fh:
            fh.write(line + "\n")

        async def replay():
            return chunks.pop(0) if chunks else await receive()

        await self.app(scope, replay, send)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    app = RecordBearer(server.streamable_http_app(), args.log)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
