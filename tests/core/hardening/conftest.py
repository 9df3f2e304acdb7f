"""Shared by the hardening tests: a plain-HTTP listener on this machine's non-loopback address
that records what reached it, and the CLI run in-process."""

from __future__ import annotations

import os
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mcpconnect._cli import main

# The real authorization server (oidc-provider) for the login tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "oidc"))

from oidc_fixtures import make_runtime, oidc_server, oidc_server_session  # noqa: F401


def lan_address() -> str:
    """An address of this machine that is not loopback (what "another machine" looks like)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing address
        address = probe.getsockname()[0]
    except OSError:
        address = "127.0.0.1"
    finally:
        probe.close()
    if address.startswith("127."):
        message = "this machine has no non-loopback address to stand for another host"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI runs with a network interface")
        pytest.skip(message)
    return address


class Recorder:
    """What the listener received: one dict of headers (and the path) per request."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.requests: list[dict[str, str]] = []


@pytest.fixture
def plain_http() -> Iterator[Recorder]:
    """An http:// listener on a non-loopback address; it answers 401 to everything."""
    address = lan_address()
    recorder: Recorder

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length).decode("latin-1") if length else ""
            recorder.requests.append(
                {**{k.lower(): v for k, v in self.headers.items()}, ":path": self.path, ":body": body}
            )
            self.send_response(401)
            self.send_header("content-length", "0")
            self.end_headers()

        do_GET = do_POST = do_HEAD = do_DELETE = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((address, 0), Handler)
    recorder = Recorder(f"http://{address}:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err
