"""Logins whose access tokens are for another API (RFC 8707 resource indicators), against a stock
oidc-provider: the access token is a JWT with ``aud`` = the resource, which the userinfo endpoint
refuses (as Auth0 audiences, Entra resources and Okta custom servers do). The login still works:
the ID token names the user; without one, the login is kept under ``default`` with a warning."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from pathlib import Path

import httpx
import pytest

from mcpconnect.auth._headless import follow_authorization

pytestmark = pytest.mark.node

MCPCONNECT = [sys.executable, "-c", "from mcpconnect._cli import main; main()"]
RESOURCE = "https://api.example.test/"


def _claims(jwt: str) -> dict:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.fixture
def resource_env(tmp_path: Path, oidc_server, mcpconnect_isolated):
    pytest.importorskip("mcpconnect_store_sqlite", reason="needs the sqlite store plugin installed")
    config = tmp_path / "mcpconnect.toml"
    config.write_text(
        f"""
[storage]
backend = "sqlite"
path = "{tmp_path / "tokens.db"}"

[providers.local]
type = "oidc"
issuer = "{oidc_server.issuer}"
client_id = "public-cli"
scopes = ["openid", "profile", "offline_access", "api:read"]
options = {{ resource = "{RESOURCE}" }}
""",
        encoding="utf-8",
    )
    env = dict(os.environ, MCPCONNECT_CONFIG=str(config))
    env.pop("MCPCONNECT_LOAD_PLUGINS", None)
    return env


async def _run(env: dict, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *MCPCONNECT, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_cli_login_with_resource_bound_jwt_access_tokens(resource_env, oidc_server) -> None:
    proc = await asyncio.create_subprocess_exec(
        *MCPCONNECT,
        "login",
        "local",
        "--no-browser",
        env=resource_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    url = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
    assert "resource=https%3A%2F%2Fapi.example.test%2F" in url
    callback = await follow_authorization(url)
    assert callback.status == 200
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    message = err.decode()
    assert proc.returncode == 0, message
    assert "Logged in to local as Alice Example (alice)" in message  # from the ID token
    assert "userinfo" not in message and "error" not in message

    code, out, err = await _run(resource_env, "tokens", "list", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [(r["provider"], r["account"], r["state"]) for r in rows] == [("local", "alice", "valid")]

    # The scenario is the real one: a JWT for the resource, which userinfo refuses.
    from mcpconnect._runtime import Runtime

    runtime = Runtime.build(Path(resource_env["MCPCONNECT_CONFIG"]))
    try:
        stored = (await runtime.store().list("local"))[0].token
    finally:
        await runtime.aclose()
    access = stored.access_token.get_secret_value()
    assert _claims(access)["aud"] == RESOURCE
    async with httpx.AsyncClient() as http:
        refused = await http.get(f"{oidc_server.issuer}/me", headers={"Authorization": f"Bearer {access}"})
    assert refused.status_code == 401

    # The refreshed token is for the resource too, and the account stays the ID token's subject.
    code, out, err = await _run(resource_env, "tokens", "refresh", "local")
    assert code == 0 and "Refreshed local (alice)" in err, err


async def test_without_id_token_a_refused_userinfo_is_a_warning_not_a_failure(oidc_server, make_runtime) -> None:
    from mcpconnect.auth import TokenManager

    runtime = make_runtime(
        {
            "local": {
                "type": "oidc",
                "issuer": oidc_server.issuer,
                "client_id": "public-cli",
                "scopes": ["api:read"],  # no openid: no ID token
                "options": {"resource": RESOURCE},
            }
        }
    )
    manager = TokenManager(runtime, retries=1)
    warnings: list[str] = []

    async def browser(url: str) -> None:
        await follow_authorization(url)

    token = await manager.login("local", on_url=browser, wait=30, on_warning=warnings.append)
    assert token.account == "default" and token.id_token is None
    assert len(warnings) == 1 and "userinfo endpoint" in warnings[0] and "'default'" in warnings[0]
    assert (await manager.stored("local")).token.access_token == token.access_token
