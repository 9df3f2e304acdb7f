"""Every hook is documented and tested: the meta tests at the bottom fail otherwise."""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from mcpconnect import hookimpl, hookspecs
from mcpconnect._plugins import PluginHost

ROOT = Path(__file__).resolve().parents[2]
HOOKS = sorted(
    name for name, fn in vars(hookspecs).items() if inspect.isfunction(fn) and hasattr(fn, "mcpconnect_spec")
)


class Recorder:
    """Implements every event hook and records the calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def on_token_obtained(self, provider: str, account: str, token: Any) -> None:
        self.calls.append(("on_token_obtained", {"provider": provider, "account": account, "token": token}))

    @hookimpl
    def on_token_refreshed(self, provider: str, account: str, token: Any) -> None:
        self.calls.append(("on_token_refreshed", {"provider": provider, "account": account, "token": token}))

    @hookimpl
    def on_token_refresh_failed(self, provider: str, account: str, error: BaseException, will_retry: bool) -> None:
        self.calls.append(("on_token_refresh_failed", {"provider": provider, "error": error, "retry": will_retry}))

    @hookimpl
    def on_token_revoked(self, provider: str, account: str, remote: bool) -> None:
        self.calls.append(("on_token_revoked", {"provider": provider, "account": account, "remote": remote}))

    @hookimpl
    def on_server_connected(self, server: str, transport: str, protocol_version: str | None) -> None:
        self.calls.append(
            ("on_server_connected", {"server": server, "transport": transport, "protocol_version": protocol_version})
        )

    @hookimpl
    def on_server_failed(self, server: str, error: BaseException) -> None:
        self.calls.append(("on_server_failed", {"server": server, "error": error}))

    @hookimpl
    def on_server_restarted(self, server: str, attempt: int) -> None:
        self.calls.append(("on_server_restarted", {"server": server, "attempt": attempt}))

    @hookimpl
    def on_operation_started(self, operation: Any) -> None:
        self.calls.append(("on_operation_started", {"operation": operation, "outcome": operation.outcome}))

    @hookimpl
    def on_operation_finished(self, operation: Any) -> None:
        self.calls.append(("on_operation_finished", {"operation": operation, "outcome": operation.outcome}))


@pytest.fixture
def recorder(mcpconnect_host: PluginHost) -> Recorder:
    rec = Recorder()
    mcpconnect_host.register_plugin(rec, kind="plugin", name="recorder")
    return rec


def _token() -> Any:
    from mcpconnect.tokens import Token

    return Token(provider="gh", account="1", access_token="gho_" + "s" * 36)


# -- registration hooks ---------------------------------------------------------------------------


def test_hook_register_token_stores(mcpconnect_host: PluginHost) -> None:
    class Plugin:
        @hookimpl
        def register_token_stores(self, register: Any) -> None:
            register("box", dict, description="a box")

    regs = mcpconnect_host.register_plugin(Plugin(), kind="store", name="box")
    assert [(r.kind, r.name, r.factory, r.description) for r in regs] == [("store", "box", dict, "a box")]
    assert mcpconnect_host.load("store", "box").factory is dict


def test_hook_register_transports(mcpconnect_host: PluginHost) -> None:
    class Plugin:
        @hookimpl
        def register_transports(self, register: Any) -> None:
            register("pigeon", list, requires="url")

    mcpconnect_host.register_plugin(Plugin(), kind="transport", name="pigeon")
    assert mcpconnect_host.requirement("transport", "pigeon") == "url"


def test_hook_register_auth_providers(mcpconnect_host: PluginHost) -> None:
    class Plugin:
        @hookimpl
        def register_auth_providers(self, register: Any) -> None:
            register("acme", tuple, description="Acme ID")

    mcpconnect_host.register_plugin(Plugin(), kind="auth", name="acme")
    assert mcpconnect_host.load("auth", "acme").description == "Acme ID"
    assert "acme" in mcpconnect_host.names("auth")


def test_register_hook_accepts_a_subset_of_arguments(mcpconnect_host: PluginHost) -> None:
    # Hooks may grow arguments; an implementation taking none of them still works.
    seen: list[bool] = []

    class Plugin:
        @hookimpl
        def on_server_failed(self) -> None:
            seen.append(True)

    mcpconnect_host.register_plugin(Plugin(), kind="plugin", name="p")
    mcpconnect_host.server_failed("a", RuntimeError())
    assert seen == [True]


def test_two_plugins_registering_one_name_conflict(mcpconnect_host: PluginHost) -> None:
    from mcpconnect.errors import PluginConflictError

    class A:
        @hookimpl
        def register_token_stores(self, register: Any) -> None:
            register("same", dict)

    class B:
        @hookimpl
        def register_token_stores(self, register: Any) -> None:
            register("same", list)

    mcpconnect_host.register_plugin(A(), kind="store", name="a")
    with pytest.raises(PluginConflictError, match="two plugins register the token store 'same'"):
        mcpconnect_host.register_plugin(B(), kind="store", name="b")


# -- event hooks ----------------------------------------------------------------------------------


def test_hook_on_token_obtained(mcpconnect_host: PluginHost, recorder: Recorder) -> None:
    token = _token()
    mcpconnect_host.token_obtained("gh", "1", token)
    assert recorder.calls == [("on_token_obtained", {"provider": "gh", "account": "1", "token": token})]


def test_hook_on_token_refreshed(mcpconnect_host: PluginHost, recorder: Recorder) -> None:
    token = _token()
    mcpconnect_host.token_refreshed("gh", "1", token)
    assert recorder.calls == [("on_token_refreshed", {"provider": "gh", "account": "1", "token": token})]


def test_hook_on_token_refresh_failed(mcpconnect_host: PluginHost, recorder: Recorder) -> None:
    error = RuntimeError("503")
    mcpconnect_host.token_refresh_failed("gh", "1", error, True)
    assert recorder.calls == [("on_token_refresh_failed", {"provider": "gh", "error": error, "retry": True})]


def test_hook_on_token_revoked(mcpconnect_host: PluginHost, recorder: Recorder) -> None:
    mcpconnect_host.token_revoked("gh", "1", False)
    assert recorder.calls == [("on_token_revoked", {"provider": "gh", "account": "1", "remote": False})]


def test_hook_on_server_connected(mcpconnect_host: PluginHost, recorder: Recorder) -> None:
    mcpconnect_host.server_connected("docs", "streamable-http", "2025-06-18")
    assert recorder.calls == [
        ("on_server_connected", {"server": "docs", "transport": "streamable-http", "protocol_version": "2025-06-18"})
    ]


def test_hook_on_server_failed(mcpconnect_host: PluginHost, recorder: Recorder) -> None:
    error = RuntimeError("refused")
    mcpconnect_host.server_failed("docs", error)
    assert recorder.calls == [("on_server_failed", {"server": "docs", "error": error})]


def test_hook_on_server_restarted(mcpconnect_host: PluginHost, recorder: Recorder) -> None:
    mcpconnect_host.server_restarted("docs", 2)
    assert recorder.calls == [("on_server_restarted", {"server": "docs", "attempt": 2})]


TRACED = str(ROOT / "tests" / "fixtures" / "traced_server.py")


async def test_hook_on_operation_started(recorder: Recorder) -> None:
    # A real server over stdio: what the observer puts in operation.meta arrives as params._meta.
    import mcpconnect

    host = PluginHost(load=["stdio"])
    starts: list[Any] = []

    class Injector:
        @hookimpl
        def on_operation_started(self, operation: Any) -> None:
            starts.append(operation)
            if operation.kind == "request":
                operation.meta["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    host.register_plugin(Injector(), kind="plugin", name="injector")
    config = {"servers": {"t": {"command": sys.executable, "args": [TRACED]}}}
    async with mcpconnect.connect(config, host=host, cache=False, health_interval=None) as hub:
        result = await hub.call_tool("t", "traced", {"secret_word": "hunter2"})
    assert result.structured_content is not None
    assert result.structured_content["traceparent"] == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert result.structured_content["parent_span_id"] == "b7ad6b7169203331"
    connect, request = starts
    assert (connect.kind, connect.server, connect.outcome) == ("connect", "t", "ok")
    assert (request.kind, request.method, request.target, request.server) == ("request", "tools/call", "traced", "t")
    assert request.arguments == {"secret_word": "hunter2"}
    assert "hunter2" not in repr(request)  # arguments and meta stay out of the repr


async def test_hook_on_operation_finished(recorder: Recorder) -> None:
    import mcpconnect

    host = PluginHost(load=["stdio"])
    finished: list[Any] = []

    class Watcher:
        @hookimpl
        def on_operation_finished(self, operation: Any) -> None:
            finished.append((operation.kind, operation.target, operation.outcome, operation.error_kind))
            assert operation.duration is not None and operation.duration >= 0

    host.register_plugin(Watcher(), kind="plugin", name="watcher")
    config = {
        "servers": {
            "t": {"command": sys.executable, "args": [TRACED]},
            "gone": {"command": "no-such-command-mcpconnect"},
        }
    }
    async with mcpconnect.connect(config, host=host, cache=False, reconnect=False, health_interval=None) as hub:
        assert (await hub.call_tool("t", "broken")).is_error
        await hub.get_prompt("t", "traced_prompt")
        await hub.read_resource("t", "trace://context/x")
        from mcpconnect.errors import TransportError

        with pytest.raises(TransportError):
            await hub.call_tool("gone", "anything")
    assert ("connect", None, "ok", None) in finished
    assert ("connect", None, "error", "transport") in finished
    assert ("request", "broken", "tool_error", "tool_error") in finished
    assert ("request", "traced_prompt", "ok", None) in finished
    assert ("request", "trace://context/x", "ok", None) in finished
    assert ("request", "anything", "error", "transport") in finished


def test_hook_gateway_metrics(mcpconnect_host: PluginHost, caplog: pytest.LogCaptureFixture) -> None:
    assert not mcpconnect_host.implements("gateway_metrics")
    assert mcpconnect_host.gateway_metrics([]) is None  # nobody renders metrics: /metrics is 404
    seen: list[Any] = []

    class Broken:
        @hookimpl(tryfirst=True)
        def gateway_metrics(self, tokens: Any) -> Any:
            raise RuntimeError("plugin bug")

    class Metrics:
        @hookimpl
        def gateway_metrics(self, tokens: Any) -> Any:
            seen.extend(tokens)
            return lambda accept: (b"up 1\n", "text/plain; version=0.0.4")

    mcpconnect_host.register_plugin(Metrics(), kind="plugin", name="metrics")
    assert mcpconnect_host.implements("gateway_metrics")
    token = _token()
    render = mcpconnect_host.gateway_metrics([token])
    assert render is not None and render("text/plain") == (b"up 1\n", "text/plain; version=0.0.4")
    assert seen == [token]
    # A plugin that raises is logged, and the gateway serves no metrics rather than failing.
    mcpconnect_host.register_plugin(Broken(), kind="plugin", name="broken")
    assert mcpconnect_host.gateway_metrics([token]) is None
    assert "raised in gateway_metrics" in caplog.text


def test_operations_cost_nothing_without_an_observer(mcpconnect_host: PluginHost) -> None:
    assert mcpconnect_host.start_operation("login", provider="gh") is None
    with mcpconnect_host.observe("refresh", provider="gh") as op:
        assert op is None
    mcpconnect_host.finish_operation(None)  # a no-op, never an error


def test_an_observer_that_raises_never_breaks_the_operation(mcpconnect_host: PluginHost) -> None:
    class Broken:
        @hookimpl
        def on_operation_started(self, operation: Any) -> None:
            raise RuntimeError("observer bug")

        @hookimpl
        def on_operation_finished(self, operation: Any) -> None:
            raise RuntimeError("observer bug")

    mcpconnect_host.register_plugin(Broken(), kind="plugin", name="broken")
    with mcpconnect_host.observe("login", provider="gh") as op:
        assert op is not None
    assert op.outcome == "ok"
    with pytest.raises(ValueError, match="the operation's own"), mcpconnect_host.observe("login") as op:
        raise ValueError("the operation's own error")
    assert (op.outcome, op.error_kind) == ("error", "ValueError")


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ("NeedsLoginError('x', provider='p', error='invalid_grant')", "invalid_grant"),
        ("NeedsLoginError('x', provider='p')", "needs_login"),
        ("TransientAuthError('x', provider='p')", "transient"),
        ("CircuitOpenError('provider p: paused', provider='p')", "circuit_open"),
        # The kind comes from the class, never from the message's words.
        ("TransientAuthError('provider p: ... (circuit open); ...', provider='p')", "transient"),
        ("TransportTimeoutError('server s: tools/call did not answer')", "timeout"),
        ("TransportError('server s: tools/call timed out (timeout)')", "transport"),
        ("TransportError('server s: exited with code 3')", "transport"),
        ("ConfigError('bad')", "config"),
        ("TimeoutError()", "timeout"),
        ("KeyError('k')", "KeyError"),
    ],
)
def test_error_kinds_are_short_and_stable(error: str, kind: str) -> None:
    from mcpconnect._operations import error_kind
    from mcpconnect.auth._errors import CircuitOpenError, NeedsLoginError, TransientAuthError  # noqa: F401
    from mcpconnect.errors import ConfigError, TransportError, TransportTimeoutError  # noqa: F401

    assert error_kind(eval(error)) == kind  # noqa: S307 - a literal from the table above


def test_token_passed_to_observers_has_a_redacted_repr(mcpconnect_host: PluginHost, recorder: Recorder) -> None:
    token = _token()
    mcpconnect_host.token_obtained("gh", "1", token)
    assert "s" * 36 not in repr(recorder.calls)


# -- meta: documented and tested by construction --------------------------------------------------


def test_every_hook_has_a_docstring() -> None:
    for name in HOOKS:
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert len(doc) > 40, f"hook {name} has no reference docstring in hookspecs.py"


def test_every_hook_is_in_the_hook_reference() -> None:
    reference = (ROOT / "docs" / "hooks.md").read_text()
    documented = set(re.findall(r"^#+ `?([a-z_]+)\(", reference, flags=re.M))
    missing = [h for h in HOOKS if h not in documented]
    assert not missing, f"hooks missing from docs/hooks.md: {missing}"
    stale = documented - set(HOOKS)
    assert not stale, f"docs/hooks.md documents hooks that do not exist: {sorted(stale)}"


def test_every_hook_has_a_test() -> None:
    module = sys.modules[__name__]
    missing = [h for h in HOOKS if not hasattr(module, f"test_hook_{h}")]
    assert not missing, f"hooks without a test_hook_<name> in {__file__}: {missing}"


def test_the_hook_list_is_what_the_docs_promise() -> None:
    assert (
        sorted(
            [
                "register_auth_providers",
                "register_token_stores",
                "register_transports",
                "on_token_obtained",
                "on_token_refreshed",
                "on_token_refresh_failed",
                "on_token_revoked",
                "on_server_connected",
                "on_server_failed",
                "on_server_restarted",
                "on_operation_started",
                "on_operation_finished",
                "gateway_metrics",
            ]
        )
        == HOOKS
    )


def test_hook_reference_is_generated_from_the_specs() -> None:
    import runpy

    generator = runpy.run_path(str(ROOT / "scripts" / "gen_hook_docs.py"))
    assert (ROOT / "docs" / "hooks.md").read_text() == generator["render"](), (
        "docs/hooks.md is stale: run 'python scripts/gen_hook_docs.py'"
    )
    for name in HOOKS:
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert "Example::" in doc and f"def {name}(" in doc, f"the docstring of {name} has no example"
