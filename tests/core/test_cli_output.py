"""What the CLI prints, as a user reads it in a terminal or a log: no rich markup printed
literally, each server named once per message, long errors on one line when stdout is a pipe,
a warning printed once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

FAULTY = Path(__file__).resolve().parent / "hub" / "faulty_server.py"


def test_check_report_through_a_pipe(tmp_path: Path, mcpconnect_isolated) -> None:
    long_arg = "x" * 150  # makes the error longer than any terminal
    config = tmp_path / "mcpconnect.toml"
    config.write_text(
        f"""
[storage]
backend = "memory"

[servers.broken]
command = {json.dumps(sys.executable)}
args = [{json.dumps(str(FAULTY))}, "exit-at-start", "{long_arg}"]
""",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-c", "from mcpconnect._cli import main; main()", "--config", str(config), "check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 1, done.stderr
    assert "[bold]" not in out and "[/]" not in out and "[red]" not in out
    detail = [line for line in out.splitlines() if line.startswith("server 'broken'")]
    assert len(detail) == 1, out  # the multi-line error, printed once, starting with its server
    assert detail[0].count("broken") == 1
    assert "exited" in detail[0] or "closed" in detail[0] or "stderr" in out
    assert "faulty: cannot open database /nowhere/db.sqlite" in out  # the stderr tail, not folded
    assert "Traceback" not in done.stderr


def _plain_login(tmp_path: Path, account_name: str | None = None) -> Path:
    """A sqlite store holding one login without a refresh token (an OAuth App's, say)."""
    import asyncio

    from pydantic import SecretStr

    from mcpconnect._runtime import Runtime
    from mcpconnect.tokens import Token

    pytest.importorskip("mcpconnect_store_sqlite", reason="needs the sqlite store plugin installed")
    config = tmp_path / "mcpconnect.toml"
    config.write_text(
        f"""
[storage]
backend = "sqlite"
path = "{tmp_path / "tokens.db"}"

[providers.plain]
type = "oauth2"
client_id = "c"
authorize_url = "https://auth.example/authorize"
token_url = "https://auth.example/token"
""",
        encoding="utf-8",
    )

    async def store() -> None:
        runtime = Runtime.build(config)
        try:
            await runtime.store().put(
                Token(
                    provider="plain",
                    account="me",
                    account_name=account_name,
                    access_token=SecretStr("plain-access-token-0123456789"),
                )
            )
        finally:
            await runtime.aclose()

    asyncio.run(store())
    return config


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from mcpconnect._cli import main; main()", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_logout_warning_is_printed_once(tmp_path: Path, mcpconnect_isolated) -> None:
    done = _cli(_plain_login(tmp_path), "logout", "plain")
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("offers no token revocation") == 1, done.stderr
    assert "Logged out of plain (me): token deleted locally" in done.stderr


def test_refreshing_a_token_without_refresh_token_says_why_and_keeps_it(tmp_path: Path, mcpconnect_isolated) -> None:
    config = _plain_login(tmp_path)
    done = _cli(config, "tokens", "refresh", "plain")
    assert done.returncode == 0, done.stderr
    assert "Not refreshed: provider 'plain': the token of 'me' cannot be refreshed" in done.stderr
    assert "no refresh token" in done.stderr and "does not expire" in done.stderr
    assert "rejected" not in done.stderr and "error:" not in done.stderr
    listed = _cli(config, "tokens", "list", "--json")
    rows = json.loads(listed.stdout)
    assert [(r["account"], r["state"]) for r in rows] == [("me", "valid")]


def test_text_from_providers_and_configs_is_not_read_as_markup(tmp_path: Path, mcpconnect_isolated) -> None:
    config = _plain_login(tmp_path, account_name="Ada [admin] [bold]x[/]")
    with config.open("a", encoding="utf-8") as fh:
        fh.write('\n[servers.s]\ncommand = "srv"\nargs = ["[red]literal[/]", "[servers.s]"]\n')
    listed = _cli(config, "tokens", "list")
    assert listed.returncode == 0, listed.stderr
    assert "Ada [admin] [bold]x[/]" in listed.stdout
    shown = _cli(config, "config", "show")
    assert shown.returncode == 0, shown.stderr
    assert "[red]literal[/]" in shown.stdout and "[servers.s]" in shown.stdout
