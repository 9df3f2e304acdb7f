"""``mcpconnect login`` takes a server with auth = "mcp" as well as a provider."""

from __future__ import annotations

from click.testing import CliRunner

from mcpconnect.cli import cli


def test_device_flow_is_for_providers_only(tmp_path):
    config = tmp_path / "mcpconnect.toml"
    config.write_text('[servers.remote]\nurl = "https://mcp.example.test/mcp"\nauth = "mcp"\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "login", "remote", "--device"])
    assert result.exit_code == 2
    assert "server 'remote' uses MCP authorization" in result.output
    assert "grant" in result.output


def test_login_to_a_server_that_logs_in_no_way_says_how_it_authenticates(tmp_path):
    config = tmp_path / "mcpconnect.toml"
    config.write_text(
        '[servers.local]\ncommand = "true"\n'
        '[servers.keyed]\nurl = "https://mcp.example.test/mcp"\nauth = "token"\ntoken_env = "KEY"\n'
    )
    result = CliRunner().invoke(cli, ["--config", str(config), "login", "local"])
    assert result.exit_code == 2
    assert "server 'local' needs no login" in result.output and 'auth = "mcp"' in result.output
    result = CliRunner().invoke(cli, ["--config", str(config), "login", "keyed"])
    assert result.exit_code == 2
    assert "server 'keyed' authenticates with an API token" in result.output


def test_login_to_a_server_with_a_provider_logs_in_to_that_provider(tmp_path):
    config = tmp_path / "mcpconnect.toml"
    config.write_text('[servers.code]\nurl = "https://mcp.example.test/mcp"\nauth = "provider:gh"\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "login", "code"])
    assert result.exit_code == 2
    assert "Server 'code' logs in through provider 'gh'" in result.output
    # ...and the provider's own error names it, not the server.
    assert "no provider named 'gh'" in result.output
