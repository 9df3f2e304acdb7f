"""Every distribution of this repository, what its code imports and what its metadata declares.

    python scripts/distributions.py          # one line per distribution; exit 1 on a mismatch
    python scripts/distributions.py --list   # the distribution folders, one per line (for scripts)

A distribution must declare every third-party distribution its code imports (anywhere: imports
inside functions count, imports under ``if TYPE_CHECKING:`` do not) and declare nothing it never
imports, except what ``DECLARED_WITHOUT_IMPORT`` lists with its reason. ``mcpconnect.testing`` is
the pytest plugin of the core: what it imports belongs in the core's ``testing`` extra, never in
its dependencies. Imports are mapped to distributions with the installed metadata
(``importlib.metadata.packages_distributions``), so run this where every distribution and its
dependencies are installed (the test environment, or the ``installed`` tox env).
"""

from __future__ import annotations

import ast
import functools
import re
import sys
import tomllib
from dataclasses import dataclass, field
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Dependencies declared on purpose although no module imports them, with the reason.
DECLARED_WITHOUT_IMPORT = {
    # httpcore looks sniffio up on every request and anyio no longer brings it (docs/benchmarks.md).
    ("mcpconnect", "sniffio"): "httpcore imports it lazily on every request",
}


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """``psycopg[binary]>=3.1`` -> ``psycopg``."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if match is None:
        raise ValueError(f"unreadable requirement {requirement!r}")
    return normalize(match.group(1))


@dataclass
class Distribution:
    folder: Path
    name: str
    packages: list[Path]
    dependencies: set[str]
    extras: dict[str, set[str]]
    entry_points: dict[str, dict[str, str]]
    imports: set[str] = field(default_factory=set)
    testing_imports: set[str] = field(default_factory=set)


def folders() -> list[Path]:
    """The folder of every distribution: the core first, then every plugin."""
    plugins = sorted(
        p.parent for p in (ROOT / "plugins").glob("*/*/pyproject.toml") if p.parent.parent.name != "_template"
    )
    return [ROOT / "core", *plugins]


def read(folder: Path) -> Distribution:
    meta = tomllib.loads((folder / "pyproject.toml").read_text())
    project = meta["project"]
    packages = [folder / p for p in meta["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]]
    return Distribution(
        folder=folder,
        name=normalize(project["name"]),
        packages=packages,
        dependencies={requirement_name(r) for r in project.get("dependencies", [])},
        extras={k: {requirement_name(r) for r in v} for k, v in project.get("optional-dependencies", {}).items()},
        entry_points=project.get("entry-points", {}),
    )


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_module_paths(source: str) -> set[str]:
    """Full dotted names of every module imported at run time by ``source`` (``from a.b import c``
    gives ``a.b`` and ``a.b.c``)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def imported_modules(source: str) -> set[str]:
    """Top-level names of every module imported at run time by ``source`` (absolute imports only)."""
    return {path.split(".")[0] for path in imported_module_paths(source)}


@functools.cache
def _providers() -> dict[str, list[str]]:
    # Read once per process: packages_distributions() scans every installed distribution.
    # Editable installs of this repository's distributions add their folders through .pth files,
    # which packages_distributions() does not see: read those from the pyproject files.
    providers = dict(packages_distributions())
    for folder in folders():
        dist = read(folder)
        for package in dist.packages:
            providers[package.name] = [dist.name]
    return providers


def third_party(modules: set[str], own: str, *, absent_ok: bool = False) -> set[str]:
    """Map top-level module names to the distributions that provide them, dropping the standard
    library and the distribution's own packages."""
    providers = _providers()
    result: set[str] = set()
    for module in modules:
        if module in sys.stdlib_module_names or module == "__future__":
            continue
        names = {normalize(n) for n in providers.get(module, [])}
        if not names and absent_ok:
            # The pytest plugin's imports (pytest itself) are absent from a user's install.
            names = {normalize(module)}
        if not names:
            raise LookupError(f"{own}: no installed distribution provides the module {module!r}")
        if own in names:
            continue
        result.update(names)
    return result


def _namespace_owners(paths: set[str], providers: dict[str, list[str]]) -> dict[str, set[str]]:
    """For a top-level name that several distributions share (a namespace package such as
    ``opentelemetry``), the distributions that hold the submodules actually imported."""
    from importlib.metadata import distribution

    owners: dict[str, set[str]] = {}
    for top in {p.split(".")[0] for p in paths}:
        candidates = providers.get(top, [])
        deeper = sorted(p for p in paths if p.startswith(top + "."))
        if len(set(candidates)) < 2 or not deeper:
            continue
        found: set[str] = set()
        for name in set(candidates):
            files = {str(f) for f in distribution(name).files or ()}
            for dotted in deeper:
                stem = dotted.replace(".", "/")
                if f"{stem}.py" in files or f"{stem}/__init__.py" in files:
                    found.add(normalize(name))
        owners[top] = found
    return owners


def scan(dist: Distribution) -> Distribution:
    own_modules = {p.name for p in dist.packages}
    providers = _providers()
    for package in dist.packages:
        for path in sorted(package.rglob("*.py")):
            source = path.read_text()
            modules = imported_modules(source) - own_modules
            shared = _namespace_owners(imported_module_paths(source), providers)
            if "testing" not in path.relative_to(package).parts[:1]:
                for top, owners in shared.items():
                    if top in modules and owners:
                        modules.discard(top)
                        dist.imports |= owners - {dist.name}
            if "testing" in path.relative_to(package).parts[:1]:
                dist.testing_imports |= third_party(modules, dist.name, absent_ok=True)
            else:
                dist.imports |= third_party(modules, dist.name)
    return dist


def problems(dist: Distribution) -> list[str]:
    """What is wrong with one distribution's declared dependencies, as sentences."""
    out = []
    # An optional feature's import (guarded, with an error that names the extra) may come from an extra.
    optional = set().union(*(v for k, v in dist.extras.items() if k not in ("all", "testing")))
    missing = dist.imports - dist.dependencies - optional
    if missing:
        out.append(f"{dist.name}: imports {', '.join(sorted(missing))} without declaring it (add to dependencies)")
    unused = {
        d
        for d in (dist.dependencies | optional) - dist.imports
        if (dist.name, d) not in DECLARED_WITHOUT_IMPORT and d != "mcpconnect"
    }
    if unused:
        out.append(f"{dist.name}: declares {', '.join(sorted(unused))} and never imports it (remove it)")
    testing_missing = dist.testing_imports - dist.dependencies - dist.extras.get("testing", set())
    if testing_missing:
        out.append(
            f"{dist.name}: mcpconnect.testing imports {', '.join(sorted(testing_missing))}: add to the 'testing' extra"
        )
    return out


def main(argv: list[str]) -> int:
    if "--list" in argv:
        for folder in folders():
            print(folder.relative_to(ROOT))
        return 0
    failed = []
    for folder in folders():
        dist = scan(read(folder))
        found = problems(dist)
        failed += found
        print(f"{dist.name}: imports {', '.join(sorted(dist.imports)) or 'nothing else'}", "FAIL" if found else "ok")
    for line in failed:
        print("error:", line, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
