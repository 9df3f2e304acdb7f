"""Plugin discovery and loading through entry points, switches, conflicts and broken plugins."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpconnect._plugins import PluginHost
from mcpconnect.errors import ConfigError, PluginConflictError, PluginError, PluginLoadError, PluginNotFoundError

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
    found = {(i.kind, i.name): i for i in host.installed()}
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


def test_unknown_name_says_what_is_installed_and_never_invents_a_package(site: FakeSite) -> None:
    host = PluginHost(load=["memory"])
    with pytest.raises(PluginNotFoundError) as info:
        host.load("store", "nosuch")
    message = str(info.value)
    assert "no token store named 'nosuch'" in message
    assert "memory" in message
    assert "pip install" not in message and "fix the name" in message


@pytest.mark.parametrize(("typed", "meant"), [("sqlit", "sqlite"), ("memroy", "memory"), ("redsi", "redis")])
def test_a_typo_is_answered_with_the_name_meant_not_a_package_to_install(typed: str, meant: str) -> None:
    # 'pip install mcpconnect-store-sqlit' would invite typosquatting.
    with pytest.raises(PluginNotFoundError) as info:
        PluginHost(load=["memory"]).load("store", typed)
    assert f"did you mean '{meant}'?" in str(info.value) and "pip install" not in str(info.value)


def test_an_official_plugin_that_is_not_installed_names_its_package(mcpconnect_host: PluginHost) -> None:
    with pytest.raises(PluginNotFoundError) as info:
        mcpconnect_host.load("auth", "linear")
    assert "pip install mcpconnect-auth-linear" in str(info.value)


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
    assert [i.name for i in host.installed("store")].count("acme") == 1
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
    assert "needs the Python module 'a_module_that_does_not_exist', which is not installed" in message
    assert "MCPCONNECT_DISABLE_PLUGINS=mcpconnect-store-broken" in message
    # Other plugins are unaffected.
    assert host.load("store", "acme").name == "acme"
    rows = {r.name: r for r in host.load_all()}
    assert rows["broken"].status == "error" and rows["acme"].status == "ok"


TYPO_STORE = """
from mcpconnect import hookimpl

@hookimpl
def register_token_store(register):  # missing the final s
    register("typo", dict)
"""

TYPO_OBSERVER = """
from mcpconnect import hookimpl

@hookimpl
def on_server_connect(server):  # on_server_connected
    pass
"""

GOOD_OBSERVER = """
from mcpconnect import hookimpl
SEEN = []

@hookimpl
def on_server_connected(server, transport):
    SEEN.append((server, transport))
