from pathlib import Path

import mcpconnect_transport_sse
import pytest

from mcpconnect._config import ServerConfig
from mcpconnect.testing._transport_contract import TransportContract, free_port, http_server, python_server

NOTES = Path(__file__).resolve().parents[4] / "examples" / "servers" / "notes_server.py"


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


async def test_a_message_arriving_after_close_is_no_traceback(sse_url, caplog):
    """The SDK's SSE reader meets a closed read stream when an answer arrives as the client
    closes (anyio.BrokenResourceError); that was a traceback on stderr during `mcpconnect check`."""
    import logging

    import anyio
    from mcp.shared.message import SessionMessage
    from mcp_types.jsonrpc import JSONRPCRequest

    from mcpconnect.transport import TransportContext

    caplog.set_level(logging.DEBUG)
    server = ServerConfig(url=sse_url, transport="sse")
    request = JSONRPCRequest(
        jsonrpc="2.0",
        id=1,
        method="initialize",
        params={"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    )
    async with mcpconnect_transport_sse.sse_transport("s", server, TransportContext(name="s")) as (read, write):
        await read.aclose()  # the client has stopped reading
        await write.send(SessionMessage(request))
        with anyio.fail_after(20):  # a bound for a server that never answers, not a speed check
            while not any("arrived after the client closed" in r.getMessage() for r in caplog.records):
                await anyio.sleep(0.05)
    assert not [r for r in caplog.records if r.name == "mcp.client.sse" and r.levelno >= logging.ERROR]


def test_other_sse_reader_errors_still_get_through():
    import logging

    noise = mcpconnect_transport_sse.ClosingNoise()
    try:
        raise ValueError("bad event")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "mcp.client.sse", logging.ERROR, __file__, 1, "Error in sse_reader", None, sys.exc_info()
        )
    assert noise.filter(record) is True
