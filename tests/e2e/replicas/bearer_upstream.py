"""A protected upstream for the replica tests, on the official SDK over streamable HTTP: every
request must carry a bearer token, and the token's fingerprint (a SHA-256 prefix, never the token)
is appended to a log, one line per request, so that a test sees which token each call carried.

    python bearer_upstream.py --port N --log FILE
"""

from __future__ import annotations

import argparse
import hashlib

import uvicorn
from mcp.server.mcpserver import MCPServer

server = MCPServer("bearer-upstream")


@server.tool()
def echo(message: str) -> str:
    """Echo the message back."""
    return message


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class RecordBearer:
    """401 without a bearer token; with one, its fingerprint goes to the log."""

    def __init__(self, app, log: str) -> None:
        self.app, self.log = app, log

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            value = headers.get(b"authorization", b"").decode()
            if not value.lower().startswith("bearer "):
                await send({"type": "http.response.start", "status": 401, "headers": [(b"content-length", b"0")]})
                await send({"type": "http.response.body", "body": b""})
                return
            with open(self.log, "a") as fh:
                fh.write(fingerprint(value[7:].strip()) + "\n")
        await self.app(scope, receive, send)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    app = RecordBearer(server.streamable_http_app(), args.log)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
