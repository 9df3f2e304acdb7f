"""An MCP server (the SDK's, over streamable HTTP) that admits only requests bearing an access
token the test OIDC provider (tests/oidc) vouches for at its userinfo endpoint.

    python protected_upstream.py --issuer URL --port N
"""

from __future__ import annotations

import argparse
import json

import httpx
import uvicorn
from mcp.server.mcpserver import MCPServer

server = MCPServer("protected")


@server.tool()
def secret() -> str:
    """Something only a logged-in user may see."""
    return "the protected tool ran"


@server.prompt()
def briefing() -> str:
    """A prompt only a logged-in user may get."""
    return "the protected prompt"


@server.resource("secret://notes")
def notes() -> str:
    """A resource only a logged-in user may read."""
    return "the protected notes"


class RequireToken:
    """401 unless the bearer token is one the provider knows (its /me answers 200)."""

    def __init__(self, app, issuer: str) -> None:
        self.app = app
        self.issuer = issuer

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization", b"").decode()
        if header.lower().startswith("bearer "):
            async with httpx.AsyncClient() as http:
                me = await http.get(f"{self.issuer}/me", headers={"Authorization": header})
            if me.status_code == 200:
                await self.app(scope, receive, send)
                return
        body = json.dumps({"error": "invalid_token"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
            }
        )
        await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = RequireToken(server.streamable_http_app(), args.issuer)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
