"""A damaged login as the CLI shows it: listed with what to do, the others still work, and
'mcpconnect logout' removes it."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from mcpconnect._config.model import StorageConfig
from mcpconnect._plugins import PluginHost
from mcpconnect.storage._factory import open_store
from mcpconnect.storage._local import data_dir
from mcpconnect.tokens import Token

from .conftest import run


@pytest.fixture
def damaged_store(mcpconnect_isolated: Path) -> Path:
    (mcpconnect_isolated / "mcpconnect.toml").write_text(
        '[providers.gh]\ntype = "github"\nclient_id = "cid"\n[providers.acme]\ntype = "oauth2"\nclient_id = "c"\n'
        'token_url = "https://acme.example/token"\n'
    )

    async def fill() -> None:
        store = open_store(StorageConfig(), PluginHost())  # the default: sqlite, encrypted
        for provider, account in (("gh", "1"), ("gh", "2"), ("acme", "9")):
            await store.put(
                Token(provider=provider, account=account, access_token=f"at-{provider}-{account}-xyzxyzxyz")
            )
        await store.close()

    asyncio.run(fill())
    db = data_dir() / "tokens.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE records SET data = ? WHERE key = 'gh/2'", (b"\x00damaged\x00",))
    return db


def test_tokens_list_shows_the_damaged_login_and_every_other(
    damaged_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "tokens", "list", "--json")
    assert code == 0, err
    rows = {(r["provider"], r["account"]): r for r in json.loads(out)}
    assert set(rows) == {("gh", "1"), ("gh", "2"), ("acme", "9")}
    assert rows[("gh", "2")]["state"] == "damaged"
    assert "mcpconnect logout gh --account 2" in rows[("gh", "2")]["problem"]
    assert rows[("gh", "1")]["state"] == "valid" and rows[("acme", "9")]["state"] == "valid"

    code, out, err = run(capsys, "tokens", "list")
    assert code == 0 and "warning:" in err and "mcpconnect logout gh --account 2" in err
    assert "acme" in out

    code, out, err = run(capsys, "whoami", "acme", "--json")
    assert code == 0 and json.loads(out)["account"] == "9"
    code, out, err = run(capsys, "whoami", "gh", "--account", "2")
    assert code == 1 and "damaged" in err and "Traceback" not in err


def test_logout_deletes_the_damaged_record(damaged_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capsys, "logout", "gh", "--account", "2")
    assert code == 0, err
    assert "damaged" in err and "deleted locally" in err
    code, out, _ = run(capsys, "tokens", "list", "--json")
    assert sorted((r["provider"], r["account"], r["state"]) for r in json.loads(out)) == [
        ("acme", "9", "valid"),
        ("gh", "1", "valid"),
    ]


def test_migrate_copies_every_readable_login_and_names_the_damaged_one(
    damaged_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "copy.json"
    code, out, err = run(capsys, "tokens", "migrate", "--to", "file", "-o", f"path={target}", "--json")
    assert code == 0, err
    assert json.loads(out)["tokens"] == 2
    assert "gh account '2' is damaged" in err and "not copied" in err

    async def copied() -> list[tuple[str, str]]:
        store = open_store(StorageConfig.model_validate({"backend": "file", "path": str(target)}), PluginHost())
        return sorted((s.token.provider, s.token.account) for s in await store.list())

    assert asyncio.run(copied()) == [("acme", "9"), ("gh", "1")]
