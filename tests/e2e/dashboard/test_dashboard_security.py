"""The dashboard's guards, without a browser: a POST needs the page's CSRF token and its own
Origin, a foreign Host is misdirected, client keys cover everything but the page's shell."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.dashboard.conftest import KEY

CONFIG = """
[storage]
backend = "memory"
{gateway}
[servers.notes]
command = "{python}"
args = ["{upstream}"]

[providers.local]
type = "oidc"
issuer = "https://login.example.test"
client_id = "cli"
"""


def csrf_of(page: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert found, "the page embeds no CSRF token"
    return found.group(1)


def write_config(folder: Path, *, keys: bool) -> Path:
    from tests.core.gateway.conftest import UPSTREAM

    config = folder / "mcpconnect.toml"
    gateway = '[gateway]\napi_keys_env = "DASHBOARD_TEST_KEYS"\n' if keys else ""
    config.write_text(CONFIG.format(gateway=gateway, python=sys.executable, upstream=UPSTREAM), encoding="utf-8")
    return config


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.core.gateway.conftest import serve_http

    with serve_http(write_config(tmp_path_factory.mktemp("dashboard"), keys=False)) as (base, _):
        yield base


@pytest.fixture(scope="module")
def keyed_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.core.gateway.conftest import serve_http

    config = write_config(tmp_path_factory.mktemp("dashboard-keys"), keys=True)
    with serve_http(config, env={"DASHBOARD_TEST_KEYS": KEY}) as (base, _):
        yield base


def post(base: str, action: str, headers: dict[str, str], body: dict | None = None) -> httpx.Response:
    return httpx.post(f"{base}/ui/{action}", json=body or {"provider": "local"}, headers=headers)


def test_the_page_is_rendered_on_the_server_and_may_not_be_framed(gateway):
    response = httpx.get(f"{gateway}/ui")
    assert response.status_code == 200
    assert 'data-server="notes"' in response.text and 'data-provider="local"' in response.text
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    status = httpx.get(f"{gateway}/ui/status.json").json()
    assert status["servers"][0]["name"] == "notes" and status["servers"][0]["state"] == "ready"
    assert status["providers"] == [{"name": "local", "type": "oidc"}]


def test_a_post_needs_the_csrf_token_and_the_pages_origin(gateway):
    token = csrf_of(httpx.get(f"{gateway}/ui").text)
    origin = {"origin": gateway}
    for action in ("login", "logout", "refresh"):
        refused = post(gateway, action, origin)  # no token
        assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["error"]
        assert post(gateway, action, {**origin, "x-csrf-token": "not-the-token"}).status_code == 403
        # The token without the page's Origin: another site's page, or no browser at all.
        assert post(gateway, action, {"x-csrf-token": token}).status_code == 403
        assert post(gateway, action, {"x-csrf-token": token, "origin": "http://evil.example"}).status_code == 403
        port = gateway.rsplit(":", 1)[1]
        other_port = {"x-csrf-token": token, "origin": f"http://127.0.0.1:{int(port) + 1}"}
        assert post(gateway, action, other_port).status_code == 403  # another local page
    # Both given, the action runs (and says what is wrong with this one).
    unknown = post(gateway, "login", {**origin, "x-csrf-token": token}, {"provider": "nobody"})
    assert unknown.status_code == 400 and "no provider" in unknown.json()["error"]
    malformed = httpx.post(f"{gateway}/ui/refresh", content=b"[1]", headers={**origin, "x-csrf-token": token})
    assert malformed.status_code == 400 and "provider" in malformed.json()["error"]
    huge = post(gateway, "refresh", {**origin, "x-csrf-token": token}, {"provider": "x" * 5000})
    assert huge.status_code == 413
    not_logged_in = post(gateway, "logout", {**origin, "x-csrf-token": token})
    assert not_logged_in.status_code == 409 and "local" in not_logged_in.json()["error"]


def test_a_foreign_host_or_origin_is_refused(gateway):
    token = csrf_of(httpx.get(f"{gateway}/ui").text)
    for path in ("/ui", "/ui/status.json", "/ui/app.js"):
        assert httpx.get(f"{gateway}{path}", headers={"host": "evil.example"}).status_code == 421
        assert httpx.get(f"{gateway}{path}", headers={"origin": "http://evil.example"}).status_code == 403
    rebound = post(gateway, "login", {"host": "evil.example", "origin": "http://evil.example", "x-csrf-token": token})
    assert rebound.status_code == 421


def test_client_keys_cover_everything_but_the_pages_shell(keyed_gateway):
    shell = httpx.get(f"{keyed_gateway}/ui")
    assert shell.status_code == 200 and 'data-server="notes"' not in shell.text  # no data without a key
    assert httpx.get(f"{keyed_gateway}/ui/app.js").status_code == 200
    assert httpx.get(f"{keyed_gateway}/ui/status.json").status_code == 401
    bearer = {"authorization": f"Bearer {KEY}"}
    assert httpx.get(f"{keyed_gateway}/ui/status.json", headers=bearer).json()["servers"][0]["name"] == "notes"
    token = csrf_of(shell.text)
    assert post(keyed_gateway, "logout", {"origin": keyed_gateway, "x-csrf-token": token}).status_code == 401
    keyed = post(keyed_gateway, "logout", {"origin": keyed_gateway, "x-csrf-token": token, **bearer})
    assert keyed.status_code == 409  # admitted: not logged in to local


def test_ui_on_another_address_needs_client_keys(tmp_path: Path):
    import subprocess

    from tests.core.gateway.conftest import MCPCONNECT

    config = write_config(tmp_path, keys=False)
    done = subprocess.run(
        [MCPCONNECT, "--config", str(config), "ui", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "ui: listening on 0.0.0.0" in done.stderr
    assert "api_keys_env" in done.stderr and "127.0.0.1" in done.stderr
