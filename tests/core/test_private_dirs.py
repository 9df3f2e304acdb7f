"""Every folder mcpconnect creates is 0700, the platform folders above its own included: on a new
account ``~/.cache`` and ``~/.local/state`` do not exist yet, and ``mkdir -p`` makes them 0755."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from mcpconnect._fsutil import make_private_dirs
from mcpconnect._servers.cache import DiscoveryCache
from mcpconnect.transport import ServerLog


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_every_missing_level_is_0700_and_existing_ones_are_left(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)  # noqa: S103  (a shared folder on purpose: it must stay as it is)
    old = os.umask(0o022)
    try:
        make_private_dirs(shared / "a" / "b" / "c")
    finally:
        os.umask(old)
    assert mode(shared) == 0o755
    assert [mode(shared / p) for p in ("a", "a/b", "a/b/c")] == [0o700, 0o700, 0o700]


def test_the_discovery_cache_and_server_logs_create_private_folders(mcpconnect_isolated: Path) -> None:
    cache = DiscoveryCache()
    cache.put("key", {"tools": []})
    log = ServerLog("demo")
    log.write("hello")
    for leaf, base in ((cache.directory, "XDG_CACHE_HOME"), (log.path.parent, "XDG_STATE_HOME")):
        root = Path(os.environ[base])
        below = [p for p in (leaf, *leaf.parents) if root in p.parents]
        assert below and all(mode(p) == 0o700 for p in below), [(str(p), oct(mode(p))) for p in below]
