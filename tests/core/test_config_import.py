"""Import of Claude Desktop / Cursor / .mcp.json and VS Code configs."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from mcpconnect.config import Config
from mcpconnect.config.importer import import_file, to_toml
from mcpconnect.errors import ConfigError


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_claude_desktop_shape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME_DIR", "/home/me")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_dont_write_me_anywhere_1234")
    src = write_json(
        tmp_path / "claude_desktop_config.json",
        {
            "mcpServers": {
                "filesystem": {
                    "command": "npx",
                    "args": ["-y", "@modelcontextprotocol/server-filesystem", "${HOME_DIR}/docs"],
                },
                "github": {
                    "command": "docker",
                    "args": ["run", "-i", "ghcr.io/github/github-mcp-server"],
                    "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "${GITHUB_TOKEN}"},
                },
                "remote docs": {"url": "https://docs.example/mcp", "type": "http"},
            }
        },
    )
    data = import_file(src)
    servers = data["servers"]
    assert servers["filesystem"]["args"][-1] == "/home/me/docs"
    assert servers["filesystem"]["transport"] == "stdio"
    # Secrets stay references: the TOML written never holds one.
    assert servers["github"]["env"] == {"GITHUB_PERSONAL_ACCESS_TOKEN": "${GITHUB_TOKEN}"}
    assert servers["remote-docs"] == {"url": "https://docs.example/mcp", "transport": "streamable-http"}
    text = to_toml(data)
    assert "ghp_dont_write_me" not in text
    Config.model_validate(tomllib.loads(text))


def test_vscode_shape_with_jsonc_and_bearer_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCS_TOKEN", "t" * 20)
    src = tmp_path / "mcp.json"
    src.write_text(
        """{
          // VS Code allows comments
          "servers": {
            "docs": {
              "type": "sse",
              "url": "https://docs.example/sse",
              "headers": {"Authorization": "Bearer ${env:DOCS_TOKEN}", "X-Region": "${REGION:-eu}"},
            },
            "local": {"type": "stdio", "command": "python", "args": ["server.py"]},
          },
        }"""
    )
    servers = import_file(src)["servers"]
    assert servers["docs"]["transport"] == "sse"
    assert servers["docs"]["auth"] == "token" and servers["docs"]["token_env"] == "DOCS_TOKEN"
    assert servers["docs"]["headers"] == {"X-Region": "${REGION:-eu}"}
    assert servers["local"]["command"] == "python"


def test_unresolved_variable_names_file_key_and_variable(tmp_path: Path) -> None:
    src = write_json(tmp_path / "c.json", {"mcpServers": {"a": {"command": "x", "args": ["${NOT_SET_ANYWHERE}"]}}})
    with pytest.raises(ConfigError) as info:
        import_file(src)
    message = str(info.value)
    assert str(src) in message and "mcpServers.a.args[0]" in message
    assert "${NOT_SET_ANYWHERE} is not set" in message


def test_default_applies_when_unset(tmp_path: Path) -> None:
    src = write_json(tmp_path / "c.json", {"mcpServers": {"a": {"command": "${NOT_SET_X:-python3}"}}})
    assert import_file(src)["servers"]["a"]["command"] == "python3"


def test_vscode_input_variables_are_refused_with_advice(tmp_path: Path) -> None:
    src = write_json(
        tmp_path / "mcp.json",
        {"servers": {"a": {"type": "http", "url": "https://a", "headers": {"X-Key": "${input:api-key}"}}}},
    )
    with pytest.raises(ConfigError, match=r"\$\{input:api-key\}, which only VS Code can prompt for"):
        import_file(src)


def test_malformed_json(tmp_path: Path) -> None:
    src = tmp_path / "bad.json"
    src.write_text('{"mcpServers": {"a": {"command": "x",}')
    with pytest.raises(ConfigError) as info:
        import_file(src)
    assert str(src) in str(info.value) and "not valid JSON" in str(info.value) and "line 1" in str(info.value)


def test_not_an_mcp_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no mcpServers"):
        import_file(write_json(tmp_path / "x.json", {"hello": 1}))


def test_unknown_type(tmp_path: Path) -> None:
    src = write_json(tmp_path / "x.json", {"servers": {"a": {"type": "websocket", "url": "wss://a"}}})
    with pytest.raises(ConfigError, match="unknown type 'websocket'"):
        import_file(src)
