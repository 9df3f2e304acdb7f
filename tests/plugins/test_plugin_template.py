"""Every official plugin has the shape of ``plugins/_template`` (``scripts/template_check.py``): the
template scaffolds plugins that pass the check, and the check reports a plugin that strays."""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    path = list(sys.path)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = path  # the script puts scripts/ first, for its sibling distributions.py
    return module


template_check = _script("template_check")
distributions = sys.modules["distributions"]
PLUGINS = distributions.folders()[1:]


@pytest.fixture(scope="module")
def report() -> dict[Path, list[str]]:
    return template_check.check(PLUGINS)


@pytest.mark.parametrize("folder", PLUGINS, ids=lambda f: f.name)
def test_every_plugin_matches_the_template(folder: Path, report: dict[Path, list[str]]) -> None:
    assert report[folder] == []


def test_every_kind_has_its_folder_and_every_folder_is_a_kind() -> None:
    folders = {p.name for p in (ROOT / "plugins").iterdir() if p.is_dir()} - {"_template"}
    assert folders == set(template_check.FOLDER_KINDS)
    assert {f.parent.name for f in PLUGINS} == set(template_check.FOLDER_KINDS)


def test_the_template_is_released_with_the_core() -> None:
    core = tomllib.loads((ROOT / "core" / "pyproject.toml").read_text())["project"]
    template = tomllib.loads((ROOT / "plugins" / "_template" / "pyproject.toml").read_text())["project"]
    assert template["version"] == core["version"]
    assert template["requires-python"] == core["requires-python"]
    assert template["license"] == core["license"]
    python = {c for c in core["classifiers"] if c.startswith("Programming Language")}
    assert python == {c for c in template["classifiers"] if c.startswith("Programming Language")}


def _dist(kind: str, name: str) -> str:
    return f"mcpconnect-{name}" if kind == "observer" else f"mcpconnect-{kind}-{name}"


def test_the_template_scaffolds_a_plugin_of_each_kind_that_passes(tmp_path: Path) -> None:
    folders = [
        template_check.new_plugin(
            kind, f"scaffold-{kind}", tmp_path / "plugins" / kind / _dist(kind, f"scaffold-{kind}")
        )
        for kind in template_check.FOLDER_KINDS
    ]
    assert template_check.check(folders) == {folder: [] for folder in folders}
    store = (folders[1] / "src" / "mcpconnect_store_scaffold_store" / "__init__.py").read_text()
    # Only the store's code is kept, and no template marker or placeholder is left.
    assert "def register_token_stores(register: RegisterTokenStore) -> None:" in store
    assert "register_auth_providers" not in store and "RegisterTransport" not in store
    assert "# kind:" not in store and "# >>>" not in store and "{name}" not in store


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def _init(folder: Path) -> Path:
    return folder / "src" / folder.name.replace("-", "_") / "__init__.py"


