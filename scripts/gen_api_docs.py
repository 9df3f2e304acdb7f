"""Regenerate docs/api.md, the public API, from the ``__all__`` of the public modules.

Run ``python scripts/gen_api_docs.py`` after changing what a public module exports or a public
name's signature or docstring; ``tests/core/test_public_api.py`` fails while the page is stale.
Everything a plugin or an application may rely on is on this page; any other module or name
of mcpconnect is private and may change.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path
from typing import Any

#: The public modules, in the order the page shows them, with what each is for.
MODULES: list[tuple[str, str]] = [
    (
        "mcpconnect",
        "the library's entry points, the hook marker, the base errors, the configuration types"
        " factories receive and the operations observers see",
    ),
    (
        "mcpconnect.errors",
        "every error mcpconnect raises on purpose, and the helpers that keep secrets out of messages",
    ),
    ("mcpconnect.auth", "the OAuth engine: the provider contract provider plugins subclass, and the token manager"),
    ("mcpconnect.tokens", "the token model"),
    ("mcpconnect.storage", "the token-store contract store plugins implement, and what stores share"),
    ("mcpconnect.transport", "what the core hands a transport plugin"),
    ("mcpconnect.gateway", "the gateway (`mcpconnect serve`) embedded in an application"),
    ("mcpconnect.testing", "the pytest plugin and the contract suites every plugin runs (tests only)"),
]


def _summary(obj: Any) -> str:
    """The first paragraph of ``obj``'s docstring, as Markdown on one line."""
    doc = inspect.getdoc(obj) or ""
    first = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
    first = re.sub(r":(?:class|func|data|meth|mod|attr):`~?([^`]+)`", r"`\1`", first)
    return first.replace("``", "`").rstrip(":") or "(no docstring)"


def _signature(obj: Any) -> str:
    try:
        sig = str(inspect.signature(obj))
    except (TypeError, ValueError):
        return ""
    # Annotations are strings (``from __future__ import annotations``): show them unquoted, and
    # leave default values as they are.
    return re.sub(r"(: |-> )'([^']*)'", r"\1\2", sig)


def _kind(obj: Any) -> str:
    if inspect.isclass(obj):
        if issubclass(obj, BaseException):
            return "exception"
        return "class"
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return "async function" if inspect.iscoroutinefunction(obj) else "function"
    return "constant"


def _entry(module: str, name: str) -> list[str]:
    obj = getattr(importlib.import_module(module), name)
    kind = _kind(obj)
    if kind == "constant":
        if name == "hookimpl":
            return [f"- `{name}`: the pluggy `HookimplMarker` of mcpconnect's hooks (`@hookimpl def register_...`)"]
        if type(obj).__module__ == "typing":
            return [f"- `{name} = {repr(obj).replace('typing.', '')}`"]
        if isinstance(obj, str | int | float | bool):
            value = repr(obj) if not isinstance(obj, int) or isinstance(obj, bool) else str(obj)
            return [f"- `{name} = {value}`"]
        return [f"- `{name}`: {type(obj).__name__}"]
    if kind in ("class", "exception"):
        head = f"{kind} `{name}`"
        if kind == "exception":
            bases = ", ".join(b.__name__ for b in obj.__bases__)
            head += f" ({bases})"
        return [f"- {head}: {_summary(obj)}"]
    return [f"- {kind} `{name}{_signature(obj)}`: {_summary(obj)}"]


def render() -> str:
    out = [
        "# Public API",
        "",
        "What a plugin or an application may import from mcpconnect: the names in the `__all__` of",
        "the modules below, generated from them by `scripts/gen_api_docs.py`",
        "(`tests/core/test_public_api.py` fails when this page is stale). Every other module and",
        "name is private and may change in any release.",
        "",
        "How to write each kind of plugin with these: [providers](writing-providers.md),",
        "[token stores](writing-stores.md), [transports](writing-transports.md),",
        "[observers](writing-observers.md); the hooks are in the [hook reference](hooks.md).",
        "",
    ]
    for module, purpose in MODULES:
        names = list(importlib.import_module(module).__all__)
        out += [f"## `{module}`", "", purpose[0].upper() + purpose[1:] + ".", ""]
        for name in sorted(names, key=str.lower):
            out += _entry(module, name)
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    target = Path(__file__).resolve().parents[1] / "docs" / "api.md"
    if "--check" in sys.argv:
        sys.exit(0 if target.read_text() == render() else 1)
    target.write_text(render())
