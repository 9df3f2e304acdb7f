"""Every distribution declares what it imports, and production code never reaches for test tools.

The tox env ``installed`` checks the same from wheels in a fresh virtual environment; these tests
keep the rules visible in the ordinary suite, where every test tool is installed.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEST_TOOLS = ("pytest", "_pytest", "hypothesis", "mcpconnect.testing")


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return module


distributions = _script("distributions")
gen_api_docs = _script("gen_api_docs")


def _production_files() -> list[Path]:
    files = []
    for folder in distributions.folders():
        for package in distributions.read(folder).packages:
            files += [p for p in package.rglob("*.py") if "testing" not in p.relative_to(package).parts[:1]]
    return files


@pytest.mark.parametrize("folder", distributions.folders(), ids=lambda f: f.name)
def test_distribution_declares_exactly_what_it_imports(folder: Path) -> None:
    dist = distributions.scan(distributions.read(folder))
    assert distributions.problems(dist) == []


def test_production_code_never_imports_a_test_tool() -> None:
    # Every import statement counts, those inside functions too: the headless follower's lazy
    # `from mcpconnect.testing.headless import ...` was what broke a user's login.
    offenders = []
    for path in _production_files():
        for module in distributions.imported_module_paths(path.read_text()):
            if module.startswith(TEST_TOOLS):
                offenders.append(f"{path.relative_to(ROOT)}: imports {module}")
    assert len(_production_files()) > 50
    assert offenders == []


def test_the_scanner_sees_imports_inside_functions_and_skips_type_checking_blocks() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import hypothesis\n"
        "def f():\n    from mcpconnect.testing.headless import x\n"
        "class C:\n    def g(self):\n        import pytest\n"
    )
    found = distributions.imported_module_paths(source)
    assert "mcpconnect.testing.headless" in found
    assert "pytest" in found
    assert "hypothesis" not in found


def test_every_production_module_imports_with_pytest_unimportable() -> None:
    installed_check = _script("installed_check")
    packages = sorted({p.name for f in distributions.folders() for p in distributions.read(f).packages})
    result = subprocess.run(
        [sys.executable, "-c", installed_check.IMPORT_ALL, json.dumps(packages)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["leaked"] == []
    # Every module of every distribution, not only the packages' __init__ files.
    assert len(out["imported"]) >= len(_production_files()) - 5
    assert "mcpconnect.auth._headless" in out["imported"]


def _contract_modules(contract: str, key: str) -> set[str]:
    import configparser

    parser = configparser.ConfigParser()
    parser.read(ROOT / ".importlinter")
    return set(parser[f"importlinter:contract:{contract}"][key].split())


def _core_modules() -> set[str]:
    package = ROOT / "core" / "src" / "mcpconnect"
    found = {f"mcpconnect.{p.stem}" for p in package.glob("*.py") if p.stem != "__init__"}
    found |= {f"mcpconnect.{p.parent.name}" for p in package.glob("*/__init__.py")}
    return found - {"mcpconnect.testing"}


def test_the_walls_cover_every_module() -> None:
    # A new core module or plugin is inside the walls from its first commit.
    plugins = {p.name for f in distributions.folders()[1:] for p in distributions.read(f).packages}
    assert _contract_modules("no-test-tools", "source_modules") == _core_modules() | plugins
    assert _contract_modules("library-not-cli", "source_modules") == _core_modules() - {"mcpconnect._cli"}
    assert _contract_modules("plugins-independent", "modules") == plugins
    assert _contract_modules("core-imports-no-plugin", "forbidden_modules") == plugins
    # Every private core module is closed to plugins. Private is spelled in the name (as httpx
    # does): `mcpconnect._hub`, `mcpconnect.storage._local`; the public modules are the API page's.
    public = {"mcpconnect.auth", "mcpconnect.errors", "mcpconnect.hookspecs", "mcpconnect.storage"}
    public |= {"mcpconnect.gateway", "mcpconnect.testing", "mcpconnect.tokens", "mcpconnect.transport"}
    package = ROOT / "core" / "src" / "mcpconnect"
    inner = {
        f"{name}.{p.stem if p.name != '__init__.py' else p.parent.name}"
        for name in public - {"mcpconnect.testing"}
        for p in [*(package / name.split(".")[1]).glob("*.py"), *(package / name.split(".")[1]).glob("*/__init__.py")]
        if (package / name.split(".")[1]).is_dir() and p != package / name.split(".")[1] / "__init__.py"
    }
    private = (_core_modules() - public) | inner
    assert all(m.rsplit(".", 1)[1].startswith("_") for m in private), sorted(private)
    documented = {m for m, _ in gen_api_docs.MODULES} - {"mcpconnect"}
    assert documented | {"mcpconnect.hookspecs"} == public
    assert "mcpconnect.storage._local" in private and "mcpconnect._fsutil" in private
    assert _contract_modules("plugins-public-api", "forbidden_modules") == private


def _private_imports(source: Path) -> list[str]:
    """The mcpconnect modules a file imports whose path has a private (``_name``) part."""
    import ast

    found = []
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "mcpconnect" and any(p.startswith("_") and not p.startswith("__") for p in parts[1:]):
                found.append(name)
    return found


def test_third_party_fixture_plugins_use_only_the_public_api() -> None:
    # The store, provider, transport and observer written from the docs as a third party would:
    # what they import is what an author may rely on. Their tests included.
    fixtures = ROOT / "tests" / "fixtures"
    sources = [p for d in fixtures.iterdir() if d.is_dir() for p in d.rglob("*.py") if "build" not in p.parts]
    assert {p.relative_to(fixtures).parts[0] for p in sources} >= {
        "example-provider",
        "mcpconnect-observer-journal",
        "mcpconnect-store-notebook",
        "mcpconnect-transport-tcp",
    }
    offenders = {str(p.relative_to(ROOT)): _private_imports(p) for p in sources if _private_imports(p)}
    assert offenders == {}


def test_the_private_import_finder_sees_private_paths(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import mcpconnect.auth\nfrom mcpconnect.storage import _local\nfrom mcpconnect._hub import Hub\n")
    assert _private_imports(probe) == ["mcpconnect.storage._local", "mcpconnect._hub", "mcpconnect._hub.Hub"]
