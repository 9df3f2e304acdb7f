from __future__ import annotations

import sys
from pathlib import Path

import pytest

#: The repository's root: the official plugins' tests share its test machinery.
ROOT = Path(__file__).resolve().parents[4]
# The replicas of the providers and the stricter provider suite, shared by every provider.
sys.path.insert(0, str(ROOT / "tests" / "plugins" / "auth_replica"))


@pytest.fixture(autouse=True)
def _isolated(mcpconnect_isolated: Path) -> Path:
    """Every test in a home and working folder of its own (the ``mcpconnect.testing`` pytest
    plugin's fixture): nothing reads or writes the user's real configuration or tokens."""
    return mcpconnect_isolated
