"""The contract every transport plugin passes: subclass :class:`TransportContract` in its tests.

::

    import mcpconnect_transport_websocket as plugin
    from mcpconnect.testing import TransportContract

    class TestWebSocketContract(TransportContract):
        plugin = plugin
        name = "websocket"
        requires = "url"

        @pytest.fixture
        def server_config(self, my_running_server):
            return ServerConfig(url=my_running_server.url, transport="websocket")

``server_config`` must reach a running MCP server with an ``echo`` tool taking ``message`` (the
example server ``examples/servers/notes_server.py`` and ``@modelcontextprotocol/server-everything``
both have one). :func:`http_server` starts a local server process (HTTP or any other protocol
over TCP) for such fixtures and waits until its port accepts connections; :func:`free_port`
picks the port.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any, ClassVar

import pytest

__all__ = ["TransportContract", "free_port", "http_server"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def http_server(
    argv: Sequence[str], port: int, *, timeout: float = 30.0, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` (a server that will listen on 127.0.0.1:``port``) until the block ends.

    ``env`` is added to this process's environment for the server.
    """
    environ = {**os.environ, **(env or {})}
    process = subprocess.Popen(list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environ)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                err = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise RuntimeError(f"{argv[0]} exited with code {process.returncode}: {err[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{argv[0]} did not listen on 127.0.0.1:{port}") from None
                time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


def python_server(*args: str) -> list[str]:
    """``[sys.executable, *args]``: the command line of a Python MCP server."""
    return [sys.executable, *args]


class TransportContract:
    """Tests every transport plugin must pass. Set ``plugin``, ``name``, ``requires`` and
    provide the ``server_config`` fixture.

    Knobs (class attributes):

    ``plugin``
        The transport's entry module (what its entry point names).
    ``name``
        The name it registers (what users write as ``transport``).
    ``requires``
        ``"command"`` or ``"url"``, as it registers it.
    ``http``
        Whether the transport sends HTTP requests, which must then all go through
        ``context.auth`` (how OAuth and API tokens reach the server). ``None`` (the default):
        decided from the scheme of ``server_config.url`` (``http``/``https``), so a ``tcp://``
        or ``ws+unix://`` transport is not held to it.
    """

    plugin: ClassVar[ModuleType]
    name: ClassVar[str]
    requires: ClassVar[str]
    http: ClassVar[bool | None] = None

    def speaks_http(self, server_config: Any) -> bool:
        """Whether :meth:`test_every_http_request_goes_through_the_auth` applies (see ``http``)."""
        if self.http is not None:
            return self.http
        url = getattr(server_config, "url", None) or ""
        return url.split(":", 1)[0].lower() in {"http", "https"}

    @pytest.fixture
    def server_config(self) -> Any:
        raise NotImplementedError("a TransportContract subclass provides the server_config fixture")

    def _registration(self) -> Any:
        from mcpconnect._plugins import PluginHost

        host = PluginHost(autoload=False)
        registrations = host.register_plugin(self.plugin, kind="transport")
        found = [r for r in registrations if r.name == self.name]
        assert found, f"the plugin registered {[r.name for r in registrations]}, not {self.name!r}"
        return found[0]

    def _open(self, server_config: Any, **context: Any) -> Any:
        from mcpconnect.transport import TransportContext

        return self._registration().factory("contract", server_config, TransportContext(name="contract", **context))

    def test_registers_its_name_and_requirement(self) -> None:
        registration = self._registration()
        assert registration.requires == self.requires
        assert callable(registration.factory)
        assert registration.description

    def test_entry_module_imports_no_sdk_at_top_level(self) -> None:
        source = self.plugin.__file__
        assert source is not None
        with open(source, encoding="utf-8") as fh:
            top = [line for line in fh if line.startswith(("import ", "from "))]
        heavy = [line.strip() for line in top if any(m in line for m in ("mcp.", "mcp ", "httpx", "anyio"))]
        assert not heavy, f"the entry module imports heavy modules at top level: {heavy}"

    async def test_handshake_list_and_call(self, server_config: Any) -> None:
        from mcp import Client

        async with Client(self._open(server_config), mode="auto", cache=None) as client:
            assert client.protocol_version
            names = [tool.name for tool in (await client.list_tools()).tools]
            assert "echo" in names
            result = await client.call_tool("echo", {"message": "contract-ping"})
            assert not result.is_error
            assert any("contract-ping" in getattr(part, "text", "") for part in result.content)

    async def test_legacy_initialize_handshake(self, server_config: Any) -> None:
        from mcp import Client
        from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

        async with Client(self._open(server_config), mode="legacy", cache=None) as client:
            assert client.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS
            assert (await client.list_tools()).tools

    async def test_two_connections_one_after_the_other(self, server_config: Any) -> None:
        from mcp import Client

        for _ in range(2):
            async with Client(self._open(server_config), mode="auto", cache=None) as client:
                result = await client.call_tool("echo", {"message": "again"})
                assert not result.is_error

    async def test_every_http_request_goes_through_the_auth(self, server_config: Any) -> None:
        """An HTTP transport sends every request through ``context.auth`` (how OAuth plugs in)."""
        if not self.speaks_http(server_config):
            pytest.skip(f"the {self.name} transport sends no HTTP requests (set http = True if it does)")
        import httpx
        from mcp import Client

        seen: list[str] = []

        class Recording(httpx.Auth):
            def auth_flow(self, request: httpx.Request) -> Any:
                seen.append(request.method)
                request.headers["Authorization"] = "Bearer contract-token"
                yield request

        async with Client(self._open(server_config, auth=Recording()), mode="auto", cache=None) as client:
            await client.call_tool("echo", {"message": "with auth"})
        assert "POST" in seen
