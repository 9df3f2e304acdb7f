from __future__ import annotations

import sys
from pathlib import Path

# The shared replica machinery and contract suite (tests/plugins/auth_replica).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "auth_replica"))
