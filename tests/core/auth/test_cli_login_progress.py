"""``mcpconnect login`` says what it waits for and for how long: a countdown on a terminal, one line
otherwise. Against oidc-provider, the browser's part played by the headless follower."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mcpconnect_oidc_server import CONFIDENTIAL_SECRET

from mcpconnect.auth._headless import follow_authorization

pytestmark = pytest.mark.node

CLI = [sys.executable, "-c", "from mcpconnect._cli import main; main()"]


def _project(tmp_path: Path, issuer: str) -> tuple[Path, dict[str, str]]:
    project = tmp_path / "project"
    project.mkdir()
    (project / "mcpconnect.toml").write_text(
        "[storage]\nbackend = 'file'\nencryption = 'off'\n\n"
        f"[providers.local]\ntype = 'oidc'\nissuer = {issuer!r}\nclient_id = 'confidential'\n"
        "client_secret_env = 'LOCAL_SECRET'\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCPCONNECT_", "XDG_"))}
    env.update(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data"), LOCAL_SECRET=CONFIDENTIAL_SECRET)
    env["COLUMNS"] = "200"
    return project, env


def test_on_a_terminal_the_login_counts_down(oidc_server, tmp_path):
    pexpect = pytest.importorskip("pexpect")
    project, env = _project(tmp_path, oidc_server.issuer)
    child = pexpect.spawn(
        CLI[0],
        [*CLI[1:], "login", "local", "--no-browser", "--timeout", "120"],
        env=env,
        cwd=str(project),
        encoding="utf-8",
        timeout=60,
    )
    try:
        child.expect(r"(http://\S+/auth\?\S+)\r\n")
        url = child.match.group(1)
        child.expect(r"Waiting for the login to local in the browser: (1 min \d\d s|2 min 00 s) left")
        assert asyncio.run(follow_authorization(url)).status == 200
        child.expect("Logged in to local as")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


def test_without_a_terminal_one_line_says_what_and_how_long(oidc_server, tmp_path):
    project, env = _project(tmp_path, oidc_server.issuer)
    proc = subprocess.Popen(
        [*CLI, "login", "local", "--no-browser", "--timeout", "90"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=project,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http")
        assert asyncio.run(follow_authorization(url)).status == 200
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Waiting for the login to local in the browser (up to 1 min 30 s; Ctrl-C to cancel)..." in err
    assert not re.search(r"\x1b\[", err)  # no terminal codes when stderr is not a terminal
