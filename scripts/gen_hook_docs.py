"""Regenerate docs/hooks.md from the hook specifications' docstrings.

Run ``python scripts/gen_hook_docs.py`` after changing ``core/src/mcpconnect/hookspecs.py``;
``tests/core/test_hooks.py`` fails while the two differ. Everything on the page, the examples
included, comes from ``hookspecs.py``: the module's docstring is the introduction, each hook's
docstring its section.
"""

from __future__ import annotations

import inspect
import re
import sys
import textwrap
from pathlib import Path

from mcpconnect import hookspecs

GROUPS = [
    ("Registration hooks", ["register_auth_providers", "register_token_stores", "register_transports"]),
    (
        "Token lifecycle events",
        ["on_token_obtained", "on_token_refreshed", "on_token_refresh_failed", "on_token_revoked"],
    ),
    ("Server lifecycle events", ["on_server_connected", "on_server_failed", "on_server_restarted"]),
    ("Operation events", ["on_operation_started", "on_operation_finished"]),
    ("The gateway", ["gateway_metrics"]),
]


def _code_blocks(doc: str) -> str:
    """reST literal blocks (a line ending in ``::``, then an indented block) as fenced Python."""
    lines = doc.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.rstrip().endswith("::"):
            out.append(line)
            i += 1
            continue
        head = line.rstrip()[:-2].rstrip()
        if head:
            out.append(head + ":")
        i += 1
        block: list[str] = []
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
            block.append(lines[i])
            i += 1
        out += ["", "```python", textwrap.dedent("\n".join(block)).strip("\n"), "```", ""]
    return "\n".join(out)


def _markdown(doc: str) -> str:
    doc = re.sub(r":(?:class|func|data|meth|mod):`~?([^`]+)`", r"`\1`", doc)
    doc = doc.replace("``", "`")
    doc = _code_blocks(doc)
    return re.sub(r"^:param (\w+):", r"- `\1`:", doc, flags=re.M).rstrip() + "\n"


def render() -> str:
    intro = (inspect.getdoc(hookspecs) or "").split("\n", 1)[1].strip()
    out = [
        "# Hook reference",
        "",
        "Every hook mcpconnect calls, generated from `core/src/mcpconnect/hookspecs.py` by",
        "`scripts/gen_hook_docs.py`. `tests/core/test_hooks.py` fails when this page and the specs",
        "differ, or when a hook has no test. See [Writing a plugin](plugins.md) for packaging and",
        "entry points.",
        "",
        _markdown(intro),
    ]
    for title, names in GROUPS:
        out += [f"## {title}", ""]
        for name in names:
            fn = getattr(hookspecs, name)
            sig = str(inspect.signature(fn)).replace("'", "").replace(" -> None", "")
            out += [f"### `{name}{sig}`", "", _markdown(inspect.getdoc(fn) or "")]
    return "\n".join(out)


if __name__ == "__main__":
    target = Path(__file__).resolve().parents[1] / "docs" / "hooks.md"
    if "--check" in sys.argv:
        sys.exit(0 if target.read_text() == render() else 1)
    target.write_text(render())
