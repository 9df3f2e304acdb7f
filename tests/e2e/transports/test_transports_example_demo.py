"""The README's main job: examples/run_demo.py logs in to the protected example server, checks every
example server (stdio, streamable HTTP, protected) and calls a tool on the protected one."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_run_demo_reports_both_example_servers_operational(mcpconnect_isolated):
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "run_demo.py"), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["total"] == 3
    assert report["ok"] == 3
    by_name = {s["name"]: s for s in report["servers"]}
    assert by_name["notes-stdio"]["transport"] == "stdio"
    assert by_name["notes-http"]["transport"] == "streamable-http"
    assert by_name["notes-http"]["tools"] == 3
    assert by_name["protected-notes"]["ok"] is True
    assert "Logged in to protected-notes" in done.stderr
    assert "note 'welcome' of demo-user: the protected server answered" in done.stderr


def test_run_demo_prints_the_table(mcpconnect_isolated):
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "run_demo.py")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "notes-http" in done.stdout
    assert "3/3 servers operational" in done.stdout
    assert "demo complete" in done.stderr
