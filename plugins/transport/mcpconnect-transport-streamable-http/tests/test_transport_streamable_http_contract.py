from pathlib import Path

import mcpconnect_transport_streamable_http
import pytest

from mcpconnect._config import ServerConfig
from mcpconnect.testing._transport_contract import TransportContract, free_port, http_server, python_server

NOTES = Path(__file__).resolve().parents[4] / "examples" / "servers" / "notes_server.py"


@pytest.fixture(scope="module")
def notes_url():
    port = free_port()
    with http_server(python_server(str(NOTES), "--transport", "streamable-http", "--port", str(port)), port):
        yield f"http://127.0.0.1:{port}/mcp"


@pytest.fixture(scope="module")
def stateless_url():
    port = free_port()
    argv = python_server(str(NOTES), "--transport", "streamable-http", "--port", str(port), "--stateless")
    with http_server(argv, port):
        yield f"http://127.0.0.1:{port}/mcp"


class TestStreamableHttpContract(TransportContract):
    plugin = mcpconnect_transport_streamable_http
    name = "streamable-http"
    requires = "url"

    @pytest.fixture
    def server_config(self, notes_url):
        return ServerConfig(url=notes_url, transport="streamable-http")


class TestStatelessServerContract(TestStreamableHttpContract):
    @pytest.fixture
    def server_config(self, stateless_url):
        return ServerConfig(url=stateless_url, transport="streamable-http")
