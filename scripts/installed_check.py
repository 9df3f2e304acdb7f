"""Check mcpconnect as a user installs it: wheels, a fresh virtual environment, no test tools.

    python scripts/installed_check.py [--workdir DIR] [--keep] [--benchmarks]

1. builds a wheel of every distribution of this repository (scripts/distributions.py --list), and
   checks that none holds tests (each plugin's tests/ stays in its source tree);
2. creates a fresh virtual environment and installs those wheels into it, with their
   dependencies from the package index and nothing else: no pytest, no editable install;
3. there: ``pip check``; ``pytest`` is not importable; every module of every distribution imports
   (except ``mcpconnect.testing``, the pytest plugin) and none of them imports pytest; each
   distribution declares what it imports (scripts/distributions.py); ``mcpconnect --help`` and every
   subcommand's ``--help``; ``mcpconnect plugins list --json`` with every plugin ``ok``; the README's
   main job (``examples/run_demo.py``); with ``--benchmarks``, ``python -m benchmarks --quick``
   with no section failing.

Exits 1 on the first failing step, naming it. The tox env ``installed`` runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import distributions  # noqa: E402  (a sibling script)

# Run inside the user's environment: import every production module with pytest made
# unimportable, and report what was imported.
IMPORT_ALL = r"""
import importlib, importlib.abc, json, pkgutil, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pytest", "_pytest", "hypothesis"):
            raise ImportError(f"{name} is a test tool: production code must not import it")
        return None

sys.meta_path.insert(0, Block())
packages = json.loads(sys.argv[1])
imported = []
for top in packages:
    module = importlib.import_module(top)
    imported.append(top)
    for info in pkgutil.walk_packages(getattr(module, "__path__", []), prefix=top + "."):
        if info.name == "mcpconnect.testing" or info.name.startswith("mcpconnect.testing."):
            continue
        importlib.import_module(info.name)
        imported.append(info.name)
test_tools = ("pytest", "_pytest")
leaked = sorted(m for m in sys.modules if m.split(".")[0] in test_tools or m.startswith("mcpconnect.testing"))
print(json.dumps({"imported": imported, "leaked": leaked}))
"""

# Every command and subcommand of the CLI, from the click tree itself.
LIST_COMMANDS = r"""
import json, click

from mcpconnect._cli import cli as root
def walk(command, path):
    yield path
    if isinstance(command, click.Group):
        for name in command.list_commands(click.Context(command)):
            yield from walk(command.get_command(click.Context(command), name), [*path, name])
print(json.dumps(list(walk(root, []))))
"""


class StepFailed(Exception):
    pass


def step(title: str) -> None:
    print(f"\n== installed: {title}", flush=True)


def run(command: list[str], *, env: dict[str, str], cwd: Path, capture: bool = False) -> str:
    result = subprocess.run(command, env=env, cwd=cwd, text=True, capture_output=capture, check=False)
    if result.returncode != 0:
        detail = f"\n{result.stdout}{result.stderr}" if capture else ""
        raise StepFailed(f"`{' '.join(command)}` exited with {result.returncode}{detail}")
    return result.stdout if capture else ""


def with_all_extras(wheels: list[Path]) -> list[str]:
    """The wheels as ``pip install mcpconnect[all]`` installs them: with the extras the core's
    ``all`` extra asks of them (``mcpconnect-otel[prometheus]``)."""
    import re
    import tomllib

    wanted: dict[str, str] = {}
    core = tomllib.loads((ROOT / "core" / "pyproject.toml").read_text())
    for requirement in core["project"]["optional-dependencies"].get("all", []):
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\[([^\]]+)\]", requirement.strip())
        if match:
            wanted[re.sub(r"[-_.]+", "_", match.group(1)).lower()] = match.group(2)
    specs = []
    for wheel in wheels:
        name = wheel.name.split("-", 1)[0].lower()
        specs.append(f"{wheel}[{wanted[name]}]" if name in wanted else str(wheel))
    return specs


def build_wheels(folders: list[Path], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    # --no-build-isolation: hatchling is in the env that runs this script (tox installs it), so the
    # 17 builds share one backend instead of making 17 isolated environments.
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out)]
    subprocess.run([*command, *map(str, folders)], check=True)
    wheels = sorted(out.glob("*.whl"))
    if len(wheels) != len(folders):
        raise StepFailed(f"built {len(wheels)} wheels for {len(folders)} distributions")
    for wheel in wheels:
        tests = test_files(wheel)
        if tests:
            raise StepFailed(f"{wheel.name} holds tests ({', '.join(tests[:3])}): a wheel holds src/PACKAGE only")
    return wheels


def test_files(wheel: Path) -> list[str]:
    """The files of a wheel that belong to a test suite: ``tests/`` folders, ``conftest.py``,
    ``test_*.py``. (``mcpconnect/testing`` is the pytest plugin users install, not a test suite.)"""
    import zipfile

    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    return [
        name
        for name in names
        if "tests" in name.split("/")[:-1]
        or name.rsplit("/", 1)[-1] == "conftest.py"
        or (name.rsplit("/", 1)[-1].startswith("test_") and name.endswith(".py"))
    ]


def user_env(base: dict[str, str], venv_dir: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith(("MCPCONNECT_", "PYTHON", "VIRTUAL_ENV", "PIP_REQUIRE"))}
    env["PATH"] = f"{venv_dir / 'bin'}{os.pathsep}{base.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv_dir)
    # A new user's home: no configuration, no tokens.
    env["HOME"] = str(home)
    env["XDG_CONFIG_HOME"] = str(home / ".config")
    env["XDG_DATA_HOME"] = str(home / ".local" / "share")
    env["XDG_STATE_HOME"] = str(home / ".local" / "state")
    env["XDG_CACHE_HOME"] = str(home / ".cache")
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="installed_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, help="where to build (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--benchmarks", action="store_true", help="also run python -m benchmarks --quick there")
    parser.add_argument(
        "--venv-only",
        action="store_true",
        help="only build the wheels and the user's environment (WORKDIR/venv) and keep it, for other checks",
    )
    args = parser.parse_args(argv)
    if args.venv_only and not args.workdir:
        parser.error("--venv-only needs --workdir")

    work = args.workdir or Path(tempfile.mkdtemp(prefix="mcpconnect-installed-"))
    if work.exists() and args.workdir:
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    try:
        if args.venv_only:
            user_venv(work)
            print(f"installed: the user's environment is {work / 'venv'}")
            return 0
        return _check(work, args.benchmarks)
    except StepFailed as exc:
        print(f"\nerror: installed check failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep and not args.venv_only:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"installed: kept {work}")


def user_venv(work: Path) -> tuple[Path, dict[str, str]]:
    """Wheels of every distribution installed into WORK/venv; the venv and a new user's env."""
    folders = distributions.folders()
    step(f"build {len(folders)} wheels")
    wheels = build_wheels(folders, work / "wheels")

    step("a fresh virtual environment with those wheels and their dependencies, nothing else")
    venv_dir = work / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    python = str(venv_dir / "bin" / "python")
    home = work / "home"
    home.mkdir()
    env = user_env(dict(os.environ), venv_dir, home)
    run(
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *with_all_extras(wheels)],
        env=env,
        cwd=work,
    )

    step("pip check")
    run([python, "-m", "pip", "check"], env=env, cwd=work)
    return venv_dir, env


