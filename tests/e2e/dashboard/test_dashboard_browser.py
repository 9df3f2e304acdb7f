"""The dashboard in a real browser: the page served by ``serve --transport http`` at ``/ui`` shows
the configured servers, a login started from it completes against oidc-provider and shows up with
its expiry, and refresh and log out work from it; ``mcpconnect ui`` serves the same page, asking
for the client key when keys are configured."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from mcpconnect_oidc_server import CONFIDENTIAL_SECRET

from tests.e2e.dashboard.conftest import KEY, running_ui, write_project

pytestmark = [pytest.mark.node, pytest.mark.slow]

EXPIRY = re.compile(r"^\d+(m|h\d\dm|d)$")  # describe_expiry: a time left, never "expired" or "never"


def stored_secrets(config: Path) -> list[str]:
    """Every secret in the configuration's token store, read in this process."""
    import asyncio
    import concurrent.futures

    from mcpconnect._runtime import Runtime

    async def read() -> list[str]:
        runtime = Runtime.build(config)
        try:
            found = []
            for stored in await runtime.store().list():
                for secret in (stored.token.access_token, stored.token.refresh_token, stored.token.id_token):
                    if secret is not None:
                        found.append(secret.get_secret_value())
            return found
        finally:
            await runtime.aclose()

    # Playwright's sync API holds an event loop in this thread: read in another one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, read()).result()


def wait_for_servers(page) -> None:
    page.wait_for_selector('#servers tr[data-server="notes"] td.state.ok', timeout=30_000)
    page.wait_for_selector('#servers tr[data-server="broken"] td.state.bad', timeout=30_000)


def test_gateway_dashboard_shows_servers_and_logs_in(browser, mcpconnect_isolated: Path, oidc_server, screenshots):
    from tests.core.gateway.conftest import serve_http

    config, env = write_project(mcpconnect_isolated, oidc_server.issuer)
    with serve_http(config, env=env) as (base, _):
        context = browser.new_context(viewport={"width": 1200, "height": 640})
        try:
            page = context.new_page()
            page.goto(f"{base}/ui")
            # Server-rendered: the states are in the page before any script has run.
            wait_for_servers(page)
            notes = page.locator('#servers tr[data-server="notes"]')
            assert notes.locator("td.state").inner_text() == "ready"
            assert int(notes.locator("td.tools").inner_text()) > 0
            assert notes.locator("td").nth(2).inner_text() == "stdio"
            assert re.fullmatch(r"\d+ ms", notes.locator("td").nth(5).inner_text())
            broken = page.locator('#servers tr[data-server="broken"]')
            assert "mcpconnect-no-such-server-command" in broken.locator("td.error").inner_text()
            assert page.locator('#logins tr[data-provider="local"]').inner_text().count("not logged in") == 1

            # Log in from the page: it shows the authorization URL; the browser opens it in a new tab,
            # oidc-provider approves, the loopback listener takes the callback.
            page.click('button[data-action="login"][data-provider="local"]')
            link = page.wait_for_selector('#pending li[data-login="local"] a.authorize', timeout=30_000)
            assert link.get_attribute("href").startswith(f"{oidc_server.issuer}/auth?")
            assert link.get_attribute("target") == "_blank"
            page.screenshot(path=str(screenshots / "dashboard-login.png"))
            with context.expect_page() as opened:
                link.click()
            tab = opened.value
            tab.wait_for_load_state()
            row = page.wait_for_selector('#logins tr[data-provider="local"][data-account="alice"]', timeout=30_000)
            assert "Logged in to local as Alice Example (alice)" in page.locator("#pending").inner_text()
            assert "alice (Alice Example)" in row.inner_text()
            expiry = page.locator('#logins tr[data-account="alice"] td.expiry').inner_text()
            assert EXPIRY.match(expiry), expiry
            assert "openid" in row.inner_text()
            tab.close()
            page.screenshot(path=str(screenshots / "dashboard.png"), full_page=True)

            # No secret reaches the page or its JSON.
            status = httpx.get(f"{base}/ui/status.json")
            assert [r["account"] for r in status.json()["logins"]] == ["alice"]
            secrets = stored_secrets(config)
            assert secrets and CONFIDENTIAL_SECRET not in page.content() + status.text
            for secret in secrets:
                assert secret not in page.content() and secret not in status.text

            # Refresh and log out, from the page.
            page.click('button[data-action="refresh"][data-provider="local"][data-account="alice"]')
            page.wait_for_selector("#message:has-text('Refreshed local (alice)')", timeout=30_000)
            assert oidc_server.stats()["refreshGrants"] >= 1
            page.click('button[data-action="logout"][data-provider="local"][data-account="alice"]')
            page.wait_for_selector("#message:has-text('Logged out of local (alice)')", timeout=30_000)
            page.wait_for_selector('#logins tr[data-provider="local"] td.none', timeout=30_000)
            assert httpx.get(f"{base}/ui/status.json").json()["logins"] == []
        finally:
            context.close()


