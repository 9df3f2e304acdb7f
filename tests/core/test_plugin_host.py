"""Plugin discovery and loading through entry points, switches, conflicts and broken plugins."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from mcpconnect.errors import PluginConflictError, PluginLoadError, PluginNotFoundError
from mcpconnect.plugins import PluginHost

from .fakedist import STORE_MODULE, FakeSite


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeSite:
    return FakeSite(tmp_path / "site", monkeypatch)


def add_store(site: FakeSite, dist: str, name: str, module: str) -> None:
    site.module(module, STORE_MODULE.format(cls="TestStore", name=name))
    site.dist(dist, "1.2.3", {"mcpconnect.store": {name: module}})


def test_discovers_an_installed_plugin_with_its_distribution(site: FakeSite) -> None:
    add_store(site, "acme-store", "acme", "acme_store_plugin")
    host = PluginHost()
    found = {(i.kind, i.name): i for i in host.discover()}
    assert found[("store", "acme")].distribution == "acme-store"
    assert found[("store", "acme")].version == "1.2.3"
    assert ("store", "memory") in found  # the core's built-in, registered like any plugin


def test_loads_only_the_named_plugin(site: FakeSite) -> None:
    add_store(site, "acme-store", "acme", "acme_store_plugin")
    site.module("other_store_plugin", "raise RuntimeError('must not be imported')")
    site.dist("other-store", "1.0", {"mcpconnect.store": {"other": "other_store_plugin"}})
    host = PluginHost()
    reg = host.load("store", "acme")
    assert reg.name == "acme" and reg.description == "test store acme"
    assert reg.factory().name == "acme"
    import sys

    assert "other_store_plugin" not in sys.modules


def test_unknown_name_says_what_is_installed_and_what_to_install(site: FakeSite) -> None:
    host = PluginHost()
    with pytest.raises(PluginNotFoundError) as info:
        host.load("store", "nosuch")
    message = str(info.value)
    assert "no token store named 'nosuch'" in message
    assert "memory" in message
    assert "pip install mcpconnect-store-nosuch" in message


def test_two_distributions_claiming_one_name_is_an_error_naming_both(site: FakeSite) -> None:
    add_store(site, "first-dist", "dup", "first_dup")
    site.module("second_dup", STORE_MODULE.format(cls="Other", name="dup"))
    site.dist("second-dist", "2.0", {"mcpconnect.store": {"dup": "second_dup"}})
    host = PluginHost()
    with pytest.raises(PluginConflictError) as info:
        host.load("store", "dup")
    assert "first-dist 1.2.3" in str(info.value) and "second-dist 2.0" in str(info.value)
    rows = {r.name: r for r in host.load_all()}
    assert rows["dup"].status == "conflict"


def test_the_same_entry_point_seen_twice_is_not_a_conflict(
    site: FakeSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An editable install plus a stray copy of its metadata on another path entry.
    add_store(site, "acme-store", "acme", "acme_store_plugin")
    again = FakeSite(tmp_path / "site2", monkeypatch)
    again.dist("acme-store", "1.2.3", {"mcpconnect.store": {"acme": "acme_store_plugin"}})
    host = PluginHost()
    assert [i.name for i in host.discover("store")].count("acme") == 1
    assert host.load("store", "acme").name == "acme"


def test_a_plugin_that_fails_to_import_names_its_distribution_and_cause(site: FakeSite) -> None:
    site.module("broken_plugin", "import a_module_that_does_not_exist\n")
    site.dist("mcpconnect-store-broken", "0.9", {"mcpconnect.store": {"broken": "broken_plugin"}})
    add_store(site, "acme-store", "acme", "acme_store_plugin")
    host = PluginHost()
    with pytest.raises(PluginLoadError) as info:
        host.load("store", "broken")
    message = str(info.value)
    assert "mcpconnect-store-broken 0.9" in message
    assert "ModuleNotFoundError" in message and "a_module_that_does_not_exist" in message
    assert "MCPCONNECT_DISABLE_PLUGINS=mcpconnect-store-broken" in message
    # Other plugins are unaffected.
    assert host.load("store", "acme").name == "acme"
    rows = {r.name: r for r in host.load_all()}
    assert rows["broken"].status == "error" and rows["acme"].status == "ok"


def test_misspelled_hookimpl_fails_loudly(site: FakeSite) -> None:
    site.module(
        "typo_plugin",
        """
        from mcpconnect import hookimpl

        @hookimpl
        def register_token_store(register):  # missing the final s
            register("typo", dict)
        """,
    )
    site.dist("typo-dist", "1.0", {"mcpconnect.store": {"typo": "typo_plugin"}})
    with pytest.raises(PluginLoadError) as info:
        PluginHost().load("store", "typo")
    assert "register_token_store" in str(info.value) and "typo-dist" in str(info.value)


def test_plugin_registering_another_name_is_reported(site: FakeSite) -> None:
    site.module("liar_plugin", STORE_MODULE.format(cls="Liar", name="something-else"))
    site.dist("liar-dist", "1.0", {"mcpconnect.store": {"liar": "liar_plugin"}})
    with pytest.raises(PluginLoadError, match="registered no token store named 'liar'"):
        PluginHost().load("store", "liar")


def test_load_switch_narrows_to_listed_plugins(site: FakeSite) -> None:
    add_store(site, "acme-store", "acme", "acme_store_plugin")
    add_store(site, "zeta-store", "zeta", "zeta_store_plugin")
    host = PluginHost.from_env({"MCPCONNECT_LOAD_PLUGINS": "zeta-store"})
    assert "acme" not in host.names("store")
    assert "zeta" in host.names("store")
    assert "memory" in host.names("store")  # built-ins always load
    with pytest.raises(PluginNotFoundError, match="disabled"):
        host.load("store", "acme")
    assert host.load("store", "zeta").name == "zeta"


def test_empty_load_switch_loads_no_installed_plugin(site: FakeSite) -> None:
    add_store(site, "acme-store", "acme", "acme_store_plugin")
    host = PluginHost.from_env({"MCPCONNECT_LOAD_PLUGINS": ""})
    assert host.names("store") == ["memory"]


def test_disable_switch_blocks_by_distribution_or_name(site: FakeSite) -> None:
    add_store(site, "acme-store", "acme", "acme_store_plugin")
    add_store(site, "zeta-store", "zeta", "zeta_store_plugin")
    host = PluginHost.from_env({"MCPCONNECT_DISABLE_PLUGINS": "acme-store, zeta"})
    assert {"acme", "zeta"}.isdisjoint(host.names("store"))
    rows = {r.name: r.status for r in host.load_all()}
    assert rows["acme"] == rows["zeta"] == "disabled"


def test_trace_switch_prints_each_hook_call(site: FakeSite) -> None:
    add_store(site, "acme-store", "acme", "acme_store_plugin")
    out = io.StringIO()
    host = PluginHost(trace=out)
    host.load("store", "acme")
    host.server_failed("docs", RuntimeError("boom"))
    lines = out.getvalue().splitlines()
    assert any("register_token_stores(register)" in line and "acme" in line for line in lines)
    assert any(line.startswith("mcpconnect trace: on_server_failed(error, server)") for line in lines)


def test_empty_host_sees_no_installed_plugin(site: FakeSite, mcpconnect_host: PluginHost) -> None:
    add_store(site, "acme-store", "acme", "acme_store_plugin")
    assert mcpconnect_host.discover() == []
    with pytest.raises(PluginNotFoundError):
        mcpconnect_host.load("store", "acme")
    from mcpconnect.storage import memory

    mcpconnect_host.register_plugin(memory, kind="store")
    assert mcpconnect_host.load("store", "memory").factory is memory.MemoryBackend


def test_generic_observer_plugins_load_and_receive_events(site: FakeSite) -> None:
    site.module(
        "observer_plugin",
        """
        from mcpconnect import hookimpl
        SEEN = []

        @hookimpl
        def on_server_connected(server, protocol_version):
            SEEN.append((server, protocol_version))
        """,
    )
    site.dist("observer-dist", "1.0", {"mcpconnect.plugins": {"observer": "observer_plugin"}})
    host = PluginHost()
    statuses = host.load_observers()
    # Other installed observers (mcpconnect-otel) load too; this one must be among them.
    assert [(s.name, s.status) for s in statuses if s.distribution == "observer-dist"] == [("observer", "ok")]
    host.server_connected("docs", "stdio", "2025-06-18")
    import observer_plugin  # type: ignore[import-not-found]

    assert observer_plugin.SEEN == [("docs", "2025-06-18")]


def test_an_observer_that_raises_does_not_break_the_caller(
    mcpconnect_host: PluginHost, caplog: pytest.LogCaptureFixture
) -> None:
    class Boom:
        from mcpconnect import hookimpl

        @hookimpl
        def on_server_failed(self, server: str) -> None:
            raise RuntimeError("observer bug")

    calls: list[str] = []

    class Fine:
        from mcpconnect import hookimpl

        @hookimpl
        def on_server_failed(self, server: str) -> None:
            calls.append(server)

    mcpconnect_host.register_plugin(Boom(), kind="plugin", name="boom")
    mcpconnect_host.register_plugin(Fine(), kind="plugin", name="fine")
    mcpconnect_host.server_failed("docs", RuntimeError("x"))
    assert calls == ["docs"]
    assert "observer bug" in caplog.text
