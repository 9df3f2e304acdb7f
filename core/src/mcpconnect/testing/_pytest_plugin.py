"""The pytest plugin behind the ``pytest11`` entry point. Imports stay light: pytest loads it in
every project that has mcpconnect installed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mcpconnect._plugins import PluginHost


@pytest.fixture
def mcpconnect_host() -> PluginHost:
    """A plugin host with no plugin loaded and autoload off."""
    from mcpconnect._plugins import PluginHost

    return PluginHost(autoload=False)


def isolate_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the XDG config, data, cache and state folders under ``home`` and clear the
    ``MCPCONNECT_*`` variables, so nothing reads or writes the user's real files."""
    import os

    for var, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_STATE_HOME", "state"),
    ):
        (home / sub).mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(home / sub))
    for var in list(os.environ):
        if var.startswith("MCPCONNECT_"):
            monkeypatch.delenv(var)


@pytest.fixture
def mcpconnect_isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home of its own (see :func:`isolate_home`) and the working directory moved to a fresh
    folder under ``tmp_path``, which is returned."""
    isolate_home(tmp_path / "home", monkeypatch)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work