"""


def test_a_misspelled_hookimpl_is_blamed_alone(site: FakeSite) -> None:
    site.module("typo_plugin", TYPO_STORE)
    site.dist("typo-dist", "1.0", {"mcpconnect.store": {"typo": "typo_plugin"}})
    add_store(site, "acme-store", "acme", "acme_store_plugin")
    add_store(site, "zeta-store", "zeta", "zeta_store_plugin")
    host = PluginHost()
    with pytest.raises(PluginLoadError) as info:
        host.load("store", "typo")
    message = str(info.value)
    assert "token store plugin 'typo' (typo-dist 1.0)" in message
    assert "'register_token_store' (did you mean 'register_token_stores'?)" in message
    assert "fix the name in typo_plugin" in message and "MCPCONNECT_DISABLE_PLUGINS=typo-dist" in message
    # The broken module is unregistered: every plugin loaded after it in this process is fine.
    assert not [p for p in host.pm.get_plugins() if getattr(p, "__name__", "") == "typo_plugin"]
    assert host.load("store", "acme").name == "acme"
    rows = {r.name: r for r in host.load_all()}
    assert rows["typo"].status == "error"
    assert {rows[n].status for n in ("acme", "zeta", "memory")} == {"ok"}
    assert "typo" not in (rows["acme"].error or "") + (rows["zeta"].error or "")


def test_a_misspelled_observer_hook_breaks_no_store_or_transport(site: FakeSite) -> None:
    site.module("typo_observer", TYPO_OBSERVER)
    site.dist("typo-observer", "0.1", {"mcpconnect.plugins": {"typo-watch": "typo_observer"}})
    site.module("good_observer", GOOD_OBSERVER)
    site.dist("good-observer", "0.1", {"mcpconnect.plugins": {"watch": "good_observer"}})
    add_store(site, "acme-store", "acme", "acme_store_plugin")
    host = PluginHost()
    statuses = {s.name: s for s in host.load_observers()}
    assert statuses["watch"].status == "ok"
    assert statuses["typo-watch"].status == "error"
    assert "observer plugin 'typo-watch' (typo-observer 0.1)" in (statuses["typo-watch"].error or "")
    assert "did you mean 'on_server_connected'?" in (statuses["typo-watch"].error or "")
    assert host.load("store", "memory").name == "memory"
    assert host.load("store", "acme").name == "acme"
    host.server_connected("docs", "stdio", None)
    import good_observer  # type: ignore[import-not-found]

    assert good_observer.SEEN == [("docs", "stdio")]
    rows = {r.name: r.status for r in host.load_all()}
    assert rows == rows | {"typo-watch": "error", "watch": "ok", "acme": "ok", "memory": "ok"}


def test_a_hookimpl_taking_an_argument_the_hook_does_not_pass_is_named(site: FakeSite) -> None:
    site.module(
        "args_plugin",
        """
        from mcpconnect import hookimpl

        @hookimpl
        def register_token_stores(register, options):
            register("args", dict)
        """,
    )
    site.dist("args-dist", "2.0", {"mcpconnect.store": {"args": "args_plugin"}})
    add_store(site, "acme-store", "acme", "acme_store_plugin")
    host = PluginHost()
    with pytest.raises(PluginLoadError) as info:
        host.load("store", "args")
    message = str(info.value)
    assert "token store plugin 'args' (args-dist 2.0) cannot be registered" in message
    assert "options" in message and "fix the hook's arguments in args_plugin" in message
    assert host.load("store", "acme").name == "acme"


def test_a_plugin_registering_another_name_says_what_it_registered(site: FakeSite) -> None:
    site.module("liar_plugin", STORE_MODULE.format(cls="Liar", name="something-else"))
    site.dist("liar-dist", "1.0", {"mcpconnect.store": {"liar": "liar_plugin"}})
    host = PluginHost()
    with pytest.raises(PluginLoadError) as info:
        host.load("store", "liar")
    message = str(info.value)
    assert "token store plugin 'liar' (liar-dist 1.0) registered the token store 'something-else'" in message
    assert "its entry point is named 'liar'" in message
    assert '[project.entry-points."mcpconnect.store"]' in message and "register()" in message
    # Nothing of it stays behind under the name it registered.
    assert host.registration("store", "something-else") is None


def test_a_plugin_in_the_group_of_another_kind_is_told_where_it_belongs(site: FakeSite) -> None:
    site.module(
        "misfiled_plugin",
        """
        from mcpconnect import hookimpl

        @hookimpl
        def register_transports(register):
            register("misfiled", dict, requires="url")
        """,
    )
    site.dist("misfiled-dist", "1.0", {"mcpconnect.store": {"misfiled": "misfiled_plugin"}})
    with pytest.raises(PluginLoadError) as info:
        PluginHost().load("store", "misfiled")
    message = str(info.value)
    assert "is declared in the entry-point group 'mcpconnect.store' (token stores)" in message
    assert 'move the entry point to [project.entry-points."mcpconnect.transport"]' in message


def test_a_wrong_entry_point_group_is_named_with_the_right_one(site: FakeSite) -> None:
    site.module("notebook_plugin", STORE_MODULE.format(cls="Book", name="notebook"))
    site.dist("mcpconnect-store-notebook", "0.3", {"mcpconnect.stores": {"notebook": "notebook_plugin"}})
    host = PluginHost()
    with pytest.raises(PluginNotFoundError) as info:
        host.load("store", "notebook")
    message = str(info.value)
    assert "no token store named 'notebook' is installed" in message
    assert "mcpconnect-store-notebook 0.3 declares 'notebook' in the entry-point group 'mcpconnect.stores'" in message
    assert '[project.entry-points."mcpconnect.store"]' in message
    assert "pip install" not in message  # it is installed: installing it again would not help
    rows = {r.name: r for r in host.load_all()}
    assert rows["notebook"].status == "error" and rows["notebook"].kind == "store"
    assert "did you mean 'mcpconnect.store'?" in (rows["notebook"].error or "")


def test_a_name_installed_as_another_kind_is_pointed_out(site: FakeSite) -> None:
    site.module("tcp_plugin", "")
    site.dist("mcpconnect-transport-tcp", "1.0", {"mcpconnect.transport": {"tcp": "tcp_plugin"}})
    with pytest.raises(PluginNotFoundError) as info:
        PluginHost().load("store", "tcp")
    assert "declares 'tcp' as a transport (entry-point group 'mcpconnect.transport')" in str(info.value)
    assert "fix the name" in str(info.value)


FACTORY_PLUGIN = """
from mcpconnect import hookimpl
from mcpconnect.storage._memory import MemoryBackend

