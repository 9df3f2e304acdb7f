import http.server
import sys
import threading
from pathlib import Path

import pytest

from mcpconnect.testing._transport_contract import free_port, http_server

NOTES = str(Path(__file__).resolve().parents[3] / "examples" / "servers" / "notes_server.py")


def _notes_argv(transport: str, port: int, *extra: str) -> list[str]:
    return [sys.executable, NOTES, "--transport", transport, "--port", str(port), *extra]


@pytest.fixture
def notes_argv():
    """``notes_argv(transport, port, *extra)``: the example server's command line."""
    return _notes_argv


@pytest.fixture
def notes_path():
    return NOTES


@pytest.fixture(scope="module")
def streamable_url():
    port = free_port()
    with http_server(_notes_argv("streamable-http", port), port):
        yield f"http://127.0.0.1:{port}/mcp"


@pytest.fixture(scope="module")
def sse_url():
    port = free_port()
    with http_server(_notes_argv("sse", port), port):
        yield f"http://127.0.0.1:{port}/sse"


@pytest.fixture
def status_server():
    """An HTTP server on 127.0.0.1 answering every request with the status it is given."""
    servers = []

    def start(status: int) -> str:
        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                self.send_response(status)
                if status == 401:
                    self.send_header("WWW-Authenticate", 'Bearer realm="test"')
                self.send_header("content-length", "0")
                self.end_headers()

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/mcp"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
