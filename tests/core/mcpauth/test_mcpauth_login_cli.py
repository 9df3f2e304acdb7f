"""``mcpconnect login`` takes a server with auth = "mcp" as well as a provider."""

from __future__ import annotations

from click.testing import CliRunner

from mcpconnect._cli import cli


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


def test_whoami_logout_and_refresh_of_names_that_hold_no_login_are_usage_errors(tmp_path):
    config = tmp_path / "mcpconnect.toml"
    config.write_text(
        '[storage]\nbackend = "memory"\n[servers.local]\ncommand = "true"\n[providers.gh]\ntype = "github"\n'
        'client_id = "abc"\n'
    )
    for command in (["whoami", "local"], ["logout", "local"], ["tokens", "refresh", "local"]):
        result = CliRunner().invoke(cli, ["--config", str(config), *command])
        assert result.exit_code == 2 and "server 'local' needs no login" in result.output, (command, result.output)
    for command in (["whoami", "nosuch"], ["logout", "nosuch"], ["tokens", "refresh", "nosuch"]):
        result = CliRunner().invoke(cli, ["--config", str(config), *command])
        assert result.exit_code == 2, (command, result.output)
        assert "no provider named 'nosuch' is configured (configured: gh)" in result.output
        assert "mcpconnect login nosuch" not in result.output
    # A configured provider without a login keeps its advice.
    result = CliRunner().invoke(cli, ["--config", str(config), "whoami", "gh"])
    assert result.exit_code == 1 and "run 'mcpconnect login gh'" in result.output
