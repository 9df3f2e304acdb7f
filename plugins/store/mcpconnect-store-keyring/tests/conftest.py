from __future__ import annotations

import sys
from pathlib import Path

import pytest

#: The repository's root: the official plugins' tests share its test machinery.
ROOT = Path(__file__).resolve().parents[4]
# What every store's tests share: the Redis and PostgreSQL services, the damaged-record and
# multi-process checks (tests/plugins/store_shared).
sys.path.insert(0, str(ROOT / "tests" / "plugins" / "store_shared"))


@pytest.fixture(autouse=True)
def _isolated(mcpconnect_isolated: Path) -> Path:
    """Every test in a home and working folder of its own (the ``mcpconnect.testing`` pytest
    plugin's fixture): nothing reads or writes the user's real configuration or tokens."""
    return mcpconnect_isolated
