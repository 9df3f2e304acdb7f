"""``mcpconnect init`` ends with the logins it offers: a real login against oidc-provider, the
browser played by a headless follower (``BROWSER``), through a terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mcpconnect_oidc_server import CONFIDENTIAL_SECRET

pytestmark = pytest.mark.node

CLI = [sys.executable, "-c", "from mcpconnect._cli import main; main()"]
BROWSER = Path(__file__).resolve().parents[2] / "fixtures" / "headless_browser.py"


def test_init_adds_a_provider_and_logs_in_through_a_terminal(oidc_server, tmp_path):
    pexpect = pytest.importorskip("pexpect")
    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    project.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MCPCONNECT_", "XDG_"))},
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / "data"),
        "LOCAL_CLIENT_SECRET": CONFIDENTIAL_SECRET,
        "MCPCONNECT_STORAGE__ENCRYPTION": "off",
        "BROWSER": f"{sys.executable} {BROWSER} %s",
    }
    child = pexpect.spawn(
        CLI[0],
        [*CLI[1:], "init", "--no-import", "--store", "file", "--provider", "local=oidc"],
        env=env,
        cwd=str(project),
        encoding="utf-8",
        timeout=60,
    )
    try:
        child.expect("local: client id")
        child.sendline("confidential")
        child.expect("local: issuer URL")
        child.sendline(oidc_server.issuer)
        child.expect(r"\[LOCAL_CLIENT_SECRET\]")
        child.sendline("")
        child.expect(r"Log in to local now\? \[Y/n\]")
        child.sendline("")
        child.expect("Logged in to local as")
        child.expect(pexpect.EOF)
        transcript = child.before
    finally:
        child.close(force=True)
    assert child.exitstatus == 0, transcript
    assert CONFIDENTIAL_SECRET not in (project / "mcpconnect.toml").read_text()
    who = subprocess.run(
        [*CLI, "whoami", "local", "--json"], capture_output=True, text=True, env=env, cwd=project, check=False
    )
    assert who.returncode == 0, who.stderr
    assert json.loads(who.stdout)["account"] == "alice"


def test_a_failed_login_is_reported_and_the_file_kept(oidc_server, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MCPCONNECT_", "XDG_"))},
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "MCPCONNECT_STORAGE__ENCRYPTION": "off",
        "BROWSER": f"{sys.executable} {BROWSER} %s",
        "WRONG_SECRET": "not-the-client-secret",  # the code exchange is refused
    }
    done = subprocess.run(
        [
            *CLI,
            "init",
            "--no-import",
            "--store",
            "memory",
            "--provider",
            "local=oidc",
            "--client-id",
            "local=confidential",
            "--issuer",
            f"local={oidc_server.issuer}",
            "--client-secret-env",
            "local=WRONG_SECRET",
            "--login",
            "local",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=project,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "the login to local did not complete; run 'mcpconnect login local'" in done.stderr
    assert "not-the-client-secret" not in done.stderr + done.stdout
    assert (project / "mcpconnect.toml").is_file()
