"""Shared by every test: no test reads or writes the user's real configuration or tokens."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    for var, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_STATE_HOME", "state"),
    ):
        (home / sub).mkdir()
        monkeypatch.setenv(var, str(home / sub))
    for var in (
        "MCPCONNECT_CONFIG",
        "MCPCONNECT_LOAD_PLUGINS",
        "MCPCONNECT_DISABLE_PLUGINS",
        "MCPCONNECT_TRACE_PLUGINS",
    ):
        monkeypatch.delenv(var, raising=False)
    return home
