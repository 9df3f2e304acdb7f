"""``mcpconnect login/whoami/logout SERVER`` for a server with auth = "mcp", and the demo script."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from mcpconnect._cli import cli

DEMO = Path(__file__).resolve().parents[3] / "examples" / "protected" / "run_protected_demo.py"


def write_config(tmp_path: Path, mcp_url: str) -> Path:
    config = tmp_path / "mcpconnect.toml"
    config.write_text(
        f"""
[storage]
backend = "sqlite"
path = "{tmp_path / "tokens.db"}"

[servers.notes]
url = "{mcp_url}"
transport = "streamable-http"
auth = "mcp"

[servers.notes.options]
headless_login = true
"""
    )
    return config


async def invoke(*args: str) -> tuple[int, str, str]:
    runner = CliRunner()
    result = await asyncio.to_thread(runner.invoke, cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


async def test_login_whoami_call_logout_through_the_cli(protected, tmp_path):
    async with protected.running() as run:
        config = str(write_config(tmp_path, run.mcp_url))
        code, _, err = await invoke("--config", config, "login", "notes")
        assert code == 0, err
        assert "Logged in to notes" in err
        code, out, _ = await invoke("--config", config, "whoami", "notes")
        assert code == 0 and "notes: default" in out
        assert run.authority.issuer.rstrip("/") in out
        code, out, err = await invoke("--config", config, "call", "notes", "read_note", "--args", '{"name": "cli"}')
        assert code == 0, err
        assert "note 'cli' of demo-user" in out
        token = next(iter(run.authority.access))
        assert token not in out + err  # never a secret in CLI output
        code, _, err = await invoke("--config", config, "logout", "notes")
        assert code == 0, err
        assert "revoked at the provider and deleted" in err
        assert run.authority.access == {}
        code, _, err = await invoke("--config", config, "whoami", "notes")
        assert code != 0 and "mcpconnect login notes" in err


def test_the_protected_demo_script_runs_the_whole_loop():
    done = subprocess.run([sys.executable, str(DEMO)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1/1 servers operational" in done.stdout
    assert "note 'welcome' of demo-user: the protected server answered" in done.stdout
    assert "demo complete" in done.stdout
