"""Shared by every test: no test reads or writes the user's real configuration or tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpconnect.testing.pytest_plugin import isolate_home


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    isolate_home(home, monkeypatch)
    return home
