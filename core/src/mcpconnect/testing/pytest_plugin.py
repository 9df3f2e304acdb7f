"""The pytest plugin behind the ``pytest11`` entry point. Imports stay light: pytest loads it in
every project that has mcpconnect installed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mcpconnect.plugins import PluginHost

_SWITCHES = ("MCPCONNECT_LOAD_PLUGINS", "MCPCONNECT_DISABLE_PLUGINS", "MCPCONNECT_TRACE_PLUGINS")


@pytest.fixture
def mcpconnect_host() -> PluginHost:
    """A plugin host with no plugin loaded and autoload off."""
    from mcpconnect.plugins import PluginHost

    return PluginHost(autoload=False)


@pytest.fixture
def mcpconnect_isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home of its own: XDG config, data, cache and state folders under ``tmp_path``, no
    ``MCPCONNECT_*`` variables, and the working directory moved there."""
    home = tmp_path / "home"
    for var, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_STATE_HOME", "state"),
    ):
        (home / sub).mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(home / sub))
    import os

    for var in list(os.environ):
        if var.startswith("MCPCONNECT_"):
            monkeypatch.delenv(var)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work
