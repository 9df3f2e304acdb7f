"""The plugin's own tests: it loads and registers its entry point's name. Add the contract suite of
its kind from mcpconnect.testing (StorageBackendContract, ProviderContract, TransportContract)."""

from __future__ import annotations

import importlib

PACKAGE = "{package}"
NAME = "{name}"
KIND = "{kind}"


def test_it_registers_its_entry_point_name(mcpconnect_host) -> None:
    module = importlib.import_module(PACKAGE)
    registered = mcpconnect_host.register_plugin(module, kind=KIND, name=NAME)
    assert [r.name for r in registered] == ([] if KIND == "plugin" else [NAME])
