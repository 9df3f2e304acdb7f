"""Every plugin distribution against the template, ``plugins/_template``: one shape for all.

    python scripts/template_check.py                        # every plugin; exit 1 on a mismatch
    python scripts/template_check.py plugins/store/X ...    # these folders only
    python scripts/template_check.py --new KIND NAME        # a new plugin from the template

What a plugin folder ``plugins/FOLDER_KIND/DIST`` must hold, as the template does:

- metadata: ``name`` is the folder's name (``mcpconnect-KIND-NAME``, an observer ``mcpconnect-NAME``);
  ``version``, ``readme``, ``requires-python``, ``license``, ``authors``, ``classifiers`` and the
  build system are the template's; a description; no placeholder left;
- dependencies: ``mcpconnect`` first, as the template spells it, then exactly the distributions
  the package imports (``scripts/distributions.py``);
- entry points: one group, the core's group for the folder's kind (``mcpconnect._kinds.GROUPS``),
  each pointing at the package; the names are exactly what the package registers when the core
  loads it (run in a subprocess, against the folder's own ``src``);
- hook implementations: in the package's ``__init__.py`` only, decorated ``@hookimpl`` (``from
  mcpconnect import hookimpl``), each parameter and the return annotated as the hookspec is;
- files: ``README.md`` with the template's title and sections, ``src/PACKAGE/py.typed``, and
  ``tests/`` with at least one ``test_*.py``; the wheel holds ``src/PACKAGE`` and nothing else.

Run it where every distribution is installed (the test environment): the dependency check maps
imports to distributions through the installed metadata.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "plugins" / "_template"
sys.path.insert(0, str(ROOT / "scripts"))

import distributions  # noqa: E402  (a sibling script)

#: The folder under plugins/ of each kind, and the kind mcpconnect loads it as.
FOLDER_KINDS = {"auth": "auth", "store": "store", "transport": "transport", "observer": "plugin"}
PLACEHOLDERS = ("{dist}", "{package}", "{group}", "{kind}", "{name}", "{description}")
SAME_AS_TEMPLATE = ("version", "readme", "requires-python", "license", "authors", "classifiers")

# Run with the plugins' src folders first on sys.path: register each package with a plugin manager
# of mcpconnect's hookspecs (pluggy validates every hook implementation's arguments), check_pending
# (a misspelled hook), then call its kind's registration hook and report the names it registered.
REGISTERED = r"""
import importlib, json, sys
sys.path[:0] = json.loads(sys.argv[1])
import pluggy
from mcpconnect import hookspecs
out = {}
for package, hook in json.loads(sys.argv[2]):
    try:
        module = importlib.import_module(package)
        pm = pluggy.PluginManager(hookspecs.PROJECT)
        pm.add_hookspecs(hookspecs)
        pm.register(module)
        pm.check_pending()
        names = []
        if hook:
            getattr(pm.hook, hook)(register=lambda name, factory, **options: names.append(name))
        out[package] = {"registered": sorted(names), "file": module.__file__}
    except Exception as exc:
        out[package] = {"error": f"{type(exc).__name__}: {exc}"}
print(json.dumps(out))
"""


def _template() -> dict[str, Any]:
    return tomllib.loads((TEMPLATE / "pyproject.toml").read_text())


def readme_sections(text: str) -> list[str]:
    """The ``## `` headings of a README, in order."""
    return [line[3:].strip() for line in text.splitlines() if line.startswith("## ")]


def _core_kinds() -> tuple[dict[str, str], dict[str, str]]:
    """The core's entry-point group and registration hook of each kind (``plugin``: an observer)."""
    from mcpconnect._kinds import GROUPS, REGISTER_HOOKS

    return {str(k): v for k, v in GROUPS.items()}, {str(k): v for k, v in REGISTER_HOOKS.items()}


def _groups() -> dict[str, str]:
    return _core_kinds()[0]


def _hookspecs() -> dict[str, ast.FunctionDef]:
    import mcpconnect.hookspecs

    tree = ast.parse(Path(mcpconnect.hookspecs.__file__).read_text())
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


