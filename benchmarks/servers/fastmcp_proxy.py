"""FastMCP's proxy (``fastmcp.server.create_proxy``, which replaced ``FastMCP.as_proxy`` in FastMCP
3) in front of one stdio server, served over streamable HTTP: the peer of ``mcpconnect serve
--transport http``.

    python fastmcp_proxy.py PORT SERVER_SCRIPT
"""

from __future__ import annotations

import sys

from fastmcp.client.transports import PythonStdioTransport
from fastmcp.server import create_proxy


def main() -> None:
    port, script = int(sys.argv[1]), sys.argv[2]
    # The upstream on the initialize handshake, as the gateway's benchmark upstream is.
    proxy = create_proxy(PythonStdioTransport(script), name="fastmcp-proxy")
    proxy.run("http", host="127.0.0.1", port=port, show_banner=False, log_level="WARNING")


if __name__ == "__main__":
    main()
