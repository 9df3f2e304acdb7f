"""``[servers.NAME.options]`` for auth = "mcp": clear errors naming the key to fix."""

from __future__ import annotations

import pytest

from mcpconnect.auth._mcp import MCPAuthorizer
from mcpconnect.errors import ConfigError


def authorizer(make_runtime, options: dict) -> MCPAuthorizer:
    runtime = make_runtime({"srv": {"url": "https://mcp.example.test/mcp", "auth": "mcp", "options": options}})
    return MCPAuthorizer("srv", runtime.config.servers["srv"], runtime)


def test_a_client_secret_variable_that_is_not_set(make_runtime, monkeypatch):
    monkeypatch.delenv("SRV_SECRET", raising=False)
    with pytest.raises(ConfigError, match=r"\$\{SRV_SECRET\} is not set; export SRV_SECRET"):
        authorizer(make_runtime, {"client_id": "x", "client_secret_env": "SRV_SECRET"})
    monkeypatch.setenv("SRV_SECRET", "secret-value-from-env-000")
    found = authorizer(make_runtime, {"client_id": "x", "client_secret_env": "SRV_SECRET"})
    assert found.settings.client_secret == "secret-value-from-env-000"
    assert "secret-value" not in repr(found.settings)


def test_a_referenced_provider_must_exist(make_runtime):
    with pytest.raises(ConfigError, match=r"options.provider names \[providers.corp\], which is not configured"):
        authorizer(make_runtime, {"provider": "corp"})


def test_an_unknown_grant(make_runtime):
    with pytest.raises(ConfigError, match=r"options\.grant must be authorization_code, client_credentials or jwt_b"):
        authorizer(make_runtime, {"grant": "password"})


def test_a_missing_private_key_file(make_runtime, tmp_path):
    with pytest.raises(ConfigError, match=r"cannot read private_key_file .*missing.pem"):
        authorizer(make_runtime, {"private_key_file": str(tmp_path / "missing.pem")})


def test_a_stdio_server_cannot_use_mcp_authorization(make_runtime):
    runtime = make_runtime({"local": {"command": "server", "auth": "mcp"}})
    with pytest.raises(ConfigError, match='auth = "mcp" needs a remote server'):
        MCPAuthorizer("local", runtime.config.servers["local"], runtime)
