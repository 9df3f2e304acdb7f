from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated(mcpconnect_isolated: Path) -> Path:
    """Every test in a home and working folder of its own (the ``mcpconnect.testing`` pytest
    plugin's fixture): nothing reads or writes the user's real configuration or tokens."""
    return mcpconnect_isolated
