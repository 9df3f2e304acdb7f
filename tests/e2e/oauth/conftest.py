from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "oidc"))

from oidc_fixtures import make_runtime, oidc_server, oidc_server_session  # noqa: F401
