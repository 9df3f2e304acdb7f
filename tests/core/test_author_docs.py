"""The plugin authors' pages match the code: every knob and fixture of each contract suite, every
member of the contracts, every field of ``TransportContext`` is documented, and the complete
examples on the pages are the fixtures the test suite builds and runs."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mcpconnect.storage import StorageBackend
from mcpconnect.testing import ProviderContract, StorageBackendContract, TransportContract
from mcpconnect.transport import TransportContext

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
NOTEBOOK = ROOT / "tests" / "fixtures" / "mcpconnect-store-notebook"
#: Fixtures a suite defines for its own use, not for the author to provide.
SUITE_OWN = {"contract_runtime", "manager"}


def knobs_and_fixtures(suite: type) -> set[str]:
    names = {n for n in getattr(suite, "__annotations__", {}) if not n.startswith("_")}
    for name, value in vars(suite).items():
        if name.startswith(("_", "test_")) or name in SUITE_OWN:
            continue
        if type(value).__name__ == "FixtureFunctionDefinition" or not callable(value):
            names.add(name)
    return names


@pytest.mark.parametrize(
    ("suite", "page"),
    [
        (StorageBackendContract, "writing-stores.md"),
        (ProviderContract, "writing-providers.md"),
        (TransportContract, "writing-transports.md"),
    ],
)
def test_every_knob_and_fixture_of_a_contract_suite_is_on_its_page(suite: type, page: str) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    names = knobs_and_fixtures(suite)
    assert len(names) >= 3, names
    missing = sorted(n for n in names if f"`{n}`" not in text)
    assert not missing, f"docs/{page} does not document {missing} of {suite.__name__}"


def test_every_member_of_the_store_contract_is_on_the_stores_page() -> None:
    text = (DOCS / "writing-stores.md").read_text(encoding="utf-8")
    members = {n for n in vars(StorageBackend) if not n.startswith("_")}
    assert {"get", "put", "delete", "list", "lock", "close", "describe", "encrypt_by_default"} <= members
    missing = sorted(n for n in members if f"`{n}" not in text)
    assert not missing, f"docs/writing-stores.md does not document StorageBackend.{missing}"


def test_every_field_of_the_transport_context_is_on_the_transports_page() -> None:
    text = (DOCS / "writing-transports.md").read_text(encoding="utf-8")
    missing = sorted(f.name for f in dataclasses.fields(TransportContext) if f"`{f.name}" not in text)
    assert not missing, f"docs/writing-transports.md does not document TransportContext.{missing}"


@pytest.mark.parametrize(
    "path",
    [
        "src/mcpconnect_store_notebook/__init__.py",
        "src/mcpconnect_store_notebook/backend.py",
        "tests/test_notebook_contract.py",
    ],
)
def test_the_stores_page_shows_the_notebook_plugin(path: str) -> None:
    text = (DOCS / "writing-stores.md").read_text(encoding="utf-8")
    source = (NOTEBOOK / path).read_text(encoding="utf-8").split("from __future__ import annotations\n", 1)[-1]
    for line in source.splitlines():
        assert line in text, f"docs/writing-stores.md lacks, from {path}: {line!r}"


def test_the_notebook_store_passes_its_contract_with_a_second_instance() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["PYTHONPATH"] = str(NOTEBOOK / "src")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "tests"],
        cwd=NOTEBOOK,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "skipped" not in result.stdout, "the notebook should run every contract test (second_backend, leases)"