def _annotations(func: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, str | None]:
    args = [*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs]
    found = {a.arg: ast.unparse(a.annotation) if a.annotation else None for a in args}
    found["return"] = ast.unparse(func.returns) if func.returns else None
    return found


def _is_hookimpl(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return (isinstance(target, ast.Name) and target.id == "hookimpl") or (
        isinstance(target, ast.Attribute) and target.attr == "hookimpl"
    )


def hookimpl_problems(dist: str, package: Path) -> list[str]:
    """Placement and typing of the hook implementations: the one style of every plugin."""
    out = []
    specs = _hookspecs()
    entry = package / "__init__.py"
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text())
        where = path.relative_to(package.parent)
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            decorators = [d for d in node.decorator_list if _is_hookimpl(d)]
            if not decorators:
                continue
            if path != entry:
                out.append(f"{dist}: hook {node.name} is implemented in {where}: move it to {package.name}/__init__.py")
            if any(not (isinstance(d, ast.Name) and d.id == "hookimpl") for d in decorators):
                out.append(f"{dist}: {where}: decorate {node.name} with @hookimpl (from mcpconnect import hookimpl)")
            spec = specs.get(node.name)
            if spec is None:
                out.append(f"{dist}: {where}: {node.name} is not an mcpconnect hook (see mcpconnect.hookspecs)")
                continue
            wanted = _annotations(spec)
            for arg, annotation in _annotations(node).items():
                if arg in wanted and annotation != wanted[arg]:
                    out.append(
                        f"{dist}: {where}: {node.name}'s {arg!r} is annotated {annotation or 'nothing'}; "
                        f"type it as the hookspec does: {wanted[arg]}"
                    )
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or node.module == "mcpconnect":
                continue
            if any(a.name == "hookimpl" for a in node.names):
                out.append(f"{dist}: {where}: import hookimpl from mcpconnect, not {node.module}")
    return out