# Each case breaks one rule in a fresh store plugin scaffolded from the template: (what, how, the
# sentence the check must say).
BREAKAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "no py.typed": (lambda d: (_init(d).parent / "py.typed").unlink(), "py.typed (the package is typed"),
    "an unused dependency": (
        lambda d: _edit(d / "pyproject.toml", '"mcpconnect>=0.1"]', '"mcpconnect>=0.1", "redis>=5.0"]'),
        "declares redis and never imports it",
    ),
    "an undeclared import": (
        lambda d: _edit(
            _init(d), "    raise NotImplementedError", "    import redis  # noqa: F401\n\n    raise NotImplementedError"
        ),
        "imports redis without declaring it",
    ),
    "no tests": (lambda d: shutil.rmtree(d / "tests"), "no tests/test_*.py"),
    "a README section missing": (lambda d: _edit(d / "README.md", "## Tests", "## Testing"), "README.md has sections"),
    "a group the core does not read": (
        lambda d: _edit(d / "pyproject.toml", '"mcpconnect.store"', '"mcpconnect.stores"'),
        "'mcpconnect.stores' is not one mcpconnect reads",
    ),
    "a registered name unlike the entry point's": (
        lambda d: _edit(_init(d), 'NAME = "', 'NAME = "other-'),
        "registers ['other-",
    ),
    "an untyped hookimpl": (
        lambda d: _edit(_init(d), "register: RegisterTokenStore", "register: object"),
        "'register' is annotated object; type it as the hookspec does: RegisterTokenStore",
    ),
    "a hookimpl outside __init__.py": (
        lambda d: (_init(d).parent / "_hooks.py").write_text(
            "from mcpconnect import hookimpl\n\n\n@hookimpl\n"
            "def on_server_restarted(server: str, attempt: int) -> None:\n    pass\n"
        ),
        "hook on_server_restarted is implemented in",
    ),
    "a misspelled hook": (
        lambda d: _edit(_init(d), "def register_token_stores(", "def register_token_store("),
        "register_token_store is not an mcpconnect hook",
    ),
    "other classifiers": (
        lambda d: _edit(d / "pyproject.toml", '    "Typing :: Typed",\n', ""),
        "project.classifiers is",
    ),
    "another license": (
        lambda d: _edit(d / "pyproject.toml", 'license = "MIT"', 'license = "Apache-2.0"'),
        "project.license",
    ),
    "tests in the wheel": (
        lambda d: _edit(d / "pyproject.toml", "packages = [", 'include = ["tests"]\npackages = ['),
        "the wheel must hold src/",
    ),
    "a placeholder left": (
        lambda d: _edit(d / "README.md", "## Install", "{description}\n\n## Install"),
        "README.md still holds {description}",
    ),
}


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """What the check says of each broken copy, and of an intact one (``"intact"``), from one run."""
    root = tmp_path_factory.mktemp("broken") / "plugins" / "store"
    folders: dict[str, Path] = {}
    for number, (case, (breakage, _)) in enumerate({"intact": (lambda d: None, ""), **BREAKAGES}.items()):
        folder = template_check.new_plugin("store", f"broken-{number}", root / f"mcpconnect-store-broken-{number}")
        breakage(folder)
        folders[case] = folder
    # A copy of a real plugin, its py.typed removed: checked from its own folder, not the installed one.
    real = root / "mcpconnect-store-file"
    shutil.copytree(
        ROOT / "plugins" / "store" / "mcpconnect-store-file", real, ignore=shutil.ignore_patterns("__pycache__")
    )
    (real / "src" / "mcpconnect_store_file" / "py.typed").unlink()
    folders["a real plugin without py.typed"] = real
    found = template_check.check(list(folders.values()))
    return {case: found[folder] for case, folder in folders.items()}


def test_an_intact_copy_passes(broken: dict[str, list[str]]) -> None:
    assert broken["intact"] == []
    assert broken["a real plugin without py.typed"] == [
        "mcpconnect-store-file: no src/mcpconnect_store_file/py.typed (the package is typed: PEP 561)"
    ]


@pytest.mark.parametrize("case", list(BREAKAGES))
def test_the_check_reports_a_plugin_that_strays(case: str, broken: dict[str, list[str]]) -> None:
    expected = BREAKAGES[case][1]
    assert any(expected in problem for problem in broken[case]), broken[case]


def test_the_installed_check_refuses_a_wheel_that_holds_tests(tmp_path: Path) -> None:
    import zipfile

    installed_check = _script("installed_check")
    wheel = tmp_path / "mcpconnect_store_x-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name in (
            "mcpconnect_store_x/__init__.py",
            "mcpconnect_store_x/testing.py",
            "mcpconnect/testing/contracts.py",
        ):
            archive.writestr(name, "")
    assert installed_check.test_files(wheel) == []
    with zipfile.ZipFile(wheel, "a") as archive:
        for name in ("tests/conftest.py", "mcpconnect_store_x/test_store.py", "mcpconnect_store_x/tests/data.json"):
            archive.writestr(name, "")
    assert installed_check.test_files(wheel) == [
        "tests/conftest.py",
        "mcpconnect_store_x/test_store.py",
        "mcpconnect_store_x/tests/data.json",
    ]
