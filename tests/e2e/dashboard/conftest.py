"""A real browser (Debian's chromium, driven by Playwright) for the dashboard's tests, and the
gateway or ``mcpconnect ui`` serving a real SDK server and the oidc-provider login."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "oidc"))

from oidc_fixtures import oidc_server, oidc_server_session  # noqa: F401

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
KEY = "dashboard-key-0123456789abcdef"
# Read at import: every test's isolated home clears the MCPCONNECT_* variables.
SCREENSHOTS = os.environ.get("MCPCONNECT_TEST_SCREENSHOTS")


@pytest.fixture
def browser() -> Iterator[object]:
    """Chromium driven by Playwright: fails under CI=true when either is missing, else skips.

    One per test: Playwright's sync API runs an event loop in this thread while it is open, and an
    async test that ran meanwhile (tests run in random order) could not start its own."""
    missing = []
    if not os.path.exists(CHROMIUM):
        missing.append(f"Debian's chromium at {CHROMIUM} (apt-get install -y chromium)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("Playwright for Python (pip install playwright; never 'playwright install')")
    if missing:
        reason = "the dashboard's browser tests need " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where the tests save their screenshots: ``MCPCONNECT_TEST_SCREENSHOTS`` (docs/img to refresh
    the documentation's), else a temporary folder."""
    return Path(SCREENSHOTS) if SCREENSHOTS else tmp_path


def write_project(folder: Path, issuer: str, *, keys: bool = False) -> tuple[Path, dict[str, str]]:
    """A configuration with a real SDK server over stdio, a dead one, the oidc-provider login and a
    sqlite token store
    (with ``keys``: client keys required, ``KEY`` among them); returns it and its environment."""
    pytest.importorskip("mcpconnect_store_sqlite", reason="needs the sqlite store plugin installed")
    from mcpconnect_oidc_server import CONFIDENTIAL_SECRET

    from tests.core.gateway.conftest import UPSTREAM

    config = folder / "mcpconnect.toml"
    gateway = '[gateway]\napi_keys_env = "DASHBOARD_TEST_KEYS"\n' if keys else ""
    config.write_text(
        f"""
[storage]
backend = "sqlite"
path = "{folder / "tokens.db"}"

{gateway}
[servers.notes]
command = "{sys.executable}"
args = ["{UPSTREAM}"]

[servers.broken]
command = "mcpconnect-no-such-server-command"

[providers.local]
type = "oidc"
issuer = "{issuer}"
client_id = "confidential"
client_secret_env = "LOCAL_CLIENT_SECRET"
""",
        encoding="utf-8",
    )
    env = {"LOCAL_CLIENT_SECRET": CONFIDENTIAL_SECRET}
    if keys:
        env["DASHBOARD_TEST_KEYS"] = f"other-key-0123456789abcdef,{KEY}"
    return config, env


@contextlib.contextmanager
def running_ui(config: Path, env: dict[str, str]) -> Iterator[str]:
    """``mcpconnect ui --port 0``; yields the page's URL, read from the line it announces."""
    from tests.core.gateway.conftest import MCPCONNECT, stop

    argv = [MCPCONNECT, "--config", str(config), "ui", "--port", "0"]
    process = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **env}, text=True
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        found = re.search(r"dashboard at (http://127\.0\.0\.1:\d+/ui)", line)
        assert found, f"mcpconnect ui printed {line!r}; exit code {process.poll()}"
        yield found.group(1)
    finally:
        stop(process)  # type: ignore[arg-type]
