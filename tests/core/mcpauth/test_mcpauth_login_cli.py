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
