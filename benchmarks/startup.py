"""Start-up: CLI commands that open no connection, against ``python -c "import httpx"``."""

from __future__ import annotations

import shutil
import sys
from typing import Any

from benchmarks.timing import Sample, ratio, time_command


def run(quick: bool) -> dict[str, Any]:
    repeat = 5 if quick else 20
    exe = shutil.which("mcpconnect") or str(__import__("pathlib").Path(sys.executable).with_name("mcpconnect"))
    httpx_import = time_command([sys.executable, "-c", "import httpx"], repeat, "python -c 'import httpx'")
    version = time_command([exe, "--version"], repeat, "mcpconnect --version")
    plugins = time_command([exe, "plugins", "list", "--json"], repeat, "mcpconnect plugins list")
    sdk = time_command([sys.executable, "-c", "import mcp.client"], repeat, "python -c 'import mcp.client'")
    entry_modules = _entry_module_costs(2 if quick else 10)
    return {
        "samples": {s.label: s.as_dict() for s in (httpx_import, version, plugins, sdk)},
        "entry_modules_ms": entry_modules,
        "ratios": {
            "startup_vs_httpx_import": ratio(version, httpx_import),
            "plugins_list_vs_httpx_import": ratio(plugins, httpx_import),
            "sdk_client_import_vs_httpx_import": ratio(sdk, httpx_import),
        },
    }


def _entry_module_costs(repeat: int) -> dict[str, float]:
    """Import time of each plugin's entry module on top of the core (what loading it costs)."""
    from importlib.metadata import entry_points

    costs: dict[str, float] = {}
    base = time_command([sys.executable, "-c", "import mcpconnect._plugins"], repeat, "core")
    for group in ("mcpconnect.transport", "mcpconnect.store", "mcpconnect.auth"):
        for ep in entry_points(group=group):
            module = ep.value.split(":")[0]
            sample: Sample = time_command(
                [sys.executable, "-c", f"import mcpconnect._plugins, {module}"], repeat, module
            )
            costs[f"{group.split('.')[-1]}:{ep.name}"] = round((sample.median - base.median) * 1000, 2)
    return costs
