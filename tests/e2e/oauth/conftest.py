from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "oidc"))

from mcpconnect_oidc_server import OIDCServer, running_server


@pytest.fixture(scope="session")
def oidc_server_session() -> Iterator[OIDCServer]:
    with running_server() as server:
        yield server


@pytest.fixture
def oidc_server(oidc_server_session: OIDCServer) -> OIDCServer:
    oidc_server_session.reset()
    return oidc_server_session


@pytest.fixture
def make_runtime():
    """Build a Runtime over the memory store, with only the core's built-in plugins."""
    from mcpconnect.plugins import PluginHost
    from mcpconnect.runtime import Runtime

    def make(providers: dict, **extra: object) -> Runtime:
        config = {"storage": {"backend": "memory"}, "providers": providers, **extra}
        return Runtime.build(config, host=PluginHost(load=[]))

    return make
