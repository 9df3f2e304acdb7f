"""Auth per server: the OAuth token first, then the API token, then a clear error; stdio env tokens;
plain http refused."""

from __future__ import annotations

import httpx
import pytest
from mcpconnect_oidc_server import CONFIDENTIAL_SECRET

from mcpconnect._config.model import ServerConfig
from mcpconnect._serverauth import BearerAuth, OAuthBearerAuth, server_auth, server_env_token
from mcpconnect.auth import TokenManager, token_manager
from mcpconnect.auth._headless import follow_authorization
from mcpconnect.errors import AuthError, ConfigError

pytestmark = pytest.mark.node


def providers(server) -> dict:
    return {
        "github": {
            "type": "oidc",
            "issuer": server.issuer,
            "client_id": "confidential",
            "client_secret": CONFIDENTIAL_SECRET,
        }
    }


def remote(**extra: object) -> ServerConfig:
    return ServerConfig.model_validate({"url": "https://mcp.example.test/mcp", "auth": "provider:github", **extra})


async def test_oauth_token_first(oidc_server, make_runtime, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "api-token-from-the-environment-1")
    runtime = make_runtime(providers(oidc_server))
    token = await token_manager(runtime).login("github", on_url=follow_authorization)
    auth = await server_auth("docs", remote(token_env="GITHUB_TOKEN"), runtime)
    assert isinstance(auth, OAuthBearerAuth) and auth.account == token.account
    # The header it sends is the OAuth token's, and it works at the provider's API.
    async with httpx.AsyncClient(auth=auth) as http:
        response = await http.get(f"{oidc_server.issuer}/me")
    assert response.status_code == 200 and response.json()["sub"] == "alice"
    assert "api-token" not in repr(auth) and token.access_token.get_secret_value() not in repr(auth)


async def test_api_token_when_not_logged_in(oidc_server, make_runtime, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "api-token-from-the-environment-1")
    auth = await server_auth("docs", remote(token_env="GITHUB_TOKEN"), make_runtime(providers(oidc_server)))
    assert isinstance(auth, BearerAuth)
    request = httpx.Request("GET", "https://mcp.example.test/mcp")
    flow = auth.auth_flow(request)
    assert next(flow).headers["Authorization"] == "Bearer api-token-from-the-environment-1"


async def test_clear_error_when_neither(oidc_server, make_runtime, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    runtime = make_runtime(providers(oidc_server))
    with pytest.raises(AuthError) as info:
        await server_auth("docs", remote(token_env="GITHUB_TOKEN"), runtime)
    assert str(info.value) == "server 'docs' needs authentication: run 'mcpconnect login github' or set GITHUB_TOKEN"
    with pytest.raises(AuthError, match=r"or set token_env = \"GITHUB_TOKEN\" in \[servers.docs\]"):
        await server_auth("docs", remote(), runtime)


async def test_unknown_provider_is_a_config_error(oidc_server, make_runtime):
    server = ServerConfig.model_validate({"url": "https://mcp.example.test/mcp", "auth": "provider:gitlab"})
    with pytest.raises(ConfigError, match=r"no \[providers.gitlab\]"):
        await server_auth("docs", server, make_runtime(providers(oidc_server)))


async def test_plain_http_server_refused_unless_loopback_or_allowed(oidc_server, make_runtime, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "api-token-from-the-environment-1")
    runtime = make_runtime(providers(oidc_server))
    insecure = remote(url="http://mcp.example.test/mcp", token_env="GITHUB_TOKEN")
    with pytest.raises(AuthError, match=r"plain http://.*allow_insecure_http = true in \[servers.docs\]"):
        await server_auth("docs", insecure, runtime)
    allowed = remote(url="http://mcp.example.test/mcp", token_env="GITHUB_TOKEN", allow_insecure_http=True)
    assert isinstance(await server_auth("docs", allowed, runtime), BearerAuth)
    local = remote(url="http://127.0.0.1:9/mcp", token_env="GITHUB_TOKEN")
    assert isinstance(await server_auth("docs", local, runtime), BearerAuth)


async def test_mcp_auth_mode_uses_mcp_authorization_else_the_api_token(oidc_server, make_runtime, monkeypatch):
    from mcpconnect.auth._mcp import MCPAuth

    runtime = make_runtime(providers(oidc_server))
    mcp = ServerConfig.model_validate({"url": "https://mcp.example.test/mcp", "auth": "mcp", "token_env": "MCP_TOK"})
    monkeypatch.delenv("MCP_TOK", raising=False)
    assert isinstance(await server_auth("remote", mcp, runtime), MCPAuth)
    monkeypatch.setenv("MCP_TOK", "mcp-api-token-value-0000001")
    assert isinstance(await server_auth("remote", mcp, runtime), BearerAuth)


async def test_stdio_server_gets_its_token_in_the_named_variable(oidc_server, make_runtime, monkeypatch):
    runtime = make_runtime(providers(oidc_server))
    stdio = ServerConfig.model_validate(
        {"command": "server", "auth": "provider:github", "token_to_env": "GH_TOKEN", "token_env": "GITHUB_TOKEN"}
    )
    monkeypatch.setenv("GITHUB_TOKEN", "api-token-from-the-environment-1")
    assert await server_env_token("gh", stdio, runtime) == {"GH_TOKEN": "api-token-from-the-environment-1"}
    token = await token_manager(runtime).login("github", on_url=follow_authorization)
    assert await server_env_token("gh", stdio, runtime) == {"GH_TOKEN": token.access_token.get_secret_value()}
    plain = ServerConfig.model_validate({"command": "server", "auth": "provider:github"})
    assert await server_env_token("gh", plain, runtime) == {}
    monkeypatch.delenv("GITHUB_TOKEN")
    await TokenManager(runtime).logout("github")
    with pytest.raises(AuthError, match="server 'gh' needs authentication: run 'mcpconnect login github'"):
        await server_env_token("gh", stdio, runtime)


async def test_server_env_token_passes_the_api_token_for_auth_token(oidc_server, make_runtime, monkeypatch):
    stdio = ServerConfig.model_validate(
        {"command": "server", "auth": "token", "token_env": "GITHUB_TOKEN", "token_to_env": "GH_TOKEN"}
    )
    monkeypatch.setenv("GITHUB_TOKEN", "api-token-from-the-environment-2")
    runtime = make_runtime(providers(oidc_server))
    assert await server_env_token("gh", stdio, runtime) == {"GH_TOKEN": "api-token-from-the-environment-2"}
