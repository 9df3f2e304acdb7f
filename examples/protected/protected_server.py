"""A bundled authorization server and an MCP server it protects, both on the official MCP SDK.

The authorization server (``mcp.server.auth``: RFC 8414 metadata, RFC 7591 registration,
authorization code + PKCE, refresh, RFC 7009 revocation) approves its demo user at once, with
no page and no person, so a login completes headlessly. The MCP server (``MCPServer`` with a
token verifier) publishes RFC 9728 metadata naming that authorization server, answers 401
without a token, and only accepts tokens issued for its own URL (RFC 8707).

    python examples/protected/protected_server.py --auth-port 9410 --mcp-port 9411

serves until interrupted. Tests and the demo script use :func:`running` in their event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    RefreshToken,
    TokenError,
    construct_redirect_uri,
)
from mcp.server.auth.routes import create_auth_routes
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions, RevocationOptions
from mcp.server.mcpserver import MCPServer
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyHttpUrl
from starlette.applications import Starlette

DEMO_USER = "demo-user"
SCOPES = ["notes:read"]


@dataclass
class DemoAuthority:
    """The authorization server's state, in memory: clients, codes and tokens.

    ``token_lifetime`` is how long access tokens live (tests make it short to see refreshes);
    ``requests`` counts what was asked of it, for tests to assert on.
    """

    issuer: str
    token_lifetime: int = 3600
    clients: dict[str, OAuthClientInformationFull] = field(default_factory=dict)
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    access: dict[str, AccessToken] = field(default_factory=dict)
    refresh: dict[str, RefreshToken] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)

    def _count(self, what: str) -> None:
        self.requests[what] = self.requests.get(what, 0) + 1

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return self.clients.get(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        self._count("register")
        assert client_info.client_id is not None
        self.clients[client_info.client_id] = client_info

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        # The demo user approves at once: straight back to the client with a code.
        self._count("authorize")
        code = secrets.token_urlsafe(32)
        assert client.client_id is not None
        self.codes[code] = AuthorizationCode(
            code=code,
            scopes=params.scopes or SCOPES,
            expires_at=time.time() + 300,
            client_id=client.client_id,
            code_challenge=params.code_challenge,
            redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=params.resource,
            subject=DEMO_USER,
        )
        return construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state, iss=self.issuer)

    async def load_authorization_code(self, client: OAuthClientInformationFull, authorization_code: str) -> Any:
        return self.codes.get(authorization_code)

    def _issue(self, client_id: str, scopes: list[str], resource: str | None) -> OAuthToken:
        access, refresh = f"demo-at-{secrets.token_urlsafe(24)}", f"demo-rt-{secrets.token_urlsafe(24)}"
        expires = int(time.time()) + self.token_lifetime
        self.access[access] = AccessToken(
            token=access, client_id=client_id, scopes=scopes, expires_at=expires, resource=resource, subject=DEMO_USER
        )
        self.refresh[refresh] = RefreshToken(
            token=refresh, client_id=client_id, scopes=scopes, resource=resource, subject=DEMO_USER
        )
        return OAuthToken(
            access_token=access,
            token_type="Bearer",
            expires_in=self.token_lifetime,
            refresh_token=refresh,
            scope=" ".join(scopes),
        )

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        self._count("token")
        self.codes.pop(authorization_code.code, None)
        return self._issue(authorization_code.client_id, authorization_code.scopes, authorization_code.resource)

    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> Any:
        return self.refresh.get(refresh_token)

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        self._count("refresh")
        if self.refresh.pop(refresh_token.token, None) is None:
            raise TokenError("invalid_grant", "refresh token already used")
        return self._issue(refresh_token.client_id, scopes or refresh_token.scopes, refresh_token.resource)

    async def load_access_token(self, token: str) -> AccessToken | None:
        found = self.access.get(token)
        if found is None or (found.expires_at is not None and found.expires_at < time.time()):
            return None
        return found

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        self._count("revoke")
        # Revoking either ends the whole grant, as RFC 7009 2.1 allows.
        for table in (self.access, self.refresh):
            for key, value in list(table.items()):
                if value.client_id == token.client_id:
                    del table[key]

    async def exchange_identity_assertion(self, *args: Any, **kwargs: Any) -> OAuthToken:
        raise TokenError("unsupported_grant_type", "not in this demo")


class _Verifier:
    def __init__(self, authority: DemoAuthority) -> None:
        self.authority = authority

    async def verify_token(self, token: str) -> AccessToken | None:
        return await self.authority.load_access_token(token)


def build(auth_url: str, mcp_url: str, *, token_lifetime: int = 3600) -> tuple[DemoAuthority, Starlette, Starlette]:
    """The authority, the authorization server's app (at ``auth_url``) and the MCP server's
    app (``mcp_url``, ending in ``/mcp``)."""
    # The issuer as the SDK writes it in the metadata (with its trailing slash): iss must match it.
    authority = DemoAuthority(issuer=str(AnyHttpUrl(auth_url)), token_lifetime=token_lifetime)
    auth_app = Starlette(
        routes=create_auth_routes(
            provider=authority,
            issuer_url=AnyHttpUrl(auth_url),
            client_registration_options=ClientRegistrationOptions(enabled=True, valid_scopes=SCOPES),
            revocation_options=RevocationOptions(enabled=True),
        )
    )
    server: MCPServer[Any] = MCPServer(
        "protected-notes",
        token_verifier=_Verifier(authority),
        auth=AuthSettings(
            issuer_url=AnyHttpUrl(auth_url),
            resource_server_url=AnyHttpUrl(mcp_url),
            required_scopes=SCOPES,
            validate_token_resource=True,
        ),
    )

    @server.tool()
    def read_note(name: str = "welcome") -> str:
        """Read one of the demo user's notes."""
        from mcp.server.auth.middleware.auth_context import get_access_token

        token = get_access_token()
        who = token.subject if token is not None else "nobody"
        return f"note {name!r} of {who}: the protected server answered"

    return authority, auth_app, server.streamable_http_app()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Running:
    authority: DemoAuthority
    auth_url: str
    mcp_url: str


@contextlib.asynccontextmanager
async def running(*, auth_port: int = 0, mcp_port: int = 0, token_lifetime: int = 3600) -> AsyncIterator[Running]:
    """Serve both on 127.0.0.1 in this event loop until the block ends."""
    import uvicorn

    auth_port = auth_port or free_port()
    mcp_port = mcp_port or free_port()
    auth_url = f"http://127.0.0.1:{auth_port}"
    mcp_url = f"http://127.0.0.1:{mcp_port}/mcp"
    authority, auth_app, mcp_app = build(auth_url, mcp_url, token_lifetime=token_lifetime)
    servers = [
        uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
        for app, port in ((auth_app, auth_port), (mcp_app, mcp_port))
    ]
    for server in servers:
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    try:
        while not all(server.started for server in servers):
            if any(task.done() for task in tasks):
                for task in tasks:
                    if task.done():
                        task.result()
                raise RuntimeError("the demo servers stopped while starting")
            await asyncio.sleep(0.02)
        yield Running(authority, auth_url, mcp_url)
    finally:
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)


async def _main(args: argparse.Namespace) -> None:
    async with running(auth_port=args.auth_port, mcp_port=args.mcp_port) as run:
        print(f"authorization server: {run.auth_url}", flush=True)
        print(f"protected MCP server: {run.mcp_url}", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--auth-port", type=int, default=9410)
    parser.add_argument("--mcp-port", type=int, default=9411)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(parser.parse_args()))
