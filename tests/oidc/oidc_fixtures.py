"""pytest fixtures for tests/oidc/server.mjs, imported by the conftest files of tests/core/auth and
tests/e2e/oauth: a missing Node peer fails the test in CI and skips it elsewhere."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest
from mcpconnect_oidc_server import OIDCServer, OIDCServerMissing, running_server

__all__ = ["make_runtime", "oidc_server", "oidc_server_session"]


@pytest.fixture(scope="session")
def oidc_server_session() -> Iterator[OIDCServer]:
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(running_server())
        except OIDCServerMissing as exc:
            if os.environ.get("CI") == "true":
                pytest.fail(str(exc))
            pytest.skip(str(exc))
        yield server


@pytest.fixture
def oidc_server(oidc_server_session: OIDCServer) -> OIDCServer:
    oidc_server_session.reset()
    return oidc_server_session


@pytest.fixture
def make_runtime():
    """Build a Runtime over the memory store, with only the core's built-in plugins."""
    from mcpconnect._plugins import PluginHost
    from mcpconnect._runtime import Runtime

    def make(providers: dict, **extra: object) -> Runtime:
        config = {"storage": {"backend": "memory"}, "providers": providers, **extra}
        return Runtime.build(config, host=PluginHost(load=[]))

    return make
