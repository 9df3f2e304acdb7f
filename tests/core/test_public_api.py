"""The public API: every name a public module exports exists and says what it is, and
docs/api.md, generated from the ``__all__`` lists, is not stale."""

from __future__ import annotations

import importlib
import inspect
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = runpy.run_path(str(ROOT / "scripts" / "gen_api_docs.py"))
PUBLIC = [module for module, _purpose in GENERATOR["MODULES"]]


def test_the_page_lists_the_public_modules_of_the_style_guide() -> None:
    # The style guide's plugin API, plus the gateway for applications that embed `serve`.
    assert PUBLIC == [
        "mcpconnect",
        "mcpconnect.errors",
        "mcpconnect.auth",
        "mcpconnect.tokens",
        "mcpconnect.storage",
        "mcpconnect.transport",
        "mcpconnect.gateway",
        "mcpconnect.testing",
    ]


@pytest.mark.parametrize("module", PUBLIC)
def test_every_exported_name_exists_and_has_a_docstring(module: str) -> None:
    mod = importlib.import_module(module)
    names = mod.__all__
    assert len(names) == len(set(names)), f"{module}.__all__ lists a name twice"
    for name in names:
        obj = getattr(mod, name)  # AttributeError: __all__ names something that is not there
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{module}.{name} has no docstring"


def test_the_plugin_helpers_are_public() -> None:
    from mcpconnect import auth, errors, storage

    assert {"safe_url", "register_secret", "scrub", "secret_values"} <= set(errors.__all__)
    assert {"FileLeaseLocking", "FileLeaseLock", "redact_url", "scrub_password", "atomic_write"} <= set(storage.__all__)
    assert {"ClientAuth", "IdTokenError", "NotRefreshableError", "DEFAULT_ACCOUNT"} <= set(auth.__all__)
    for method in ("request", "read_json", "read_seconds", "raise_for_error", "rate_limited"):
        assert not method.startswith("_") and inspect.getdoc(getattr(auth.OAuthProvider, method)), method


def test_the_api_page_is_generated_from_the_exports() -> None:
    assert (ROOT / "docs" / "api.md").read_text() == GENERATOR["render"](), (
        "docs/api.md is stale: run 'python scripts/gen_api_docs.py'"
    )
