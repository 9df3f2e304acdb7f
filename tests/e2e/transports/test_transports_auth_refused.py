"""A server that refuses the credentials (HTTP 401/403) is an authentication error naming the key
to fix, and ``transport = "auto"`` does not go on to try SSE after it."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

import mcpconnect


class Guarded:
    """An HTTP server that wants ``Authorization: Bearer right-token-0123456789`` (and answers
    ``status`` without it), counting what it is asked."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.requests: list[tuple[str, str]] = []
        guarded = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                guarded.requests.append((self.command, self.headers.get("authorization") or ""))
                self.send_response(guarded.status)
                if guarded.status == 401:
                    self.send_header("WWW-Authenticate", 'Bearer realm="mcp", error="invalid_token"')
                self.send_header("content-type", "application/json")
                body = b'{"error": "invalid_token"}'
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/mcp"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def guarded() -> Iterator[type[Guarded]]:
    started: list[Guarded] = []

    def start(status: int = 401) -> Guarded:
        server = Guarded(status)
        started.append(server)
        return server

    yield start  # type: ignore[misc]
    for server in started:
        server.close()


async def test_wrong_api_token_is_an_auth_error_naming_token_env(mcpconnect_isolated, guarded, monkeypatch):
    monkeypatch.setenv("DOCS_TOKEN", "wrong-token-0123456789")
    server = guarded(401)
    config = {"servers": {"docs": {"url": server.url, "auth": "token", "token_env": "DOCS_TOKEN", "timeout": 10}}}
    async with mcpconnect.connect(config, reconnect=False, cache=False) as hub:
        error = hub.servers["docs"].error or ""
    assert error.startswith("server 'docs': authentication failed") and "HTTP 401" in error
    assert "check the token in $DOCS_TOKEN (token_env of [servers.docs])" in error
    assert "neither streamable HTTP nor SSE" not in error and "check the URL" not in error
    assert error.count("server 'docs'") == 1
    assert "wrong-token-0123456789" not in error
    assert [method for method, _ in server.requests if method == "GET"] == []  # auto did not try SSE


async def test_missing_credentials_say_what_to_set(mcpconnect_isolated, guarded):
    server = guarded(401)
    async with mcpconnect.connect({"servers": {"open": {"url": server.url}}}, reconnect=False, cache=False) as hub:
        error = hub.servers["open"].error or ""
    assert "authentication failed" in error
    assert 'set auth = "token" and token_env = "VAR" in [servers.open]' in error
    assert all(method != "GET" for method, _ in server.requests)


async def test_forbidden_header_names_the_header(mcpconnect_isolated, guarded, monkeypatch):
    monkeypatch.setenv("HDR", "Bearer some-token-0123456789")
    server = guarded(403)
    config = {"servers": {"h": {"url": server.url, "headers": {"Authorization": "${HDR}"}, "timeout": 10}}}
    async with mcpconnect.connect(config, reconnect=False, cache=False) as hub:
        error = hub.servers["h"].error or ""
    assert "authentication failed" in error and "HTTP 403" in error
    assert "check headers.Authorization in [servers.h]" in error


def test_check_prints_the_key_to_fix_as_written(mcpconnect_isolated, guarded, tmp_path):
    """`[servers.docs]` in an error is text, not rich markup to be swallowed."""
    import os
    import subprocess
    import sys

    server = guarded(401)
    config = tmp_path / "mcpconnect.toml"
    config.write_text(
        f'[storage]\nbackend = "memory"\n\n[servers.docs]\nurl = "{server.url}"\nauth = "token"\n'
        'token_env = "DOCS_TOKEN"\ntimeout = 10\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-c", "from mcpconnect._cli import main; main()", "--config", str(config), "check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "DOCS_TOKEN": "wrong-token-0123456789"},
    )
    assert done.returncode == 1, done.stderr
    assert "check the token in $DOCS_TOKEN (token_env of [servers.docs])" in done.stdout
    assert "wrong-token-0123456789" not in done.stdout + done.stderr
