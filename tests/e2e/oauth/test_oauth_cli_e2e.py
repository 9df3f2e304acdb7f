"""The CLI as a new user meets it, against oidc-provider: ``login --no-browser`` (the URL alone on
a line; a headless browser follows it), ``whoami``, ``tokens list``, ``tokens refresh``, ``logout``,
``login --device`` — each a separate process over the sqlite store — and no secret in any output,
``--debug`` included."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from pathlib import Path

import pytest
from mcpconnect_oidc_server import CONFIDENTIAL_SECRET

from mcpconnect.auth._headless import deliver_callback, follow_authorization

pytestmark = pytest.mark.node

MCPCONNECT = [sys.executable, "-c", "from mcpconnect._cli import main; main()"]


@pytest.fixture
def cli_env(tmp_path: Path, oidc_server, mcpconnect_isolated):
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
client_id = "confidential"
client_secret_env = "LOCAL_CLIENT_SECRET"
""",
        encoding="utf-8",
    )
    env = dict(os.environ, LOCAL_CLIENT_SECRET=CONFIDENTIAL_SECRET, MCPCONNECT_CONFIG=str(config))
    env.pop("MCPCONNECT_LOAD_PLUGINS", None)
    return env


class Outputs:
    """Everything the CLI printed, to search for secrets at the end."""

    def __init__(self) -> None:
        self.text: list[str] = []

    def add(self, *chunks: str) -> None:
        self.text.extend(chunks)

    def all(self) -> str:
        return "\n".join(self.text)


async def run(env: dict, *args: str, outputs: Outputs) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *MCPCONNECT, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    outputs.add(out.decode(), err.decode())
    return proc.returncode or 0, out.decode(), err.decode()


async def stored_secrets(env: dict) -> list[str]:
    """Every secret now in the store, read in-process with the same configuration."""
    from mcpconnect._runtime import Runtime

    runtime = Runtime.build(Path(env["MCPCONNECT_CONFIG"]))
    try:
        secrets = []
        for stored in await runtime.store().list():
            for field in (stored.token.access_token, stored.token.refresh_token, stored.token.id_token):
                if field is not None:
                    secrets.append(field.get_secret_value())
        return secrets
    finally:
        await runtime.aclose()


