"""Third-party plugins (a store, a TCP transport, an observer, a provider), each built as a wheel and installed
into a fresh virtual environment beside the core alone, are discovered and used by the core with no
change to the core."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcpconnect.testing import free_port, http_server

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
FIXTURE = FIXTURES / "mcpconnect-store-notebook"
TCP = FIXTURES / "mcpconnect-transport-tcp"
JOURNAL = FIXTURES / "mcpconnect-observer-journal"
PROVIDER = FIXTURES / "example-provider"
NOTES = ROOT / "examples" / "servers" / "notes_server.py"
THIRD_PARTY = {
    "mcpconnect-store-notebook",
    "mcpconnect-transport-tcp",
    "mcpconnect-observer-journal",
    "mcpconnect-auth-example",
}

pytestmark = pytest.mark.slow


def sh(
    *cmd: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, f"{cmd} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def fresh_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("thirdparty")
    wheels = work / "wheels"
    src = work / "src"
    ignore = shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__")
    shutil.copytree(FIXTURE, src, ignore=ignore)
    for fixture in (src, TCP, JOURNAL, PROVIDER):
        copy = work / "copies" / fixture.name
        shutil.copytree(fixture, copy, ignore=ignore)
        sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", wheels, copy)
    built = sorted(wheels.glob("*.whl"))
    assert {w.name.split("-")[0].replace("_", "-") for w in built} == THIRD_PARTY
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=True, clear=True)
    py = env_dir / "bin" / "python"
    sh(py, "-m", "pip", "install", "--quiet", ROOT / "core", *built, "pytest", "pytest-asyncio")
    return env_dir, src


def test_the_fresh_environment_has_only_core_and_the_plugin(fresh_env: tuple[Path, Path]) -> None:
    env_dir, _ = fresh_env
    listed = sh(env_dir / "bin" / "python", "-m", "pip", "list", "--format=json").stdout
    names = {p["name"].lower() for p in json.loads(listed)}
    assert names >= THIRD_PARTY and "mcpconnect" in names
    assert {n for n in names if n.startswith("mcpconnect-")} == THIRD_PARTY


def test_plugins_list_shows_it_with_its_distribution(fresh_env: tuple[Path, Path], tmp_path: Path) -> None:
    env_dir, _ = fresh_env
    out = sh(env_dir / "bin" / "mcpconnect", "plugins", "list", "--json", cwd=tmp_path).stdout
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["notebook"]["distribution"] == "mcpconnect-store-notebook"
    assert rows["notebook"]["version"] == "0.3.0"
    assert rows["notebook"]["kind"] == "store" and rows["notebook"]["status"] == "ok"


def test_config_selects_it_and_the_core_uses_it(fresh_env: tuple[Path, Path], tmp_path: Path) -> None:
    env_dir, _ = fresh_env
    book = tmp_path / "book.json"
    (tmp_path / "mcpconnect.toml").write_text(f'[storage]\nbackend = "notebook"\npath = "{book}"\n')
    sh(env_dir / "bin" / "mcpconnect", "config", "validate", cwd=tmp_path)
    script = """
import asyncio
from mcpconnect._runtime import Runtime
from mcpconnect.tokens import Token

async def main():
    runtime = Runtime.build("mcpconnect.toml")
    store = runtime.store()
    await store.put(Token(provider="acme", account="7", access_token="at-" + "z" * 30))
    got = await store.get("acme", "7")
    print(type(store.backend).__module__, got.token.account, got.version)

asyncio.run(main())
"""
    out = sh(env_dir / "bin" / "python", "-c", script, cwd=tmp_path).stdout.split()
    assert out == ["mcpconnect_store_notebook.backend", "7", "1"]
    assert book.exists() and oct(book.stat().st_mode & 0o777) == "0o600"


def test_the_providers_own_tests_pass_its_contract_against_its_replica(fresh_env: tuple[Path, Path]) -> None:
    # The replica needs starlette and uvicorn, which the core's MCP SDK brings: nothing more installed.
    env_dir, src = fresh_env
    copy = src.parent / "copies" / PROVIDER.name  # the copy its wheel was built from
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    result = sh(env_dir / "bin" / "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=copy, env=env)
    assert "8 passed" in result.stdout and "failed" not in result.stdout


def test_its_own_tests_run_the_contract_suite_from_mcpconnect_testing(fresh_env: tuple[Path, Path]) -> None:
    env_dir, src = fresh_env
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    result = sh(env_dir / "bin" / "pytest", "-q", "-p", "no:cacheprovider", src / "tests", cwd=src, env=env)
    assert " passed" in result.stdout and "failed" not in result.stdout


@pytest.fixture
def tcp_notes(fresh_env: tuple[Path, Path]) -> Iterator[int]:
    """The notes server on a TCP port, run by the fresh environment's Python."""
    py = str(fresh_env[0] / "bin" / "python")
    port = free_port()
    with http_server([py, str(TCP / "tcp_server.py"), str(port), "--", py, str(NOTES)], port):
        yield port