def _check(work: Path, benchmarks: bool) -> int:
    folders = distributions.folders()
    venv_dir, env = user_venv(work)
    python = str(venv_dir / "bin" / "python")

    step("no test tool is installed")
    probe = "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('pytest') is None else 1)"
    try:
        run([python, "-c", probe], env=env, cwd=work)
    except StepFailed:
        raise StepFailed("pytest is installed in the user's environment: a distribution depends on it") from None

    step("every module of every distribution imports, none imports pytest")
    packages = sorted({p.name for folder in folders for p in distributions.read(folder).packages})
    out = json.loads(run([python, "-c", IMPORT_ALL, json.dumps(packages)], env=env, cwd=work, capture=True))
    if out["leaked"]:
        raise StepFailed(f"production modules imported {out['leaked']}")
    print(f"imported {len(out['imported'])} modules")

    step("every distribution declares what it imports")
    run([python, str(ROOT / "scripts" / "distributions.py")], env=env, cwd=work)

    step("mcpconnect --help and every subcommand's --help")
    commands = json.loads(run([python, "-c", LIST_COMMANDS], env=env, cwd=work, capture=True))
    mcpconnect = str(venv_dir / "bin" / "mcpconnect")
    for path in commands:
        text = run([mcpconnect, *path, "--help"], env=env, cwd=work, capture=True)
        if "Usage:" not in text:
            raise StepFailed(f"`mcpconnect {' '.join(path)} --help` printed no usage")
    print(f"{len(commands)} commands: " + ", ".join(" ".join(p) or "mcpconnect" for p in commands))

    step("mcpconnect plugins list --json: every plugin ok")
    listed = json.loads(run([mcpconnect, "plugins", "list", "--json"], env=env, cwd=work, capture=True))
    rows = listed if isinstance(listed, list) else listed.get("plugins", [])
    bad = [r for r in rows if r.get("status") != "ok"]
    if bad or len(rows) < len(folders) - 1:
        raise StepFailed(f"plugins list: {len(rows)} plugins, not ok: {bad}")
    print(f"{len(rows)} plugins, all ok")

    step("the README's main job: python examples/run_demo.py")
    run([python, str(ROOT / "examples" / "run_demo.py")], env=env, cwd=ROOT)

    if benchmarks:
        step("python -m benchmarks --quick: every section")
        out_file = work / "benchmarks.json"
        run(
            [python, "-m", "benchmarks", "--quick", "--no-docs", "--fail-on-error", "--out", str(out_file)],
            env=env,
            cwd=ROOT,
        )

    print("\ninstalled: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
