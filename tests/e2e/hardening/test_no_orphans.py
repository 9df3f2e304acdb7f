"""No server outlives its client, whatever way the client ends: SIGKILL, Ctrl-C, a clean stop.

The server here ignores end of file on stdin, SIGTERM, SIGINT and SIGHUP, and starts a child
that ignores them too; only the process-group kill of the stdio guard can end them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

HERE = Path(__file__).parent
STUBBORN = str(HERE / "stubborn_server.py")
CLIENT = str(HERE / "client.py")
FAULTY = str(HERE.parents[1] / "core" / "hub" / "faulty_server.py")
MCPCONNECT = str(Path(sys.executable).with_name("mcpconnect"))


def descendants(pid: int) -> set[int]:
    """Every living process below ``pid`` (by parent links in /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return {p for p in found if alive(p)}


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_until(condition: Callable[[], bool], limit: float = 30.0) -> bool:
    """Poll ``condition`` until it holds or ``limit`` seconds pass (a deadline, not a measurement)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def kill_all(pids: set[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def config(tmp_path: Path, *extra: str) -> Path:
    path = tmp_path / "mcpconnect.toml"
    path.write_text(
        "\n".join(
            [
                '[storage]\nbackend = "memory"',
                "[servers.stubborn]",
                f"command = {json.dumps(sys.executable)}",
                f"args = [{json.dumps(STUBBORN)}, {json.dumps(str(tmp_path / 'pids'))}]",
                "options = { stop_timeout = 0.5 }",
                *extra,
            ]
        )
        + "\n"
    )
    return path


def server_pids(tmp_path: Path) -> set[int]:
    pidfile = tmp_path / "pids"
    assert wait_until(pidfile.exists), "the server never started"
    return {int(p) for p in pidfile.read_text().split()}


def test_sigkilled_client_leaves_no_server_and_no_server_child(mcpconnect_isolated: Path, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    client = subprocess.Popen([sys.executable, CLIENT, str(config(tmp_path)), str(ready)])
    started: set[int] = set()
    try:
        assert wait_until(ready.exists), "the client never connected"
        assert "'stubborn': 'ready'" in ready.read_text()
        started = descendants(client.pid)
        server, child = server_pids(tmp_path)
        assert {server, child} <= started
        client.send_signal(signal.SIGKILL)
        client.wait()
        assert wait_until(lambda: not any(alive(p) for p in started)), (
            f"still running after the client was killed: {sorted(p for p in started if alive(p))}"
        )
    finally:
        kill_all(started)
        client.kill()


def test_ctrl_c_exits_130_without_traceback_and_stops_every_server(mcpconnect_isolated: Path, tmp_path: Path) -> None:
    # One server is up; the other never answers, so 'check' is still waiting when Ctrl-C comes.
    path = config(
        tmp_path,
        "[servers.hanging]",
        f"command = {json.dumps(sys.executable)}",
        f'args = [{json.dumps(FAULTY)}, "hang-at-start"]',
        "timeout = 600",
    )
    cli = subprocess.Popen(
        [MCPCONNECT, "--config", str(path), "check"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    started: set[int] = set()
    try:
        server_pids(tmp_path)
        assert wait_until(lambda: len(descendants(cli.pid)) >= 5)  # two guards, two servers, a child
        started = descendants(cli.pid)
        cli.send_signal(signal.SIGINT)
        out, err = cli.communicate(timeout=60)
        assert cli.returncode == 130, (out, err)
        assert "Traceback" not in err and "unexpected" not in err
        assert "interrupted" in err
        assert wait_until(lambda: not any(alive(p) for p in started)), (
            f"still running after Ctrl-C: {sorted(p for p in started if alive(p))}"
        )
    finally:
        kill_all(started)
        cli.kill()


def test_a_clean_stop_ends_the_server_group(mcpconnect_isolated: Path, tmp_path: Path) -> None:
    """'tools' connects, lists, disconnects: the stubborn server and its child end with it."""
    result = subprocess.run(
        [MCPCONNECT, "--config", str(config(tmp_path)), "tools", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    server, child = server_pids(tmp_path)
    assert wait_until(lambda: not alive(server) and not alive(child))