async def login_no_browser(env: dict, outputs: Outputs, *extra: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *MCPCONNECT,
        *extra,
        "login",
        "local",
        "--no-browser",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    first = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    url = first.strip()
    assert url.startswith(f"{env['ISSUER']}/auth?"), first  # the URL alone on its line
    callback = await follow_authorization(url, deliver=False)
    delivered = await deliver_callback(callback.url)
    assert delivered.status == 200
    rest, err = await asyncio.wait_for(proc.communicate(), 60)
    outputs.add(first, rest.decode(), err.decode())
    code = dict(p.split("=", 1) for p in callback.url.split("?", 1)[1].split("&"))["code"]
    return proc.returncode or 0, err.decode(), code


async def test_cli_login_whoami_list_refresh_logout(cli_env, oidc_server):
    env = dict(cli_env, ISSUER=oidc_server.issuer)
    outputs = Outputs()
    secrets = [CONFIDENTIAL_SECRET]

    code, err, auth_code = await login_no_browser(env, outputs, "--debug")
    assert code == 0, err
    assert "Logged in to local as Alice Example (alice)" in err
    secrets += [auth_code, *await stored_secrets(env)]

    code, out, err = await run(env, "whoami", "local", outputs=outputs)
    assert code == 0 and "local: Alice Example (alice)" in out and "refreshable: yes" in out

    code, out, err = await run(env, "tokens", "list", "--json", outputs=outputs)
    rows = json.loads(out)
    assert code == 0 and [(r["provider"], r["account"], r["state"], r["refreshable"]) for r in rows] == [
        ("local", "alice", "valid", True)
    ]
    assert "openid" in rows[0]["scopes"] and rows[0]["expires_in_seconds"] > 3000

    code, out, err = await run(env, "tokens", "list", outputs=outputs)
    assert code == 0 and "alice" in out and "valid" in out

    code, out, err = await run(env, "--debug", "tokens", "refresh", "local", outputs=outputs)
    assert code == 0 and "Refreshed local (alice)" in err
    assert oidc_server.stats()["refreshGrants"] == 1
    secrets += await stored_secrets(env)

    code, out, err = await run(env, "logout", "local", outputs=outputs)
    assert code == 0 and "token revoked at the provider and deleted" in err
    assert await stored_secrets(env) == []

    code, out, err = await run(env, "whoami", "local", outputs=outputs)
    assert code == 1 and "error: provider 'local': not logged in; run 'mcpconnect login local'" in err

    printed = outputs.all()
    assert len(set(secrets)) >= 6
    for secret in secrets:
        assert secret not in printed


async def test_cli_device_login(cli_env, oidc_server):
    outputs = Outputs()
    proc = await asyncio.create_subprocess_exec(
        *MCPCONNECT,
        "login",
        "local",
        "--device",
        "--scope",
        "openid",
        "--scope",
        "profile",
        env=cli_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    user_code = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
    assert oidc_server.approve_device(user_code)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    outputs.add(out.decode(), err.decode())
    assert proc.returncode == 0, err.decode()
    assert "enter the code" in err.decode() and "Logged in to local as Alice Example (alice)" in err.decode()
    _, out, _ = await run(cli_env, "tokens", "list", "--json", outputs=outputs)
    assert json.loads(out)[0]["scopes"] == ["openid", "profile"]
    for secret in await stored_secrets(cli_env):
        assert secret not in outputs.all()


async def test_cli_errors_are_one_clear_line(cli_env, oidc_server):
    outputs = Outputs()
    code, _, err = await run(cli_env, "login", "nope", "--no-browser", outputs=outputs)
    assert code == 2 and "no provider named 'nope' is configured" in err and "Traceback" not in err
    code, _, err = await run(cli_env, "login", "local", "--device", "--no-browser", outputs=outputs)
    assert code == 2 and "at most one of" in err
    code, _, err = await run(cli_env, "tokens", "refresh", "local", outputs=outputs)
    assert code == 1 and "not logged in; run 'mcpconnect login local'" in err


async def test_cli_login_opens_the_system_browser(cli_env, oidc_server):
    """The default path: Python's webbrowser opens $BROWSER, here a headless one that approves."""
    follow = "from mcpconnect.auth._headless import follow_authorization as f; import asyncio, sys; "
    follow += "asyncio.run(f(sys.argv[1]))"
    env = dict(cli_env, BROWSER=f"{sys.executable} -c '{follow}' %s")
    outputs = Outputs()
    code, out, err = await run(env, "login", "local", outputs=outputs)
    assert code == 0, err
    assert "Opening a browser to log in to local" in err
    assert "Logged in to local as Alice Example (alice)" in err
    code, out, _ = await run(cli_env, "whoami", "local", "--json", outputs=outputs)
    assert json.loads(out)["account"] == "alice"
    for secret in await stored_secrets(cli_env):
        assert secret not in outputs.all()


# -- mcpconnect check reports every configured provider ------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_check_reports_providers_with_login_state_and_reachability(cli_env, oidc_server, tmp_path):
    outputs = Outputs()
    env = dict(cli_env, ISSUER=oidc_server.issuer)
    code, out, _ = await run(env, "check", "--json", outputs=outputs)
    shown = json.loads(out)
    (local,) = shown["providers"]
    assert local["name"] == "local" and local["type"] == "oidc"
    assert local["reachable"] is True and local["logged_in"] is False and local["ok"] is True
    assert shown["total"] == 0 and code == 0

    code, _, _ = await login_no_browser(env, outputs)
    assert code == 0
    code, out, _ = await run(env, "check", "--json", outputs=outputs)
    local = json.loads(out)["providers"][0]
    assert local["logged_in"] is True and local["accounts"] == ["alice"]
    assert 0 < local["expires_in_seconds"] <= 3600

    # A second provider whose endpoints are down: reported, and check fails.
    port = closed_port()
    config = tmp_path / "mcpconnect.toml"
    config.write_text(
        config.read_text()
        + f"""
[providers.down]
type = "oauth2"
client_id = "x"
authorize_url = "http://127.0.0.1:{port}/authorize"
token_url = "http://127.0.0.1:{port}/token"
"""
    )
    code, out, _ = await run(env, "check", "--json", outputs=outputs)
    providers = {p["name"]: p for p in json.loads(out)["providers"]}
    assert providers["down"]["reachable"] is False and providers["down"]["ok"] is False
    assert providers["local"]["ok"] is True
    assert code == 1
    code, table, _ = await run(env, "check", outputs=outputs)
    assert "unreachable" in table and "1/2 providers reachable, 1 logged in" in table
    assert code == 1
