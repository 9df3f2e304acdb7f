"""Shared by every test: no test reads or writes the user's real configuration or tokens."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from mcpconnect.testing._pytest_plugin import isolate_home

# CI explores the same examples on every run (a failure there reproduces locally with CI=true);
# a local run draws new ones each time.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    isolate_home(home, monkeypatch)
    return home
