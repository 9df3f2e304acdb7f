"""A third-party plugin, built as a wheel and installed into a fresh virtual environment, is
discovered and used by the core with no change to the core."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "mcpconnect-store-notebook"

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
    shutil.copytree(FIXTURE, src, ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__"))
    sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", wheels, src)
    (wheel,) = wheels.glob("mcpconnect_store_notebook-0.3.0-*.whl")
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=True, clear=True)
    py = env_dir / "bin" / "python"
    sh(py, "-m", "pip", "install", "--quiet", ROOT / "core", wheel, "pytest", "pytest-asyncio")
    return env_dir, src


def test_the_fresh_environment_has_only_core_and_the_plugin(fresh_env: tuple[Path, Path]) -> None:
    env_dir, _ = fresh_env
    listed = sh(env_dir / "bin" / "python", "-m", "pip", "list", "--format=json").stdout
    names = {p["name"].lower() for p in json.loads(listed)}
    assert "mcpconnect-store-notebook" in names and "mcpconnect" in names
    assert not {n for n in names if n.startswith("mcpconnect-") and n != "mcpconnect-store-notebook"}


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
from mcpconnect.runtime import Runtime
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


def test_its_own_tests_run_the_contract_suite_from_mcpconnect_testing(fresh_env: tuple[Path, Path]) -> None:
    env_dir, src = fresh_env
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    result = sh(env_dir / "bin" / "pytest", "-q", "-p", "no:cacheprovider", src / "tests", cwd=src, env=env)
    assert " passed" in result.stdout and "failed" not in result.stdout
