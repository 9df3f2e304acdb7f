from pathlib import Path

import mcpconnect_transport_sse
import pytest

from mcpconnect.config import ServerConfig
from mcpconnect.testing.transport_contract import TransportContract, free_port, http_server, python_server

NOTES = Path(__file__).resolve().parents[3] / "examples" / "servers" / "notes_server.py"


@pytest.fixture(scope="module")
def sse_url():
    port = free_port()
    with http_server(python_server(str(NOTES), "--transport", "sse", "--port", str(port)), port):
        yield f"http://127.0.0.1:{port}/sse"


class TestSseContract(TransportContract):
    plugin = mcpconnect_transport_sse
    name = "sse"
    requires = "url"

    @pytest.fixture
    def server_config(self, sse_url):
        return ServerConfig(url=sse_url, transport="sse")
