"""Progress where work takes time: ``check`` shows servers connecting on a terminal and nothing
extra otherwise; ``login`` says what it waits for and for how long. Driven through a pty."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mcpconnect._cli.progress import Connecting, duration

CLI = [sys.executable, "-c", "from mcpconnect._cli import main; main()"]
FAULTY = str(Path(__file__).resolve().parent / "hub" / "faulty_server.py")


def _project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    project = tmp_path / "project"
    project.mkdir()
    (project / "mcpconnect.toml").write_text(
        "[storage]\nbackend = 'memory'\n\n"
        f"[servers.quick]\ncommand = {sys.executable!r}\nargs = [{FAULTY!r}]\n\n"
        f"[servers.stuck]\ncommand = {sys.executable!r}\nargs = [{FAULTY!r}, 'hang-at-start']\ntimeout = 3\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCPCONNECT_")}
    env.update(HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"), COLUMNS="120")
    return project, env


def test_check_on_a_terminal_shows_each_server_connecting(tmp_path):
    pexpect = pytest.importorskip("pexpect")
    project, env = _project(tmp_path)
    child = pexpect.spawn(CLI[0], [*CLI[1:], "check"], env=env, cwd=str(project), encoding="utf-8", timeout=60)
    try:
        # While 'stuck' hangs, the live display shows both servers and how many have settled.
        child.expect(r"stuck\s+(waiting|starting)\s+\S*\d+\.\d s")
        child.expect(r"1/2 settled")
        child.expect(r"1/2 servers operational")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 1


def test_check_without_a_terminal_prints_the_result_alone(tmp_path):
    project, env = _project(tmp_path)
    done = subprocess.run([*CLI, "check"], capture_output=True, text=True, env=env, cwd=project, timeout=60)
    assert done.returncode == 1
    assert "settled" not in done.stdout + done.stderr
    assert "1/2 servers operational" in done.stdout


def test_durations_read_as_people_say_them():
    assert [duration(s) for s in (0, 45.9, 60, 299, 3600 + 600, -5)] == [
        "0 s",
        "45 s",
        "1 min 00 s",
        "4 min 59 s",
        "1 h 10 min",
        "0 s",
    ]


def test_connecting_keeps_how_long_each_server_took():
    progress = Connecting(["a", "b"])
    progress.update("a", "starting")
    progress.update("a", "ready")
    took = progress.took["a"]
    progress.update("b", "failed")
    assert progress.took["a"] == took and "b" in progress.took
    progress.update("a", "restarting")  # a new attempt times again
    assert "a" not in progress.took
