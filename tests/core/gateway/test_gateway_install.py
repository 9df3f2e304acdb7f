"""``mcpconnect install``: each client's file keeps everything else, gets a backup, shows a diff,
and ``--undo`` puts back the file byte for byte; the entry written really starts the gateway."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from mcp import Client, StdioServerParameters

from mcpconnect._gateway.install import BACKUP_SUFFIX, UNDONE_SUFFIX, client_file, plan, undo
from mcpconnect.errors import ConfigError

# Shaped like the files these clients write themselves.
REAL_SHAPED = {
    "claude-desktop": {
        "mcpServers": {
            "filesystem": {
                "command": "npx",
                "args": ["-y", "@modelcontextprotocol/server-filesystem", "/Users/me/Desktop"],
            }
        },
        "globalShortcut": "Ctrl+Space",
    },
    "cursor": {"mcpServers": {"linear": {"url": "https://mcp.linear.app/sse"}}},
    "vscode": {
        "inputs": [{"type": "promptString", "id": "gh-token", "description": "GitHub token", "password": True}],
        "servers": {"github": {"type": "http", "url": "https://api.githubcopilot.com/mcp/"}},
    },
    "claude-code": {"mcpServers": {"sentry": {"type": "http", "url": "https://mcp.sentry.dev/mcp"}}},
}


@pytest.mark.parametrize("client", sorted(REAL_SHAPED))
def test_install_round_trips_each_clients_file(tmp_path, client):
    target = client_file(client, cwd=tmp_path / "project", home=tmp_path / "home", environ={})
    assert tmp_path in target.path.parents
    target.path.parent.mkdir(parents=True)
    original = json.dumps(REAL_SHAPED[client], indent=4).encode()
    target.path.write_bytes(original)
    config = tmp_path / "mcpconnect.toml"

    change = plan(target, config, [], command="/opt/bin/mcpconnect")
    assert change.changed and "+" in change.diff and str(target.path) in change.diff
    change.write()
    written = json.loads(target.path.read_text())
    expected = {"command": "/opt/bin/mcpconnect", "args": ["--config", str(config), "serve"]}
    if target.typed:
        expected = {"type": "stdio", **expected}
    assert written[target.key]["mcpconnect"] == expected
    for key, value in REAL_SHAPED[client].items():  # every other key and entry is kept
        if key == target.key:
            assert {k: v for k, v in written[key].items() if k != "mcpconnect"} == value
        else:
            assert written[key] == value

    # A second install (one proxy entry per server) keeps the first backup: undo goes back to the start.
    plan(target, config, ["a", "b"], proxy=True, command="/opt/bin/mcpconnect").write()
    assert json.loads(target.path.read_text())[target.key]["b"]["args"][-2:] == ["proxy", "b"]
    backup = target.path.with_name(target.path.name + BACKUP_SUFFIX)
    assert backup.read_bytes() == original
    installed = target.path.read_bytes()
    said = undo(target)
    assert "restored" in said
    assert target.path.read_bytes() == original and not backup.exists()
    # Nothing is lost: the file as install left it (with any edits made since) is kept aside.
    aside = target.path.with_name(target.path.name + UNDONE_SUFFIX)
    assert aside.name in said and aside.read_bytes() == installed
    with pytest.raises(ConfigError, match="nothing to undo"):
        undo(target)


def test_a_new_file_is_removed_by_undo(tmp_path):
    target = client_file("claude-code", cwd=tmp_path)
    plan(target, tmp_path / "c.toml", [], command="mcpconnect").write()
    assert target.path.exists() and (target.path.stat().st_mode & 0o077) == 0
    assert "removed" in undo(target) and not target.path.exists()


@pytest.mark.parametrize(
    ("text", "words"),
    [("{ // a comment\n}", "not valid JSON"), ("[1, 2]", "not an object"), ('{"mcpServers": []}', "not an object")],
)
def test_a_file_it_cannot_read_is_left_alone(tmp_path, text, words):
    target = client_file("cursor", home=tmp_path)
    target.path.parent.mkdir(parents=True)
    target.path.write_text(text)
    with pytest.raises(ConfigError, match=words):
        plan(target, tmp_path / "c.toml", [], command="mcpconnect")
    assert target.path.read_text() == text
    assert not target.path.with_name(target.path.name + BACKUP_SUFFIX).exists()


async def test_the_installed_entry_starts_the_gateway(gw, mcpconnect_isolated):
    config = mcpconnect_isolated / "mcpconnect.toml"
    config.write_text(
        f'[storage]\nbackend = "memory"\n[servers.local]\ncommand = "{sys.executable}"\nargs = ["{gw.UPSTREAM}"]\n'
    )
    env = {**os.environ, "HOME": str(mcpconnect_isolated)}
    dry = subprocess.run(
        [gw.MCPCONNECT, "install", "cursor", "--dry-run"], capture_output=True, text=True, timeout=60, env=env
    )
    assert dry.returncode == 0 and "+++" in dry.stdout and "nothing written" in dry.stdout
    cursor_file = mcpconnect_isolated / ".cursor" / "mcp.json"
    assert not cursor_file.exists()
    done = subprocess.run([gw.MCPCONNECT, "install", "cursor"], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0 and "wrote" in done.stdout
    entry = json.loads(cursor_file.read_text())["mcpServers"]["mcpconnect"]
    params = StdioServerParameters(command=entry["command"], args=entry["args"], env=env)
    async with Client(params) as client:
        assert "local__echo" in {t.name for t in (await client.list_tools()).tools}
    unknown = subprocess.run(
        [gw.MCPCONNECT, "install", "cursor", "nosuch"], capture_output=True, text=True, timeout=60, env=env
    )
    assert unknown.returncode == 2 and "no server named nosuch" in unknown.stderr
    back = subprocess.run(
        [gw.MCPCONNECT, "install", "cursor", "--undo"], capture_output=True, text=True, timeout=60, env=env
    )
    assert back.returncode == 0 and not cursor_file.exists()


@pytest.mark.parametrize("client", sorted(REAL_SHAPED))
def test_the_diff_shows_only_the_new_entry_and_no_secret(tmp_path, client):
    target = client_file(client, cwd=tmp_path / "project", home=tmp_path / "home", environ={})
    target.path.parent.mkdir(parents=True)
    data = json.loads(json.dumps(REAL_SHAPED[client]))
    data.setdefault(target.key, {})["keyed"] = {
        "command": "npx",
        "args": ["srv", "--api-key=sk-live-ARGSECRET1234", "--header", "Authorization:Bearer sk-HDRARG1234"],
        "env": {"API_KEY": "sk-live-ENVSECRET1234", "PLAIN": "also-hidden-1234"},
        "headers": {"Authorization": "Bearer ghp_HEADERSECRET1234"},
    }
    target.path.write_text(json.dumps(data, separators=(",", ":")))  # a layout unlike ours
    diff = plan(target, tmp_path / "mcpconnect.toml", [], command="/opt/bin/mcpconnect").diff
    for secret in ("ARGSECRET1234", "ENVSECRET1234", "also-hidden-1234", "HEADERSECRET1234", "HDRARG1234"):
        assert secret not in diff
    added = [line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    removed = [line for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    assert removed == [] and any('"mcpconnect"' in line for line in added)


def test_the_clients_page_covers_every_client_install_writes() -> None:
    # docs/clients.md is the walk-through users follow: every client `install` knows is on it,
    # with the file that client_file() really writes, and nothing it does not know.
    import re
    from pathlib import Path

    from mcpconnect._gateway.install import CLIENTS, client_file

    page = (Path(__file__).resolve().parents[3] / "docs" / "clients.md").read_text()
    named = set(re.findall(r"`mcpconnect install ([a-z-]+)`", page))
    assert named == set(CLIENTS)
    home, cwd = Path("/home/me"), Path("/work/project")
    for client in CLIENTS:
        path = client_file(client, cwd=cwd, home=home, environ={}).path
        shown = path.relative_to(cwd) if path.is_relative_to(cwd) else path.relative_to(home)
        assert shown.name in page, (client, shown)


def test_install_names_the_servers_the_client_would_also_start_itself(mcpconnect_isolated, capsys):
    # After `init` imported Claude Desktop's servers, its file still starts them itself: serve
    # would serve them a second time, so install says which (and --proxy does not).
    from mcpconnect._cli import main

    config = mcpconnect_isolated / "mcpconnect.toml"
    config.write_text(
        '[storage]\nbackend = "memory"\n[servers.github]\ncommand = "gh-mcp"\n'
        'env = { GITHUB_TOKEN = "${UNSET_IN_THIS_SHELL_1}" }\n[servers.notes]\ncommand = "n"\n'
    )
    client = mcpconnect_isolated / "claude.json"
    client.write_text(
        json.dumps({"mcpServers": {"github": {"command": "npx", "args": ["gh"]}, "other": {"command": "o"}}})
    )

    def run(*argv: str) -> tuple[int, str]:
        try:
            main(["--config", str(config), *argv])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        return code, capsys.readouterr().err

    code, err = run("install", "claude-desktop", "--file", str(client), "--dry-run")
    assert code == 0 and "also starts 'github' itself" in err and "'other'" not in err and "'notes'" not in err
    # ...and says which variables the client must pass on (a desktop client has no shell's).
    assert "UNSET_IN_THIS_SHELL_1 (github)" in err
    code, err = run("install", "claude-desktop", "--file", str(client), "--proxy", "--dry-run")
    assert code == 0 and "also starts" not in err
