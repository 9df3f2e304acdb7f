from pathlib import Path

import mcpconnect_transport_stdio
import pytest

from mcpconnect._config import ServerConfig
from mcpconnect.testing._transport_contract import TransportContract, python_server

NOTES = Path(__file__).resolve().parents[4] / "examples" / "servers" / "notes_server.py"


class TestStdioContract(TransportContract):
    plugin = mcpconnect_transport_stdio
    name = "stdio"
    requires = "command"

    @pytest.fixture
    def server_config(self, mcpconnect_isolated):
        command, *args = python_server(str(NOTES))
        return ServerConfig(command=command, args=args)
