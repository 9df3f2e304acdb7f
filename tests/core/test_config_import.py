"""Import of Claude Desktop / Cursor / .mcp.json and VS Code configs."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from mcpconnect._config import Config
from mcpconnect._config.importer import import_file, to_toml
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


def test_unresolved_variable_is_kept_as_a_reference_and_named(tmp_path: Path) -> None:
    src = write_json(tmp_path / "c.json", {"mcpServers": {"a": {"command": "x", "args": ["${NOT_SET_ANYWHERE}"]}}})
    warnings: list[str] = []
    servers = import_file(src, environ={}, warnings=warnings)["servers"]
    assert servers["a"]["args"] == ["${NOT_SET_ANYWHERE}"]  # mcpconnect expands it when it starts the server
    assert len(warnings) == 1
    assert str(src) in warnings[0] and "mcpServers.a.args[0]" in warnings[0]
    assert "${NOT_SET_ANYWHERE} is not set now" in warnings[0] and "export NOT_SET_ANYWHERE" in warnings[0]


def test_default_applies_when_unset(tmp_path: Path) -> None:
    src = write_json(tmp_path / "c.json", {"mcpServers": {"a": {"command": "${NOT_SET_X:-python3}"}}})
    assert import_file(src)["servers"]["a"]["command"] == "python3"


def test_one_input_variable_costs_nothing_else_and_becomes_a_todo(tmp_path: Path) -> None:
    src = write_json(
        tmp_path / "mcp.json",
        {
            "inputs": [{"id": "api-key", "type": "promptString", "description": "Docs API key", "password": True}],
            "servers": {
                "a": {"type": "http", "url": "https://a.example/mcp", "headers": {"X-Key": "${input:api-key}"}},
                "b": {"type": "stdio", "command": "python3", "args": ["b.py"]},
            },
        },
    )
    warnings: list[str] = []
    data = import_file(src, environ={}, warnings=warnings)
    assert set(data["servers"]) == {"a", "b"}
    assert data["servers"]["a"]["headers"] == {"X-Key": "${API_KEY}"}
    assert any("server 'a'" in w and "${input:api-key}" in w and "export API_KEY" in w for w in warnings)
    text = to_toml(data)
    assert "# TODO: server 'a'" in text and "Docs API key" in text and "export API_KEY" in text
    assert tomllib.loads(text)["servers"]["b"]["command"] == "python3"


def test_malformed_json(tmp_path: Path) -> None:
    src = tmp_path / "bad.json"
    src.write_text('{"mcpServers": {"a": {"command": "x",}')
    with pytest.raises(ConfigError) as info:
        import_file(src)
    assert str(src) in str(info.value) and "not valid JSON" in str(info.value) and "line 1" in str(info.value)


def test_not_an_mcp_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no mcpServers"):
        import_file(write_json(tmp_path / "x.json", {"hello": 1}))


def test_unknown_type_skips_that_server_only(tmp_path: Path) -> None:
    src = write_json(
        tmp_path / "x.json",
        {"servers": {"a": {"type": "websocket", "url": "wss://a"}, "b": {"type": "sse", "url": "https://b/sse"}}},
    )
    warnings: list[str] = []
    servers = import_file(src, warnings=warnings)["servers"]
    assert list(servers) == ["b"]
    assert any("servers.a: not imported: unknown type 'websocket'" in w for w in warnings)


def test_nothing_importable_is_an_error_naming_each_server(tmp_path: Path) -> None:
    src = write_json(tmp_path / "x.json", {"mcpServers": {"a": {"cwd": "/"}, "b": 3}})
    with pytest.raises(ConfigError) as info:
        import_file(src)
    message = str(info.value)
    assert str(src) in message and "no server could be imported" in message
    assert "mcpServers.a: not imported: has neither command nor url" in message and "mcpServers.b" in message


def test_names_that_map_to_one_key_are_both_kept_and_named(tmp_path: Path) -> None:
    src = write_json(
        tmp_path / "c.json",
        {
            "mcpServers": {
                "my server": {"command": "one"},
                "my-server": {"command": "two"},
                "my/server": {"command": "three"},
            }
        },
    )
    warnings: list[str] = []
    servers = import_file(src, warnings=warnings)["servers"]
    assert {k: v["command"] for k, v in servers.items()} == {
        "my-server": "one",
        "my-server-2": "two",
        "my-server-3": "three",
    }
    assert any("'my server' and 'my-server' both map to [servers.my-server]" in w for w in warnings)
    assert any("[servers.my-server-3]" in w for w in warnings)


def test_a_renamed_server_is_named_in_a_warning(tmp_path: Path) -> None:
    src = write_json(
        tmp_path / "c.json",
        {"mcpServers": {"remote.docs": {"url": "https://docs.example.com/mcp"}, "plain": {"command": "x"}}},
    )
    warnings: list[str] = []
    servers = import_file(src, warnings=warnings)["servers"]
    assert list(servers) == ["remote-docs", "plain"]
    renamed = [w for w in warnings if "[servers.remote-docs]" in w]
    assert len(renamed) == 1
    assert "'remote.docs' is written as [servers.remote-docs]" in renamed[0]
    assert "mcpconnect check remote-docs" in renamed[0]
    assert not any("plain" in w for w in warnings)  # a bare name is written as it is, silently


def test_nested_defaults_expand(tmp_path: Path) -> None:
    src = write_json(
        tmp_path / "c.json",
        {"mcpServers": {"a": {"command": "${NOT_SET_A:-${SET_B}}", "args": ["${NOT_SET_A:-${NOT_SET_C:-deep}}"]}}},
    )
    servers = import_file(src, environ={"SET_B": "python3"})["servers"]
    assert servers["a"]["command"] == "python3" and servers["a"]["args"] == ["deep"]


def test_relative_paths_keep_working_when_written_elsewhere(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".vscode").mkdir(parents=True)
    (project / "tools").mkdir()
    src = write_json(
        project / ".vscode" / "mcp.json",
        {
            "servers": {
                "local": {"type": "stdio", "command": "./tools/run.sh", "args": ["data/x.db"]},
                "sub": {"command": "node", "args": ["index.js"], "cwd": "tools"},
                "ws": {"command": "node", "args": ["${workspaceFolder}/index.js"]},
            }
        },
    )
    servers = import_file(src)["servers"]
    assert servers["local"]["cwd"] == str(project)  # VS Code runs servers in the workspace folder
    assert servers["sub"]["cwd"] == str(project / "tools")
    assert servers["ws"]["args"] == [f"{project}/index.js"]
    dot_mcp = write_json(project / ".mcp.json", {"mcpServers": {"a": {"command": "./tools/run.sh"}}})
    assert import_file(dot_mcp)["servers"]["a"]["cwd"] == str(project)


def test_vscode_env_file_is_loaded_without_copying_secrets(tmp_path: Path) -> None:
    vscode = tmp_path / ".vscode"
    vscode.mkdir()
    (tmp_path / ".env").write_text("REGION=eu-west-1\nAPI_TOKEN=tok_dont_copy_me_0123456789\nLEVEL=from-file\n")
    src = write_json(
        vscode / "mcp.json",
        {
            "servers": {
                "a": {
                    "type": "stdio",
                    "command": "srv",
                    "envFile": "${workspaceFolder}/.env",
                    "env": {"LEVEL": "debug"},
                },
                "b": {"type": "stdio", "command": "srv", "envFile": "missing.env"},
            }
        },
    )
    warnings: list[str] = []
    data = import_file(src, warnings=warnings)
    env = data["servers"]["a"]["env"]
    assert env == {"REGION": "eu-west-1", "API_TOKEN": "${API_TOKEN}", "LEVEL": "debug"}  # env wins, as in VS Code
    text = to_toml(data)
    assert "tok_dont_copy_me" not in text and "export API_TOKEN" in text
    assert any("servers.b.envFile" in w and "missing.env" in w and "does not exist" in w for w in warnings)
    assert "env" not in data["servers"]["b"]


def test_values_no_process_can_take_are_named(tmp_path: Path) -> None:
    src = write_json(
        tmp_path / "c.json",
        {
            "mcpServers": {
                "nul": {"command": "srv\u0000x"},
                "badenv": {"command": "srv", "env": {"A=B": "1", "OK": "2"}},
            }
        },
    )
    warnings: list[str] = []
    servers = import_file(src, warnings=warnings)["servers"]
    assert list(servers) == ["badenv"] and servers["badenv"]["env"] == {"OK": "2"}
    assert any("mcpServers.nul: not imported" in w and "NUL" in w for w in warnings)
    assert any("'A=B' is not a variable name" in w for w in warnings)


LITERAL = {
    "mcpServers": {
        "github": {
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-github"],
            "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_literal_0001", "AUTHOR": "me", "LOG_LEVEL": "debug"},
        },
        "remote": {
            "url": "https://remote.example/mcp",
            "headers": {"Authorization": "Bearer sk-literal-0002", "X-API-Key": "k-literal-0003", "Accept": "x"},
        },
    }
}


def test_secrets_written_as_values_become_references_to_export(tmp_path: Path) -> None:
    warnings: list[str] = []
    data = import_file(write_json(tmp_path / "claude.json", LITERAL), warnings=warnings)
    text = to_toml(data)
    assert "literal" not in text  # no secret of the client file reaches the TOML
    servers = tomllib.loads(text)["servers"]
    assert servers["github"]["env"] == {
        "GITHUB_PERSONAL_ACCESS_TOKEN": "${GITHUB_PERSONAL_ACCESS_TOKEN}",
        "AUTHOR": "me",  # a name that only looks like one is a value
        "LOG_LEVEL": "debug",
    }
    assert servers["remote"]["auth"] == "token" and servers["remote"]["token_env"] == "REMOTE_TOKEN"
    assert servers["remote"]["headers"] == {"X-API-Key": "${REMOTE_X_API_KEY}", "Accept": "x"}
    for var in ("GITHUB_PERSONAL_ACCESS_TOKEN", "REMOTE_TOKEN", "REMOTE_X_API_KEY"):
        assert any(f"export {var} " in w for w in warnings), warnings
        assert "# TODO: server '" in text and f"export {var} " in text
    Config.model_validate(tomllib.loads(text))


def test_keep_secrets_copies_them_as_written(tmp_path: Path) -> None:
    data = import_file(write_json(tmp_path / "claude.json", LITERAL), keep_secrets=True)
    servers = tomllib.loads(to_toml(data))["servers"]
    assert servers["github"]["env"]["GITHUB_PERSONAL_ACCESS_TOKEN"] == "ghp_literal_0001"
    assert servers["remote"]["headers"]["Authorization"] == "Bearer sk-literal-0002"


def test_config_import_cli_warns_and_keeps_secrets_only_when_asked(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from mcpconnect._cli import cli

    source = write_json(tmp_path / "claude.json", LITERAL)
    out = tmp_path / "mcpconnect.toml"
    result = CliRunner().invoke(cli, ["config", "import", str(source), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "export GITHUB_PERSONAL_ACCESS_TOKEN" in result.output
    assert "literal" not in out.read_text() and "literal" not in result.output
    result = CliRunner().invoke(cli, ["config", "import", str(source), "--keep-secrets"])
    assert result.exit_code == 0 and "ghp_literal_0001" in result.output