def needs_sdk(**options):
    import an_optional_sdk_that_is_not_installed
    return MemoryBackend()

def raises(**options):
    raise RuntimeError("the factory's own bug")

def not_a_backend(**options):
    return object()

def positional(name, config):
    return MemoryBackend()

def takes_path(path):
    return MemoryBackend()

async def async_transport(name, server, context):
    return None

def one_argument_transport(server):
    return None

@hookimpl
def register_token_stores(register):
    register("needs-sdk", needs_sdk)
    register("raises", raises)
    register("not-a-backend", not_a_backend)
    register("takes-path", takes_path)

@hookimpl
def register_transports(register):
    register("async-transport", async_transport, requires="url")
    register("one-argument", one_argument_transport, requires="url")
"""


@pytest.fixture
def factories(mcpconnect_host: PluginHost, site: FakeSite) -> PluginHost:
    site.module("factory_plugin", FACTORY_PLUGIN)
    import factory_plugin  # type: ignore[import-not-found]

    mcpconnect_host.register_plugin(factory_plugin, kind="store", name="factories")
    mcpconnect_host.register_plugin(factory_plugin, kind="transport", name="factories")
    return mcpconnect_host


def test_a_factory_missing_an_optional_dependency_names_the_plugin_and_the_module(factories: PluginHost) -> None:
    from mcpconnect.storage._base import StorageBackend

    with pytest.raises(PluginError) as info:
        factories.build("store", "needs-sdk", returns=StorageBackend)
    message = str(info.value)
    assert "token store plugin 'factories'" in message
    assert "cannot build 'needs-sdk': it needs the Python module 'an_optional_sdk_that_is_not_installed'" in message
    assert "pip install an_optional_sdk_that_is_not_installed" in message
    assert "unexpected" not in message


def test_a_factory_that_raises_is_a_plugin_error_not_an_unexpected_one(factories: PluginHost) -> None:
    with pytest.raises(PluginError) as info:
        factories.build("store", "raises")
    message = str(info.value)
    assert "failed to build 'raises': RuntimeError: the factory's own bug" in message
    assert "report it to its authors" in message


def test_a_factory_returning_the_wrong_type_says_what_it_must_return(factories: PluginHost) -> None:
    from mcpconnect.storage._base import StorageBackend

    with pytest.raises(PluginError, match="returned object from its factory for 'not-a-backend', not an mcpconnect"):
        factories.build("store", "not-a-backend", returns=StorageBackend)


def test_store_options_that_do_not_fit_list_the_options_it_takes(factories: PluginHost) -> None:
    with pytest.raises(ConfigError) as info:
        factories.build("store", "takes-path", pathh="/tmp/x")
    message = str(info.value)
    assert message.startswith("storage.pathh: the token store plugin 'factories'")
    assert "pathh = '/tmp/x' (unknown option; the options it takes: path)" in message


def test_a_transport_factory_with_the_wrong_signature_shows_the_expected_call(factories: PluginHost) -> None:
    from contextlib import AbstractAsyncContextManager

    from mcpconnect._config import ServerConfig
    from mcpconnect.transport import TransportContext

    server = ServerConfig(url="https://example.com/mcp", transport="one-argument")
    with pytest.raises(PluginError) as info:
        factories.build("transport", "one-argument", "docs", server, TransportContext(name="docs"))
    message = str(info.value)
    assert "one_argument_transport(server) cannot be called as factory(name, server, context)" in message
    with pytest.raises(PluginError, match=r"returned coroutine .*not an async context manager"):
        factories.build(
            "transport",
            "async-transport",
            "docs",
            server,
            TransportContext(name="docs"),
            returns=AbstractAsyncContextManager,
        )


def test_observers_load_before_the_first_event_without_being_asked(site: FakeSite) -> None:
    site.module("lazy_observer", GOOD_OBSERVER)
    site.dist("lazy-observer", "1.0", {"mcpconnect.plugins": {"lazy": "lazy_observer"}})
    host = PluginHost()
    host.server_connected("docs", "sse", "2025-06-18")
    import lazy_observer  # type: ignore[import-not-found]

    assert lazy_observer.SEEN == [("docs", "sse")]
    assert host.load_observers() == []  # once per host


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
    assert mcpconnect_host.installed() == []
    with pytest.raises(PluginNotFoundError):
        mcpconnect_host.load("store", "acme")
    from mcpconnect.storage import _memory as memory

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
    assert [(s.name, s.status) for s in statuses if s.name == "observer"] == [("observer", "ok")]
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


EXAMPLES = itertools.count()
# Entry-point names as package metadata allows them; registered names are whatever a plugin passes.
ENTRY_NAMES = st.from_regex(r"[a-z][a-z0-9_.-]{0,20}", fullmatch=True)
# Written into a plugin's source as a string literal: no control characters or surrogates.
REGISTERED = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=30).filter(
    lambda n: '"' not in n and "\\" not in n
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entry=ENTRY_NAMES, registered=REGISTERED)
def test_any_name_mismatch_names_both_names_and_leaves_the_others_loadable(
    tmp_path: Path, entry: str, registered: str
) -> None:
    if registered == entry:
        return
    module = f"mismatch_{next(EXAMPLES)}"
    with pytest.MonkeyPatch.context() as mp:  # a site of its own per example: stevedore caches per path
        site = FakeSite(tmp_path / module, mp)
        site.module(module, STORE_MODULE.format(cls="Mismatch", name=registered))
        site.dist(f"{module}-dist", "1.0", {"mcpconnect.store": {entry: module}})
        host = PluginHost()
        with pytest.raises(PluginLoadError) as info:
            host.load("store", entry)
        message = str(info.value)
        assert f"registered the token store '{registered}'" in message
        assert f"its entry point is named '{entry}'" in message
        assert host.registration("store", registered) is None
        assert host.load("store", "memory").name == "memory"


def test_only_the_entrypoints_module_talks_to_stevedore_and_only_through_its_public_api() -> None:
    import ast

    import mcpconnect

    package = Path(mcpconnect.__file__).parent
    importers = []
    for source in package.rglob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(n == "stevedore" or n.startswith("stevedore.") for n in names):
                importers.append(source.relative_to(package).as_posix())
        text = source.read_text()
        assert "ENTRY_POINT_CACHE" not in text, f"{source} touches stevedore's class cache"
        assert "stevedore._" not in text, f"{source} uses stevedore's private modules"
    assert set(importers) == {"_entrypoints.py"}


def test_every_contract_suite_is_exported_from_mcpconnect_testing() -> None:
    import mcpconnect.testing as testing

    for name in ("StorageBackendContract", "ProviderContract", "TransportContract"):
        assert name in testing.__all__ and isinstance(getattr(testing, name), type)