def static_problems(folder: Path) -> tuple[list[str], tuple[str, str, str] | None]:
    """Everything but the registered names; and (package, kind, first entry-point name) to load."""
    out: list[str] = []
    dist = folder.name
    folder_kind = folder.parent.name
    kind = FOLDER_KINDS.get(folder_kind)
    if kind is None:
        return [f"{dist}: plugins/{folder_kind}/ is not a plugin kind ({', '.join(FOLDER_KINDS)})"], None
    if not (folder / "pyproject.toml").is_file():
        return [f"{dist}: no pyproject.toml (copy plugins/_template)"], None
    text = (folder / "pyproject.toml").read_text()
    meta = tomllib.loads(text)
    template = _template()
    project = meta.get("project", {})
    package = dist.replace("-", "_")

    left = [p for p in PLACEHOLDERS if p in text]
    if left:
        out.append(f"{dist}: pyproject.toml still holds {', '.join(left)}: fill in the template")
    if project.get("name") != dist:
        out.append(f"{dist}: project.name is {project.get('name')!r}; name the distribution as its folder")
    if meta.get("build-system") != template["build-system"]:
        out.append(f"{dist}: [build-system] differs from the template's: {template['build-system']}")
    for key in SAME_AS_TEMPLATE:
        if project.get(key) != template["project"][key]:
            out.append(f"{dist}: project.{key} is {project.get(key)!r}; the template's is {template['project'][key]!r}")
    if not project.get("description"):
        out.append(f"{dist}: no project.description")
    wheel = meta.get("tool", {}).get("hatch", {}).get("build", {}).get("targets", {}).get("wheel", {})
    if wheel != {"packages": [f"src/{package}"]}:
        out.append(f"{dist}: the wheel must hold src/{package} only: [tool.hatch.build.targets.wheel] is {wheel}")

    requirements = project.get("dependencies", [])
    first = template["project"]["dependencies"][0]
    if not requirements or requirements[0] != first:
        out.append(f"{dist}: dependencies must start with {first!r} (the template's)")
    src = folder / "src" / package
    if (src / "__init__.py").is_file():
        try:
            out += distributions.problems(distributions.scan(distributions.read(folder)))
        except (LookupError, KeyError) as exc:
            out.append(f"{dist}: cannot map its imports to distributions: {exc}")
        out += hookimpl_problems(dist, src)
    else:
        out.append(f"{dist}: no src/{package}/__init__.py (the package is the distribution's name with underscores)")
    if not (src / "py.typed").is_file():
        out.append(f"{dist}: no src/{package}/py.typed (the package is typed: PEP 561)")

    groups = _groups()
    entry_points = project.get("entry-points", {})
    load = None
    for group, names in entry_points.items():
        if group not in groups.values():
            out.append(
                f"{dist}: entry-point group {group!r} is not one mcpconnect reads; "
                f"a {folder_kind} plugin declares {groups[kind]!r}"
            )
        elif group != groups[kind]:
            out.append(f"{dist}: is under plugins/{folder_kind}/ but declares {group!r}; use {groups[kind]!r}")
        for name, value in names.items():
            if value != package:
                out.append(f"{dist}: entry point {name!r} points at {value!r}; point it at the package {package!r}")
            load = load or (package, kind, name)
    if groups[kind] not in entry_points:
        out.append(f"{dist}: no entry point in {groups[kind]!r}")
    else:
        names = sorted(entry_points[groups[kind]])
        expected = f"mcpconnect-{names[0]}" if kind == "plugin" else f"mcpconnect-{folder_kind}-{names[0]}"
        if len(names) == 1 and dist != expected:
            out.append(f"{dist}: a {folder_kind} plugin named {names[0]!r} is distributed as {expected!r}")

    readme = folder / "README.md"
    if not readme.is_file():
        out.append(f"{dist}: no README.md")
    else:
        text = readme.read_text()
        if not text.startswith(f"# {dist}\n"):
            out.append(f"{dist}: README.md must start with '# {dist}'")
        wanted = readme_sections((TEMPLATE / "README.md").read_text())
        have = [s for s in readme_sections(text) if s in wanted]
        if have != wanted:
            out.append(f"{dist}: README.md has sections {have}; the template's are {wanted}, in that order")
        left = [p for p in PLACEHOLDERS if p in text]
        if left:
            out.append(f"{dist}: README.md still holds {', '.join(left)}")
    tests = folder / "tests"
    if not tests.is_dir() or not any(tests.rglob("test_*.py")):
        out.append(f"{dist}: no tests/test_*.py: a plugin's tests live in its distribution")
    return out, load


def check(folders: list[Path]) -> dict[Path, list[str]]:
    """What is wrong with each plugin folder, as sentences (an empty list: it matches)."""
    report: dict[Path, list[str]] = {}
    loads: dict[Path, tuple[str, str, str]] = {}
    for folder in folders:
        report[folder], load = static_problems(folder)
        if load is not None and (folder / "src" / load[0] / "__init__.py").is_file():
            loads[folder] = load
    if loads:
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                REGISTERED,
                json.dumps([str(f / "src") for f in loads]),
                json.dumps([(package, _core_kinds()[1].get(kind)) for package, kind, _ in loads.values()]),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        loaded = json.loads(result.stdout)
        groups = _groups()
        for folder, (package, kind, _) in loads.items():
            dist, got = folder.name, loaded[package]
            declared = sorted(distributions.read(folder).entry_points.get(groups[kind], {}))
            if "error" in got:
                failure = f"registering {package} with mcpconnect's hookspecs failed: {got['error']}"
                report[folder].append(f"{dist}: {failure}")
            elif not Path(got["file"]).resolve().is_relative_to(folder.resolve()):
                report[folder].append(f"{dist}: {package} was imported from {got['file']}, not from this folder")
            elif kind != "plugin" and got["registered"] != declared:
                report[folder].append(
                    f"{dist}: registers {got['registered']} but declares entry points {declared} in "
                    f"{groups[kind]!r}: register each entry point's name, and nothing else"
                )
    return report


