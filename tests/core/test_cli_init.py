"""``mcpconnect init``: driven through a terminal (a pty, with pexpect) and through its flags.

Every run gets a home of its own holding the client configurations that ``init`` should find
where each client documents them (Linux paths; ``--client`` and the macOS ones are unit-tested)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpconnect._config.clients import candidates, find_client_configs, merge_servers

CLI = [sys.executable, "-c", "from mcpconnect._cli import main; main()"]


@pytest.fixture
def machine(tmp_path: Path) -> dict:
    """A home with Cursor, Claude Desktop, VS Code and Claude Code configurations, a project folder."""
    home, project = tmp_path / "home", tmp_path / "project"
    (home / ".cursor").mkdir(parents=True)
    (home / ".config" / "Claude").mkdir(parents=True)
    (home / ".config" / "Code" / "User").mkdir(parents=True)
    (project / ".vscode").mkdir(parents=True)
    (home / ".cursor" / "mcp.json").write_text(
        json.dumps(
            {
                "mcpServers": {
                    "notes": {"command": "python3", "args": ["notes.py"]},
                    "docs": {"url": "https://docs.example/mcp", "headers": {"Authorization": "Bearer ${DOCS_TOKEN}"}},
                }
            }
        )
    )
    (home / ".config" / "Claude" / "claude_desktop_config.json").write_text(
        json.dumps({"mcpServers": {"notes": {"command": "python3", "args": ["other-notes.py"]}}})
    )
    # VS Code's files are JSON with comments; its settings.json here has no MCP servers at all.
    (project / ".vscode" / "mcp.json").write_text(
        '{\n  // the team\'s servers\n  "servers": {"lint": {"type": "stdio", "command": "lint-mcp",},},\n}\n'
    )
    (home / ".config" / "Code" / "User" / "settings.json").write_text('{"editor.fontSize": 14}')
    (home / ".claude.json").write_text(
        json.dumps(
            {
                "numStartups": 4,
                "oauthAccount": {"emailAddress": "someone@example.com"},
                "projects": {str(project): {"mcpServers": {"db": {"type": "stdio", "command": "db-mcp"}}}},
            }
        )
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MCPCONNECT_", "XDG_"))},
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "DOCS_TOKEN": "docs-token-value-never-written",
        "MCPCONNECT_STORAGE__ENCRYPTION": "off",
    }
    return {"home": home, "project": project, "env": env}


def run(machine: dict, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "init", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=machine["env"],
        cwd=machine["project"],
        timeout=120,
        check=False,
    )


def written(machine: dict) -> dict:
    return tomllib.loads((machine["project"] / "mcpconnect.toml").read_text())


# -- through flags ----------------------------------------------------------------------------------


def test_flags_import_everything_found_and_pick_store_and_provider(machine):
    done = run(
        machine,
        "--import",
        "--store",
        "file",
        "--provider",
        "work=github",
        "--client-id",
        "work=Iv1.abc",
        "--client-secret-env",
        "work=WORK_SECRET",
        "--no-login",
    )
    assert done.returncode == 0, done.stderr
    config = written(machine)
    assert config["storage"] == {"backend": "file"}
    assert config["providers"] == {
        "work": {"type": "github", "client_id": "Iv1.abc", "client_secret_env": "WORK_SECRET"}
    }
    servers = config["servers"]
    assert servers["notes"]["args"] == ["other-notes.py"]  # Claude Desktop is looked at first
    assert servers["notes-cursor"]["args"] == ["notes.py"]  # Cursor's differs: kept, renamed
    assert servers["docs"] == {"url": "https://docs.example/mcp", "auth": "token", "token_env": "DOCS_TOKEN"}
    assert servers["lint"]["command"] == "lint-mcp"  # VS Code's commented JSON
    assert servers["db"]["command"] == "db-mcp"  # Claude Code's local scope for this folder
    assert "imported as 'notes-cursor'" in done.stderr
    text = (machine["project"] / "mcpconnect.toml").read_text()
    assert "docs-token-value-never-written" not in text and "someone@example.com" not in text
    assert stat.S_IMODE((machine["project"] / "mcpconnect.toml").stat().st_mode) == 0o600
    # What it wrote is a configuration mcpconnect itself accepts.
    check = subprocess.run(
        [*CLI, "config", "validate", "--json"],
        capture_output=True,
        text=True,
        env=machine["env"],
        cwd=machine["project"],
    )
    assert json.loads(check.stdout)["servers"] == 5, check.stderr


def test_no_terminal_and_no_flag_stops_and_names_the_flag(machine):
    done = run(machine)
    assert done.returncode == 2
    assert "pass --import or --no-import, or --yes" in done.stderr
    assert not (machine["project"] / "mcpconnect.toml").exists()
    done = run(machine, "--no-import")
    assert done.returncode == 2 and "--store NAME" in done.stderr
    done = run(machine, "--no-import", "--store", "redis")
    assert done.returncode == 2 and "--store-url URL" in done.stderr
    assert "Traceback" not in done.stderr


def test_yes_accepts_the_defaults(machine):
    done = run(machine, "--yes")
    assert done.returncode == 0, done.stderr
    config = written(machine)
    assert config["storage"] == {"backend": "sqlite"}
    assert "providers" not in config
    assert set(config["servers"]) == {"notes", "notes-cursor", "docs", "lint", "db"}


def test_an_existing_file_is_replaced_only_when_asked_and_backed_up(machine):
    target = machine["project"] / "mcpconnect.toml"
    target.write_text("# mine\n[servers.keep]\ncommand = 'x'\n")
    for args in ((), ("--yes",), ("--yes", "--no-import")):
        done = run(machine, *args)
        assert done.returncode == 2 and "pass --force" in done.stderr
        assert target.read_text() == "# mine\n[servers.keep]\ncommand = 'x'\n"
    done = run(machine, "--yes", "--force", "--no-import")
    assert done.returncode == 0, done.stderr
    backup = machine["project"] / "mcpconnect.toml.bak"
    assert backup.read_text() == "# mine\n[servers.keep]\ncommand = 'x'\n"
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert written(machine)["servers"] == {}
    assert run(machine, "--yes", "--force", "--client", "cursor").returncode == 0
    assert (machine["project"] / "mcpconnect.toml.bak.1").is_file()  # the first backup stays
    assert set(written(machine)["servers"]) == {"notes", "docs"}


def test_from_imports_a_named_file_and_a_bad_one_is_explained(machine, tmp_path):
    good = tmp_path / "exported.json"
    good.write_text(json.dumps({"mcpServers": {"search": {"url": "https://search.example/mcp"}}}))
    done = run(machine, "--from", str(good), "--store", "sqlite", "--no-providers", "--no-login")
    assert done.returncode == 0, done.stderr
    assert set(written(machine)["servers"]) == {"search"}
    # A token written as a value in the client file: named, never copied, a TODO in the file.
    secret = tmp_path / "with-secret.json"
    secret.write_text(
        json.dumps({"mcpServers": {"gh": {"command": "gh-mcp", "env": {"GH_TOKEN": "ghp-literal-init-0001"}}}})
    )
    done = run(machine, "--force", "--from", str(secret), "--store", "sqlite", "--no-providers", "--no-login")
    assert done.returncode == 0, done.stderr
    text = (machine["project"] / "mcpconnect.toml").read_text()
    assert "ghp-literal-init-0001" not in text + done.stderr + done.stdout
    assert "export GH_TOKEN" in done.stderr and "# TODO: server 'gh': export GH_TOKEN" in text
    assert written(machine)["servers"]["gh"]["env"] == {"GH_TOKEN": "${GH_TOKEN}"}
    good_only = run(machine, "--force", "--from", str(good), "--store", "sqlite", "--no-providers", "--no-login")
    assert good_only.returncode == 0, good_only.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    done = run(machine, "--force", "--from", str(bad), "--yes")
    assert done.returncode == 2
    assert str(bad) in done.stderr and "not valid JSON" in done.stderr
    assert set(written(machine)["servers"]) == {"search"}  # nothing half-written


def test_a_broken_client_config_is_reported_and_the_rest_imported(machine):
    (machine["home"] / ".cursor" / "mcp.json").write_text('{"mcpServers": {"x": {"args": []}}}')
    done = run(machine, "--yes")
    assert done.returncode == 0, done.stderr
    assert "Cursor (user)" in done.stderr and "cannot be imported" in done.stderr
    assert "notes" in written(machine)["servers"]


def test_any_provider_key_has_a_flag_but_the_secret_never_goes_in_the_file(machine):
    done = run(
        machine,
        "--no-import",
        "--store",
        "sqlite",
        "--provider",
        "corp=oauth2",
        "--client-id",
        "corp=app-1",
        "--provider-option",
        "corp.authorize_url=https://id.example/authorize",
        "--provider-option",
        "corp.token_url=https://id.example/token",
        "--provider-option",
        "corp.scopes=['read', 'write']",
        "--client-secret-env",
        "corp=",
        "--no-login",
    )
    assert done.returncode == 0, done.stderr
    assert written(machine)["providers"]["corp"] == {
        "type": "oauth2",
        "client_id": "app-1",
        "authorize_url": "https://id.example/authorize",
        "token_url": "https://id.example/token",
        "scopes": ["read", "write"],
    }
    refused = run(
        machine, "--force", "--yes", "--provider", "corp=oauth2", "--provider-option", "corp.client_secret=s3"
    )
    assert refused.returncode == 2 and "only through --client-secret-env" in refused.stderr
    # oauth2 has no discovery: without its endpoints and no terminal, init names the flag.
    missing = run(
        machine, "--force", "--no-import", "--store", "sqlite", "--provider", "x=oauth2", "--client-id", "x=1"
    )
    assert missing.returncode == 2 and "--provider-option x.authorize_url=URL" in missing.stderr


def test_bad_flags_are_usage_errors(machine):
    for args, needle in (
        (("--yes", "--store", "nosuchstore"), "no such token store"),
        (("--yes", "--provider", "x=nosuchtype"), "no provider type 'nosuchtype'"),
        (("--yes", "--client-id", "novalue"), "write NAME=VALUE"),
        (("--yes", "--login", "ghost"), "not a provider added here"),
    ):
        done = run(machine, *args)
        assert done.returncode == 2, done.stderr
        assert needle in done.stderr


# -- through a terminal -----------------------------------------------------------------------------


def _spawn(machine: dict, *args: str):
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(
        CLI[0], [*CLI[1:], "init", *args], env=machine["env"], cwd=str(machine["project"]), encoding="utf-8", timeout=20
    )
    return pexpect, child


def test_a_terminal_session_asks_each_question(machine):
    pexpect, child = _spawn(machine)
    try:
        child.expect(r"Import 1 server\(s\) from Claude Desktop \(user\), ~/.config/Claude/claude_desktop_config.json")
        child.sendline("n")
        child.expect(r"Import 2 server\(s\) from Cursor \(user\), ~/.cursor/mcp.json \(docs, notes\)\? \[Y/n\]")
        child.sendline("")  # the default: yes
        child.expect(r"VS Code \(workspace\)")
        child.sendline("y")
        child.expect(r"Claude Code \(local\)")
        child.sendline("n")
        child.expect(r"Token store \(")
        child.sendline("nonsense")
        child.expect("not one of")  # click re-asks
        child.sendline("file")
        child.expect(r"Add an OAuth provider\? \[y/N\]")
        child.sendline("y")
        child.expect("Provider type")
        child.sendline("github")
        child.expect(r"Name for it in mcpconnect.toml \[github\]")
        child.sendline("")
        child.expect("github: client id")
        child.sendline("Iv1.typed")
        child.expect(r"environment variable holding the client secret \(empty for none\) \[GITHUB_CLIENT_SECRET\]")
        child.sendline("")
        child.expect(r"Add another provider\? \[y/N\]")
        child.sendline("")
        child.expect(r"Log in to github now\? \[Y/n\]")
        child.sendline("n")
        child.expect("next: 'mcpconnect check'")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    config = written(machine)
    assert set(config["servers"]) == {"notes", "docs", "lint"}
    assert config["servers"]["notes"]["args"] == ["notes.py"]  # Cursor's: Claude Desktop's was declined
    assert config["storage"] == {"backend": "file"}
    assert config["providers"]["github"] == {
        "type": "github",
        "client_id": "Iv1.typed",
        "client_secret_env": "GITHUB_CLIENT_SECRET",
    }


def test_a_terminal_session_keeps_an_existing_file_when_told_no(machine):
    target = machine["project"] / "mcpconnect.toml"
    target.write_text("[servers.keep]\ncommand = 'x'\n")
    pexpect, child = _spawn(machine)
    try:
        child.expect(r"mcpconnect.toml exists. Replace it \(the old one is kept as a backup\)\? \[y/N\]")
        child.sendline("")
        child.expect("left as it is")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 2
    assert target.read_text() == "[servers.keep]\ncommand = 'x'\n"
    assert not (machine["project"] / "mcpconnect.toml.bak").exists()


def test_ctrl_c_in_the_middle_writes_nothing(machine):
    pexpect, child = _spawn(machine, "--import")
    try:
        child.expect(r"Token store")
        child.sendintr()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus != 0 or child.signalstatus is not None
    assert not (machine["project"] / "mcpconnect.toml").exists()


# -- finding the clients' files ---------------------------------------------------------------------


def test_documented_locations_on_macos_and_linux(tmp_path):
    home, cwd = Path("/Users/ada"), Path("/work/p")
    mac = {(c, s): p for c, s, p in candidates(home, cwd, platform="darwin", environ={})}
    assert mac[("claude-desktop", "user")] == home / "Library/Application Support/Claude/claude_desktop_config.json"
    assert mac[("vscode", "user")] == home / "Library/Application Support/Code/User/mcp.json"
    assert mac[("cursor", "user")] == home / ".cursor/mcp.json"
    assert mac[("claude-code", "user")] == home / ".claude.json"
    linux = {(c, s): p for c, s, p in candidates(Path("/home/ada"), cwd, platform="linux", environ={})}
    assert linux[("claude-desktop", "user")] == Path("/home/ada/.config/Claude/claude_desktop_config.json")
    assert linux[("vscode", "workspace")] == cwd / ".vscode/mcp.json"
    assert linux[("claude-code", "project")] == cwd / ".mcp.json"
    xdg = {(c, s): p for c, s, p in candidates(Path("/h"), cwd, platform="linux", environ={"XDG_CONFIG_HOME": "/x"})}
    assert xdg[("vscode", "user settings")] == Path("/x/Code/User/settings.json")


def test_only_the_clients_asked_for_are_looked_at(machine):
    found = find_client_configs(machine["home"], machine["project"], clients=["vscode"], environ=machine["env"])
    assert [(f.client, f.scope) for f in found] == [("vscode", "workspace")]


_names = st.text(alphabet="abcdefghij-", min_size=1, max_size=6).filter(lambda s: s.strip("-"))


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.dictionaries(_names, st.sampled_from(["a", "b", "c"]), max_size=5), min_size=1, max_size=4))
def test_merging_keeps_every_distinct_server_once(tables):
    from mcpconnect._config.clients import ClientConfig

    sources = [
        ClientConfig(
            ["cursor", "vscode", "claude-code", "claude-desktop"][i % 4],
            Path(f"/f{i}"),
            "user",
            {name: {"command": cmd} for name, cmd in table.items()},
        )
        for i, table in enumerate(tables)
    ]
    merged, _notes = merge_servers(sources)
    distinct_per_name = {(name, cmd) for table in tables for name, cmd in table.items()}
    assert len(merged) == len(distinct_per_name)
    assert sorted(s["command"] for s in merged.values()) == sorted(cmd for _, cmd in distinct_per_name)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    claude=st.dictionaries(st.sampled_from(["mcpServers", "projects", "servers", "x"]), _json, max_size=3),
    cursor=st.one_of(
        st.binary(max_size=40).map(lambda b: b'{"mcpServers": ' + b),  # not UTF-8, not JSON...
        _json.map(lambda v: json.dumps({"mcpServers": v}).encode()),
    ),
)
def test_hostile_client_files_are_skipped_or_explained_never_raised(tmp_path_factory, claude, cursor):
    home = tmp_path_factory.mktemp("home")
    project = home / "p"
    project.mkdir()
    (home / ".cursor").mkdir()
    (home / ".cursor" / "mcp.json").write_bytes(cursor)
    if isinstance(claude.get("projects"), dict):
        claude["projects"][str(project)] = claude["projects"].get("x", {"mcpServers": claude.get("x")})
    (home / ".claude.json").write_text(json.dumps(claude))
    found = find_client_configs(home, project, environ={"HOME": str(home)})
    for entry in found:
        assert entry.servers or entry.error
        assert entry.error is None or str(entry.path) in entry.error or entry.client == "claude-code"
        for name in entry.servers:
            assert name and all(c.isalnum() or c in "_-" for c in name)


def test_a_file_met_twice_is_read_once_and_a_non_utf8_one_is_explained(tmp_path):
    (tmp_path / ".cursor").mkdir()
    (tmp_path / ".cursor" / "mcp.json").write_bytes(b'{"mcpServers": \xff\xfe}')
    found = find_client_configs(tmp_path, tmp_path, environ={})  # run from the home folder
    assert [(f.client, f.scope) for f in found] == [("cursor", "user")]
    assert found[0].error is not None and "is not UTF-8 text" in found[0].error
