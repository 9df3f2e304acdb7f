"""tox's inline plugin: a local run skips an interpreter that is missing, CI never does.

A new user with one Python on PATH runs ``tox`` and gets the environments of that Python (the
others are skipped, each with a line saying which interpreter was not found); with ``CI`` set,
a missing 3.11, 3.12 or 3.13 fails the run, so CI always tests all three.
"""

from __future__ import annotations

import os
from typing import Any

from tox.plugin import impl


@impl
def tox_add_core_config(core_conf: Any, state: Any) -> None:
    in_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    # An explicit --skip-missing-interpreters on the command line still wins.
    if in_ci and getattr(state.conf.options, "skip_missing_interpreters", "config") == "config":
        state.conf.options.skip_missing_interpreters = "false"