def new_plugin(kind: str, name: str, dest: Path, description: str = "") -> Path:
    """Copy the template to ``dest``, with the placeholders filled in and only ``kind``'s code kept."""
    dist = f"mcpconnect-{name}" if kind == "observer" else f"mcpconnect-{kind}-{name}"
    package = dist.replace("-", "_")
    values = {
        "{dist}": dist,
        "{package}": package,
        "{group}": _groups()[FOLDER_KINDS[kind]],
        "{kind}": FOLDER_KINDS[kind],
        "{name}": name,
        "{description}": description or f"mcpconnect {kind}: {name}",
    }

    def fill(text: str) -> str:
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        return text

    for path in sorted(TEMPLATE.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts:
            continue
        target = dest / fill(str(path.relative_to(TEMPLATE)))
        target.parent.mkdir(parents=True, exist_ok=True)
        text = path.read_text()
        if path.suffix == ".py":
            text = keep_kind(text, kind)
        if path.name == "pyproject.toml":
            text = text[text.index("[build-system]") :]  # the instructions for filling it in
        target.write_text(fill(text))
    return dest


def keep_kind(source: str, kind: str) -> str:
    """The template's Python source with only ``kind``'s lines (``# kind: X``) and blocks
    (``# >>> X`` ... ``# <<< X``) kept, their markers removed."""
    out: list[str] = []
    skipping = False
    for line in source.splitlines(keepends=True):
        marker = re.fullmatch(r"# (>>>|<<<) (\w+)\n?", line)
        if marker:
            skipping = marker.group(1) == ">>>" and marker.group(2) != kind
            if marker.group(1) == "<<<":
                skipping = False
            continue
        if skipping:
            continue
        tag = re.search(r"  # kind: (\w+)$", line.rstrip("\n"))
        if tag:
            if tag.group(1) != kind:
                continue
            line = line[: tag.start()] + "\n"
        out.append(line)
    # The docstring's paragraph about the template itself.
    text = re.sub(r'\n\nTemplate: (?:(?!""").+\n)+', "\n", "".join(out))

    # A parenthesized import left with one name or none: one line, or nothing.
    def collapse(match: re.Match[str]) -> str:
        names = [n.strip().rstrip(",") for n in match.group(3).splitlines() if n.strip()]
        return f"{match.group(1)}from {match.group(2)} import {', '.join(names)}\n" if names else ""

    text = re.sub(r"(?m)^( *)from ([\w.]+) import \(\n((?: +\w+,\n)*) *\)\n", collapse, text)
    # The TYPE_CHECKING block: no blank line first or last, removed when nothing is left in it.
    match = re.search(r"(?m)^if TYPE_CHECKING:\n((?:(?: {4}.*)?\n)*)", text)
    if match:
        lines = match.group(1).splitlines()
        while lines and not lines[0].strip():
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        block = f"if TYPE_CHECKING:\n{chr(10).join(lines)}\n\n" if lines else ""
        text = text[: match.start()] + block + text[match.end() :]
        if not lines:
            text = text.replace("from typing import TYPE_CHECKING\n\n", "")
    return re.sub(r"\n{4,}", "\n\n\n", text).rstrip("\n") + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="template_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="*", type=Path, help="plugin folders (default: every plugin)")
    parser.add_argument("--new", nargs=2, metavar=("KIND", "NAME"), help="create plugins/KIND/DIST from the template")
    parser.add_argument("--dest", type=Path, help="with --new: where to create it")
    parser.add_argument("--description", default="", help="with --new: the one-line description")
    args = parser.parse_args(argv)
    if args.new:
        kind, name = args.new
        if kind not in FOLDER_KINDS or not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name):
            parser.error(f"--new KIND NAME: KIND is one of {', '.join(FOLDER_KINDS)}; NAME is lowercase, with dashes")
        dist = f"mcpconnect-{name}" if kind == "observer" else f"mcpconnect-{kind}-{name}"
        dest = args.dest or ROOT / "plugins" / kind / dist
        if dest.exists():
            parser.error(f"{dest} exists; choose another --dest")
        print(new_plugin(kind, name, dest, args.description))
        return 0
    folders = [f.resolve() for f in args.folders] or distributions.folders()[1:]
    failed = 0
    for folder, found in check(folders).items():
        print(f"{folder.name}:", "FAIL" if found else "ok")
        for line in found:
            print("error:", line, file=sys.stderr)
        failed += bool(found)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
