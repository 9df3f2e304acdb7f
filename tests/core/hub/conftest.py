import os
import sys
from pathlib import Path

import pytest

FAULTY = str(Path(__file__).with_name("faulty_server.py"))
NOTES = str(Path(__file__).resolve().parents[3] / "examples" / "servers" / "notes_server.py")


def stdio(mode: str = "serve", **extra):
    return {"command": sys.executable, "args": [FAULTY, mode], **extra}


def children() -> set[int]:
    """Every process whose parent is this test process (zombies included)."""
    me = os.getpid()
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:
            found.add(int(entry))
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie counts as gone only once reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def hub_env(mcpconnect_isolated):
    return mcpconnect_isolated


@pytest.fixture
def helpers():
    class H:
        pass

    h = H()
    h.stdio = stdio
    h.children = children
    h.alive = alive
    h.NOTES = NOTES
    h.FAULTY = FAULTY
    return h
