from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "protected" / "protected_server.py"


def _load_protected_server():
    name = "mcpconnect_example_protected_server"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _EXAMPLE)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture
def protected():
    """The bundled SDK authorization server and protected MCP server (examples/protected)."""
    return _load_protected_server()


@pytest.fixture
def make_runtime():
    """A Runtime over the memory store that sees only the streamable HTTP transport."""
    from mcpconnect._plugins import PluginHost
    from mcpconnect._runtime import Runtime

    def make(servers: dict, **extra: object) -> Runtime:
        config = {"storage": {"backend": "memory"}, "servers": servers, **extra}
        return Runtime.build(config, host=PluginHost(load=["streamable-http"]))

    return make
