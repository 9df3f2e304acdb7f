"""Regenerate docs/hooks.md from the hook specifications' docstrings.

Run ``python scripts/gen_hook_docs.py`` after changing ``core/src/mcpconnect/hookspecs.py``;
``tests/core/test_hooks.py`` fails while the two differ.
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

from mcpconnect import hookspecs

GROUPS = [
    (
        "Registration hooks",
        "Called once, when the plugin that implements them is loaded. Each receives a `register` "
        "callback; call it once per thing the plugin provides.",
        ["register_auth_providers", "register_token_stores", "register_transports"],
    ),
    (
        "Token lifecycle events",
        "Notifications from the token manager. Return values are ignored; an exception is logged and "
        "never breaks the login or refresh that fired the event.",
        ["on_token_obtained", "on_token_refreshed", "on_token_refresh_failed", "on_token_revoked"],
    ),
    (
        "Server lifecycle events",
        "Notifications from the hub that owns the server connections.",
        ["on_server_connected", "on_server_failed", "on_server_restarted"],
    ),
    (
        "Operation events",
        "The start and the end of each connection, request, login and refresh, for spans and latency "
        "metrics. Not called at all while no plugin implements them.",
        ["on_operation_started", "on_operation_finished"],
    ),
]

EXAMPLES = {
    "register_auth_providers": """from mcpconnect import hookimpl


@hookimpl
def register_auth_providers(register):
    register("acme", AcmeProvider, description="Acme ID (OAuth 2.1)")""",
    "register_token_stores": """from mcpconnect import hookimpl


@hookimpl
def register_token_stores(register):
    def factory(**options):
        from mcpconnect_store_vault.backend import VaultBackend  # heavy imports inside

        return VaultBackend(**options)

    register("vault", factory, description="HashiCorp Vault KV v2")""",
    "register_transports": """from mcpconnect import hookimpl


@hookimpl
def register_transports(register):
    register("websocket", open_websocket, requires="url", description="MCP over WebSocket")""",
    "on_token_obtained": """@hookimpl
def on_token_obtained(provider, account):
    audit.info("login %s/%s", provider, account)  # never log the token itself""",
    "on_token_refreshed": """@hookimpl
def on_token_refreshed(provider, token):
    metrics.gauge("token_expires_at", token.expires_at.timestamp(), tags={"provider": provider})""",
    "on_token_refresh_failed": """@hookimpl
def on_token_refresh_failed(provider, account, error, will_retry):
    if not will_retry:
        notify(f"{provider}: {account} must log in again: {error}")""",
    "on_token_revoked": """@hookimpl
def on_token_revoked(provider, account, remote):
    if not remote:
        audit.warning("%s/%s deleted locally only; revoke it at the provider", provider, account)""",
    "on_server_connected": """@hookimpl
def on_server_connected(server, transport, protocol_version):
    print(f"{server}: up over {transport} ({protocol_version})")""",
    "on_server_failed": """@hookimpl
def on_server_failed(server, error):
    alerts.send(f"MCP server {server} is down: {error}")""",
    "on_server_restarted": """@hookimpl
def on_server_restarted(server, attempt):
    metrics.increment("mcp_restarts", tags={"server": server, "attempt": attempt})""",
    "on_operation_started": """@hookimpl
def on_operation_started(operation):
    if operation.kind == "request":
        operation.meta["traceparent"] = current_traceparent()  # the server joins the trace""",
    "on_operation_finished": """@hookimpl
def on_operation_finished(operation):
    latency.record(operation.duration, {"server": operation.server, "outcome": operation.outcome})""",
}


def _markdown(doc: str) -> str:
    doc = re.sub(r":(?:class|func|data|meth|mod):`~?([^`]+)`", r"`\1`", doc)
    doc = doc.replace("``", "`")
    return re.sub(r"^:param (\w+):", r"- `\1`:", doc, flags=re.M)


def render() -> str:
    out = [
        "# Hook reference",
        "",
        "Every hook mcpconnect calls, generated from the docstrings in `core/src/mcpconnect/hookspecs.py`",
        "by `scripts/gen_hook_docs.py`. `tests/core/test_hooks.py` fails when this page and the specs",
        "differ, or when a hook has no test.",
        "",
        "Implement a hook with `mcpconnect.hookimpl`. An implementation may take any subset of the",
        "hook's arguments, so hooks can grow new ones without breaking plugins. See",
        "[Writing a plugin](plugins.md) for packaging and entry points.",
        "",
    ]
    for title, intro, names in GROUPS:
        out += [f"## {title}", "", intro, ""]
        for name in names:
            fn = getattr(hookspecs, name)
            sig = str(inspect.signature(fn)).replace("'", "").replace(" -> None", "")
            out += [
                f"### `{name}{sig}`",
                "",
                _markdown(inspect.getdoc(fn) or ""),
                "",
                "```python",
                EXAMPLES[name],
                "```",
                "",
            ]
    return "\n".join(out)


if __name__ == "__main__":
    target = Path(__file__).resolve().parents[1] / "docs" / "hooks.md"
    if "--check" in sys.argv:
        sys.exit(0 if target.read_text() == render() else 1)
    target.write_text(render())