def test_ui_command_asks_for_the_key_then_shows_servers(browser, mcpconnect_isolated: Path, oidc_server, screenshots):
    config, env = write_project(mcpconnect_isolated, oidc_server.issuer, keys=True)
    with running_ui(config, env) as url:
        base = url.removesuffix("/ui")
        assert httpx.get(f"{base}/ui/status.json").status_code == 401
        assert httpx.get(f"{base}/mcp").status_code == 401  # the key first; and no MCP behind it:
        assert httpx.get(f"{base}/mcp", headers={"authorization": f"Bearer {KEY}"}).status_code == 404
        context = browser.new_context(viewport={"width": 1200, "height": 560})
        try:
            page = context.new_page()
            page.goto(url)
            page.wait_for_selector("#key-form:not([hidden])")
            assert page.locator("#servers tr").count() == 0  # the shell holds no data
            page.fill("#key", "wrong-key-0123456789abcdef")
            page.click('#key-form button[type="submit"]')
            page.wait_for_selector("#message:has-text('That client key was refused')")
            page.fill("#key", KEY)
            page.click('#key-form button[type="submit"]')
            wait_for_servers(page)
            assert page.locator("#key-form").is_hidden()
            assert page.evaluate("sessionStorage.getItem('mcpconnect-client-key')") == KEY
            assert page.locator('#logins tr[data-provider="local"] button[data-action="login"]').count() == 1
            page.screenshot(path=str(screenshots / "dashboard-key.png"))
        finally:
            context.close()


def test_ui_logs_in_to_a_server_with_mcp_authorization(browser, mcpconnect_isolated: Path):
    """A server with ``auth = "mcp"`` (the SDK's authorization server and protected server from
    examples/protected) is listed among the logins; logging in from the page stores its token."""
    import sys

    from mcpconnect.testing._transport_contract import free_port, http_server

    example = Path(__file__).resolve().parents[3] / "examples" / "protected" / "protected_server.py"
    auth_port, mcp_port = free_port(), free_port()
    argv = [sys.executable, str(example), "--auth-port", str(auth_port), "--mcp-port", str(mcp_port)]
    config = mcpconnect_isolated / "mcpconnect.toml"
    config.write_text(
        f'[storage]\nbackend = "memory"\n\n[servers.notes]\nurl = "http://127.0.0.1:{mcp_port}/mcp"\n'
        'transport = "streamable-http"\nauth = "mcp"\n',
        encoding="utf-8",
    )
    with http_server(argv, mcp_port), running_ui(config, {}) as url:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(url)
            page.wait_for_selector('#servers tr[data-server="notes"] td.state.bad', timeout=30_000)
            assert "mcpconnect login notes" in page.locator('#servers tr[data-server="notes"] td.error').inner_text()
            assert page.locator('#logins tr[data-provider="notes"] td').nth(1).inner_text() == "mcp"
            page.click('button[data-action="login"][data-provider="notes"]')
            link = page.wait_for_selector('#pending li[data-login="notes"] a.authorize', timeout=30_000)
            assert link.get_attribute("href").startswith(f"http://127.0.0.1:{auth_port}/authorize?")
            with context.expect_page() as opened:
                link.click()
            opened.value.wait_for_load_state()
            row = page.wait_for_selector('#logins tr[data-provider="notes"][data-account]', timeout=30_000)
            assert EXPIRY.match(page.locator('#logins tr[data-provider="notes"] td.expiry').inner_text())
            assert "Logged in to notes" in page.locator("#pending").inner_text()
            assert row.get_attribute("data-account")
        finally:
            context.close()
