from __future__ import annotations

import sys
from pathlib import Path

# The shared replica machinery and contract suite, and the docs' example plugin (not installed).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "auth_replica"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures" / "example-provider" / "src"))
