"""The Runtime owns what one process shares: the token store and the token manager."""

from __future__ import annotations

import gc
import weakref

from mcpconnect._plugins import PluginHost
from mcpconnect._runtime import Runtime
from mcpconnect.auth import TokenManager, token_manager


def build() -> Runtime:
    return Runtime.build({"storage": {"backend": "memory"}}, host=PluginHost(load=[]))


def test_the_runtime_owns_one_token_manager_and_the_accessor_returns_it() -> None:
    runtime = build()
    manager = token_manager(runtime)
    assert isinstance(manager, TokenManager)
    assert manager is runtime.token_manager() is token_manager(runtime)
    assert manager.runtime is runtime
    assert token_manager(build()) is not manager


def test_a_dropped_runtime_and_its_manager_are_freed() -> None:
    # No module-level registry may keep a runtime (its config, its open store) alive.
    runtime = build()
    token_manager(runtime)
    gone = weakref.ref(runtime)
    del runtime
    gc.collect()
    assert gone() is None
