"""``mcpconnect login NAME`` from the command line, against each provider's local replica.

The CLI runs in a subprocess and finds the provider plugins through their installed entry points
(skipped for a provider whose distribution is not installed); the test follows the printed
authorization URL headlessly, as a browser would.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import replicas
from provider_replica import OAuthReplica

from mcpconnect.auth._headless import follow_authorization

PROVIDERS = {
    "github": (replicas.GitHubReplica, {}, "The Octocat (583231)"),
    "google": (replicas.GoogleReplica, {}, "Ada Lovelace (110169484474386276334)"),
    "microsoft": (replicas.MicrosoftReplica, {"api_url": "{url}"}, "Megan Bowen ("),
    "slack": (
        replicas.SlackReplica,
        {"redirect_uri": replicas.SlackReplica.redirect_urls[0]},
        "alice (Slack Softball Team) (T9TK3CUKW:U1234)",
    ),
    "notion": (replicas.NotionReplica, {}, "Ada Lovelace (Acme)"),
    "linear": (replicas.LinearReplica, {}, "Grace Hopper (2f8d5c1e-lin-user)"),
    "discord": (replicas.DiscordReplica, {}, "Nelly (80351110224678912)"),
    "cloudflare": (replicas.CloudflareReplica, {"api_url": "{url}/client/v4"}, "Ada Lovelace ("),
}


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, OAuthReplica]]:
    started: dict[str, OAuthReplica] = {}
    contexts = []
    try:
        for name, (cls, _, _) in PROVIDERS.items():
            replica = cls()
            context = replica.serve()
            context.__enter__()
            contexts.append(context)
            started[name] = replica
        yield started
    finally:
        for context in contexts:
            context.__exit__(None, None, None)


def _config(name: str, replica: OAuthReplica, extra: dict[str, str]) -> str:
    lines = ["[storage]", 'backend = "memory"', "", f"[providers.{name}]", f'type = "{name}"']
    lines += [f'client_id = "{replica.client_id}"', 'client_secret_env = "REPLICA_CLIENT_SECRET"']
    lines += [f'base_url = "{replica.url}"']
    lines += [f'{key} = "{value.format(url=replica.url)}"' for key, value in extra.items()]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name", list(PROVIDERS))
async def test_cli_login(name: str, servers: dict[str, OAuthReplica], tmp_path: Path) -> None:
    if importlib.util.find_spec(f"mcpconnect_auth_{name}") is None:
        pytest.skip(f"mcpconnect-auth-{name} is not installed")
    replica = servers[name]
    replica.reset()
    _, extra, who = PROVIDERS[name]
    config = tmp_path / "mcpconnect.toml"
    config.write_text(_config(name, replica, extra), encoding="utf-8")
    env = {**os.environ, "MCPCONNECT_CONFIG": str(config), "REPLICA_CLIENT_SECRET": replica.client_secret}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from mcpconnect._cli import main; main()",
        "login",
        name,
        "--no-browser",
        "--timeout",
        "60",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None and proc.stdin is not None
        url = ""
        async with asyncio.timeout(60):
            while not url.startswith("http"):
                line = await proc.stdout.readline()
                if not line:
                    break
                url = line.decode().strip()
        if not url.startswith("http"):
            await proc.wait()
            pytest.fail(f"no authorization URL printed: {(await proc.stderr.read()).decode()}")
        if "redirect_uri" in extra:
            # Slack redirects only to its registered https page: the CLI switches to --paste and the
            # user pastes the address bar.
            landed = await follow_authorization(url, deliver=False, stop_at=extra["redirect_uri"])
            proc.stdin.write(landed.url.encode() + b"\n")
        else:
            callback = await follow_authorization(url)
            assert callback.status == 200
        async with asyncio.timeout(60):
            rest, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    message = err.decode()
    assert proc.returncode == 0, message
    assert f"Logged in to {name} as {who}" in message
    assert replica.client_secret not in message + rest.decode()
    assert not any(token in message for token in replica.access)


def test_plugins_list_shows_each_provider_from_its_distribution(tmp_path: Path) -> None:
    import json
    import subprocess

    installed = [n for n in PROVIDERS if importlib.util.find_spec(f"mcpconnect_auth_{n}") is not None]
    if not installed:
        pytest.skip("no provider plugin is installed")
    done = subprocess.run(
        [sys.executable, "-c", "from mcpconnect._cli import main; main()", "plugins", "list", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = {(row["kind"], row["name"]): row for row in json.loads(done.stdout)}
    for name in installed:
        row = rows[("auth", name)]
        assert row["distribution"] == f"mcpconnect-auth-{name}"
        assert row["status"] == "ok" and row["provides"] == [name]


@pytest.mark.parametrize("name", ["github", "google", "microsoft"])
async def test_cli_device_login(name: str, servers: dict[str, OAuthReplica], tmp_path: Path) -> None:
    if importlib.util.find_spec(f"mcpconnect_auth_{name}") is None:
        pytest.skip(f"mcpconnect-auth-{name} is not installed")
    replica = servers[name]
    replica.reset()
    replica.device_interval = 1  # the engine's floor: keep the test short
    _, extra, who = PROVIDERS[name]
    config = tmp_path / "mcpconnect.toml"
    config.write_text(_config(name, replica, extra), encoding="utf-8")
    env = {**os.environ, "MCPCONNECT_CONFIG": str(config), "REPLICA_CLIENT_SECRET": replica.client_secret}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from mcpconnect._cli import main; main()",
        "login",
        name,
        "--device",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(60):
            user_code = (await proc.stdout.readline()).decode().strip()
        replica.approve(user_code)  # the user typed the code at the verification page
        async with asyncio.timeout(60):
            _, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert f"Logged in to {name} as {who}" in err.decode()


async def _paste_login_cli(replica: OAuthReplica, tmp_path: Path, tamper: Any) -> tuple[int, str, str]:
    config = tmp_path / "mcpconnect.toml"
    extra = {"redirect_uri": replicas.SlackReplica.redirect_urls[0]}
    config.write_text(_config("slack", replica, extra), encoding="utf-8")
    env = {**os.environ, "MCPCONNECT_CONFIG": str(config), "REPLICA_CLIENT_SECRET": replica.client_secret}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from mcpconnect._cli import main; main()",
        "login",
        "slack",
        "--paste",
        "--no-browser",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        async with asyncio.timeout(60):
            url = (await proc.stdout.readline()).decode().strip()
        landed = await follow_authorization(url, deliver=False, stop_at=extra["redirect_uri"])
        proc.stdin.write(tamper(landed.url).encode() + b"\n")
        async with asyncio.timeout(60):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (lambda url: url.replace("https://app.example.com", "https://evil.example"), "is not the redirect URI"),
        (lambda url: url.replace("state=", "state=X"), "state does not match"),
        (lambda url: url + "&code=second", "gives 'code' twice"),
        (lambda url: "", "nothing was pasted"),
    ],
)
async def test_cli_paste_refuses_a_hostile_or_mismatched_paste(
    servers: dict[str, OAuthReplica], tmp_path: Path, tamper: Any, expected: str
) -> None:
    if importlib.util.find_spec("mcpconnect_auth_slack") is None:
        pytest.skip("mcpconnect-auth-slack is not installed")
    replica = servers["slack"]
    replica.reset()
    code, _, err = await _paste_login_cli(replica, tmp_path, tamper)
    assert code != 0 and expected in err, err
    assert "Traceback" not in err and "Logged in" not in err
    assert replica.token_requests == []  # nothing was exchanged
    assert "--paste" in err  # says how to try again


async def test_cli_paste_logs_in(servers: dict[str, OAuthReplica], tmp_path: Path) -> None:
    if importlib.util.find_spec("mcpconnect_auth_slack") is None:
        pytest.skip("mcpconnect-auth-slack is not installed")
    replica = servers["slack"]
    replica.reset()
    code, _, err = await _paste_login_cli(replica, tmp_path, lambda url: f"  {url}  ")
    assert code == 0, err
    assert "Logged in to slack as alice (Slack Softball Team) (T9TK3CUKW:U1234)" in err
    sent = replica.token_requests[-1]["body"]
    assert sent["redirect_uri"] == replicas.SlackReplica.redirect_urls[0] and sent["code_verifier"]