def tcp_project(folder: Path, port: int) -> dict[str, str]:
    """A project with the TCP server and one that cannot connect; the environment journaling to
    ``journal.jsonl`` in ``folder``."""
    closed = free_port()  # nothing listens there
    (folder / "mcpconnect.toml").write_text(
        '[storage]\nbackend = "memory"\n'
        f'[servers.notes]\ntransport = "tcp"\nurl = "tcp://127.0.0.1:{port}"\n'
        f'[servers.down]\ntransport = "tcp"\nurl = "tcp://127.0.0.1:{closed}"\ntimeout = 5\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCPCONNECT_", "PYTEST"))}
    return env | {"MCPCONNECT_JOURNAL": str(folder / "journal.jsonl"), "HOME": str(folder)}


def journal(folder: Path) -> list[dict[str, object]]:
    path = folder / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_plugins_list_shows_the_transport_and_the_observer(fresh_env: tuple[Path, Path], tmp_path: Path) -> None:
    env_dir, _ = fresh_env
    out = sh(env_dir / "bin" / "mcpconnect", "plugins", "list", "--json", cwd=tmp_path).stdout
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["tcp"]["kind"] == "transport" and rows["tcp"]["status"] == "ok"
    assert rows["tcp"]["distribution"] == "mcpconnect-transport-tcp"
    assert rows["journal"]["kind"] == "plugin" and rows["journal"]["status"] == "ok"
    assert rows["journal"]["distribution"] == "mcpconnect-observer-journal"


def test_the_observer_sees_the_events_of_check(fresh_env: tuple[Path, Path], tmp_path: Path, tcp_notes: int) -> None:
    env_dir, _ = fresh_env
    env = tcp_project(tmp_path, tcp_notes)
    sh(env_dir / "bin" / "mcpconnect", "config", "validate", cwd=tmp_path, env=env)
    result = subprocess.run(
        [str(env_dir / "bin" / "mcpconnect"), "check", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr  # 'down' fails, 'notes' works
    servers = {s["name"]: s for s in json.loads(result.stdout)["servers"]}
    assert servers["notes"]["ok"] and servers["notes"]["transport"] == "tcp"
    events = {(e["event"], e["server"]) for e in journal(tmp_path)}
    assert ("server_connected", "notes") in events
    assert ("server_failed", "down") in events
    connected = next(e for e in journal(tmp_path) if e["event"] == "server_connected")
    assert connected["transport"] == "tcp" and connected["protocol_version"]


def test_the_observer_sees_the_events_of_the_library(
    fresh_env: tuple[Path, Path], tmp_path: Path, tcp_notes: int
) -> None:
    env_dir, _ = fresh_env
    env = tcp_project(tmp_path, tcp_notes)
    script = """
import asyncio
import mcpconnect

async def main():
    async with mcpconnect.connect("mcpconnect.toml", servers=["notes"]) as hub:
        result = await hub.call_tool("notes", "echo", {"message": "from the library"})
        print(hub.servers["notes"].state.value, result.is_error)

asyncio.run(main())
"""
    out = sh(env_dir / "bin" / "python", "-c", script, cwd=tmp_path, env=env).stdout.split()
    assert out == ["ready", "False"]
    assert [(e["event"], e["server"], e["transport"]) for e in journal(tmp_path)] == [
        ("server_connected", "notes", "tcp")
    ]


def test_a_tcp_server_configured_with_a_command_is_told_to_set_its_url(
    fresh_env: tuple[Path, Path], tmp_path: Path
) -> None:
    env_dir, _ = fresh_env
    (tmp_path / "mcpconnect.toml").write_text('[servers.box]\ntransport = "tcp"\ncommand = "box-server"\n')
    result = subprocess.run(
        [str(env_dir / "bin" / "mcpconnect"), "config", "validate"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert 'the tcp transport connects to a URL, it starts no process: set url = "..."' in result.stderr
    assert "https" not in result.stderr and "Traceback" not in result.stderr
