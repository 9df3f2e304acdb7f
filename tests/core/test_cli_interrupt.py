"""Ctrl-C stops ``serve``, ``ui`` and ``proxy`` as it stops every command: the line
``interrupted`` on stderr, exit status 130, no traceback (docs/security.md)."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

MCPCONNECT = str(Path(sys.executable).with_name("mcpconnect"))
FAULTY = Path(__file__).parent / "hub" / "faulty_server.py"


def wait_for_page(lines: str) -> None:
    """Until the page of the first http:// address in ``lines`` answers: the server has started
    (a SIGINT during uvicorn's startup is another matter)."""
    import re

    import httpx

    url = re.search(r"(http://127\.0\.0\.1:\d+)/", lines)
    assert url is not None, lines
    for _attempt in range(600):
        try:
            httpx.get(f"{url.group(1)}/ui", timeout=5)
            return
        except httpx.TransportError:
            select.select([], [], [], 0.1)
    pytest.fail(f"{url.group(1)} never answered")


def read_until(process: subprocess.Popen[str], marker: str) -> str:
    """stderr up to the line holding ``marker`` (the server is up); fails if the process ends."""
    seen = ""
    assert process.stderr is not None
    while marker not in seen:
        ready, _, _ = select.select([process.stderr], [], [], 60)
        line = process.stderr.readline() if ready else ""
        if not line:
            process.kill()
            pytest.fail(f"no {marker!r} line; stderr so far: {seen}")
        seen += line
    return seen


@pytest.mark.parametrize(
    ("argv", "marker"),
    [
        (["serve", "--transport", "http", "--port", "0"], "serving 1 server(s) at http://"),
        (["ui", "--port", "0"], "dashboard at http://"),
        (["proxy", "notes"], "serving 1 server(s) over stdio"),
    ],
)
def test_sigint_prints_interrupted_and_exits_130(argv: list[str], marker: str, mcpconnect_isolated: Path) -> None:
    config = mcpconnect_isolated / "mcpconnect.toml"
    config.write_text(
        f'[storage]\nbackend = "memory"\n\n[servers.notes]\ncommand = {json.dumps(sys.executable)}\n'
        f'args = [{json.dumps(str(FAULTY))}, "serve"]\n'
    )
    process = subprocess.Popen(
        [MCPCONNECT, "--config", str(config), *argv],
        stdin=subprocess.PIPE,  # proxy serves stdio: stdin stays open until the signal
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        lines = read_until(process, marker)
        if "http://" in marker:
            wait_for_page(lines)
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err
    assert "interrupted" in err.splitlines()
    assert "Traceback" not in err, err
