"""A third-party transport that speaks no HTTP (TCP, url = "tcp://...") passes the contract."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mcpconnect._config import ServerConfig
from mcpconnect.testing import TransportContract, free_port, http_server

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "tests" / "fixtures" / "mcpconnect-transport-tcp"
NOTES = ROOT / "examples" / "servers" / "notes_server.py"

sys.path.insert(0, str(FIXTURE / "src"))
import mcpconnect_transport_tcp  # noqa: E402


@pytest.fixture(scope="module")
def tcp_port():
    port = free_port()
    argv = [sys.executable, str(FIXTURE / "tcp_server.py"), str(port), "--", sys.executable, str(NOTES)]
    with http_server(argv, port):
        yield port


class TestTcpContract(TransportContract):
    plugin = mcpconnect_transport_tcp
    name = "tcp"
    requires = "url"

    @pytest.fixture
    def server_config(self, tcp_port, mcpconnect_isolated):
        return ServerConfig(url=f"tcp://127.0.0.1:{tcp_port}", transport="tcp")


def test_the_contract_knows_a_tcp_url_is_not_http() -> None:
    config = ServerConfig(url="tcp://127.0.0.1:9", transport="tcp")
    assert TestTcpContract().speaks_http(config) is False
    assert TestTcpContract().speaks_http(ServerConfig(url="https://example.com/mcp")) is True

    class Declared(TestTcpContract):
        http = True

    assert Declared().speaks_http(config) is True
