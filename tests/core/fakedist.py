"""Installed-looking distributions for plugin-loading tests, made in a temporary folder.

A folder on ``sys.path`` holding ``NAME-VERSION.dist-info/{METADATA,entry_points.txt}`` is an
installed distribution as far as ``importlib.metadata`` (and so stevedore) can tell.

stevedore keeps each group's entry points for the life of the process (mcpconnect sees a plugin
installed while it runs in its next process); a test installs plugins while it runs, so each
test gets that list empty and emptied again after each declared distribution.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from stevedore import ExtensionManager


class FakeSite:
    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        monkeypatch.syspath_prepend(str(root))
        monkeypatch.setattr(ExtensionManager, "ENTRY_POINT_CACHE", {})
        self._monkeypatch = monkeypatch

    def module(self, name: str, source: str) -> None:
        """Write module ``name`` (dotted names become packages)."""
        parts = name.split(".")
        folder = self.root.joinpath(*parts[:-1])
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(1, len(parts)):
            init = self.root.joinpath(*parts[:i], "__init__.py")
            if not init.exists():
                init.write_text("")
        (folder / f"{parts[-1]}.py").write_text(textwrap.dedent(source))
        for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            self._monkeypatch.delitem(sys.modules, mod)

    def dist(self, name: str, version: str, entry_points: dict[str, dict[str, str]]) -> None:
        """Declare distribution ``name`` with ``{group: {ep_name: "module[:attr]"}}``."""
        info = self.root / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        lines = []
        for group, eps in entry_points.items():
            lines.append(f"[{group}]")
            lines.extend(f"{k} = {v}" for k, v in eps.items())
            lines.append("")
        (info / "entry_points.txt").write_text("\n".join(lines))
        ExtensionManager.ENTRY_POINT_CACHE.clear()


STORE_MODULE = """
from mcpconnect import hookimpl
from mcpconnect.storage._memory import MemoryBackend

class {cls}(MemoryBackend):
    name = "{name}"

@hookimpl
def register_token_stores(register):
    register("{name}", {cls}, description="test store {name}")
"""
