"""``mcpconnect install CLIENT``: write a client's own configuration file so that it starts
``mcpconnect serve`` (or one ``mcpconnect proxy`` per server).

Every other key of the file is kept. The first change keeps a backup of the file as it was
(``FILE.mcpconnect-backup``; a marker when there was no file), which ``--undo`` puts back.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcpconnect._fsutil import atomic_write
from mcpconnect.errors import ConfigError

__all__ = ["CLIENTS", "Change", "ClientFile", "client_file", "plan", "undo"]

UNDONE_SUFFIX = ".mcpconnect-undone"
BACKUP_SUFFIX = ".mcpconnect-backup"
#: The backup of a file that did not exist: undo deletes the file.
NO_FILE_MARKER = b"mcpconnect: there was no file here\n"


@dataclass(frozen=True)
class ClientFile:
    """Where a client keeps its servers, and how it writes a stdio entry."""

    client: str
    path: Path
    key: str  # "mcpServers" or "servers"
    typed: bool  # entries carry "type": "stdio"


def _claude_desktop(home: Path, environ: Mapping[str, str]) -> Path:
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json"
    if sys.platform == "win32":
        return Path(environ.get("APPDATA", home / "AppData" / "Roaming")) / "Claude" / "claude_desktop_config.json"
    return Path(environ.get("XDG_CONFIG_HOME") or home / ".config") / "Claude" / "claude_desktop_config.json"


#: The clients ``install`` knows; user-level files for the desktop apps, project files otherwise.
CLIENTS = ("claude-desktop", "cursor", "vscode", "claude-code")


def client_file(
    client: str, *, cwd: Path | None = None, home: Path | None = None, environ: Mapping[str, str] | None = None
) -> ClientFile:
    """The configuration file of ``client``."""
    cwd = cwd or Path.cwd()
    home = home or Path.home()
    env = os.environ if environ is None else environ
    if client == "claude-desktop":
        return ClientFile(client, _claude_desktop(home, env), "mcpServers", typed=False)
    if client == "cursor":
        return ClientFile(client, home / ".cursor" / "mcp.json", "mcpServers", typed=False)
    if client == "vscode":
        return ClientFile(client, cwd / ".vscode" / "mcp.json", "servers", typed=True)
    if client == "claude-code":
        return ClientFile(client, cwd / ".mcp.json", "mcpServers", typed=True)
    raise ConfigError(f"install: unknown client '{client}'; choose one of {', '.join(CLIENTS)}")


def mcpconnect_command() -> str:
    """The absolute path of this installation's ``mcpconnect``: clients start it without a shell,
    often without the user's PATH."""
    beside = Path(sys.executable).with_name("mcpconnect.exe" if os.name == "nt" else "mcpconnect")
    if beside.exists():
        return str(beside)
    return shutil.which("mcpconnect") or "mcpconnect"


def entries(config: Path, servers: Sequence[str], *, proxy: bool) -> dict[str, list[str]]:
    """``{entry name: args}``: one ``serve`` entry, or one ``proxy`` entry per server."""
    base = ["--config", str(config)]
    if proxy:
        return {name: [*base, "proxy", name] for name in servers}
    return {"mcpconnect": [*base, "serve", *servers]}


@dataclass
class Change:
    """What ``install`` would write: the file, its text before and after."""

    target: ClientFile
    before: str | None
    after: str

    @property
    def diff(self) -> str:
        """The change as a unified diff, safe to print: both sides in the same JSON layout (so
        only the entries that change show), every ``env`` and ``headers`` value and every
        secret-named value masked (the client's file holds the user's other servers' keys)."""
        old = _shown(self.before).splitlines(keepends=True) if self.before is not None else []
        new = _shown(self.after).splitlines(keepends=True)
        label = str(self.target.path)
        return "".join(
            difflib.unified_diff(old, new, f"{label} (now)" if self.before is not None else "/dev/null", label)
        )

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def write(self) -> Path:
        """Write the file (keeping the first backup); return the backup's path."""
        path = self.target.path
        backup = path.with_name(path.name + BACKUP_SUFFIX)
        if not backup.exists():
            original = path.read_bytes() if path.exists() else NO_FILE_MARKER
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(backup, original)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, self.after.encode("utf-8"))
        return backup


def _masked(value: Any, key: str = "") -> Any:
    from mcpconnect._redact import redact_header, redact_nested

    if isinstance(value, dict):
        if key in ("env", "headers"):
            # Any env or header value may be a credential: show which are set, not what.
            return {k: redact_header(v) for k, v in value.items()}
        return {k: _masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        if all(isinstance(v, str) for v in value):
            return redact_nested(key, value)  # a command's args: --token VALUE, --header K:V, ...
        return [_masked(v, key) for v in value]
    return redact_nested(key, value)


def _shown(text: str) -> str:
    """``text`` (a client's JSON file) as it may be printed."""
    from mcpconnect._redact import redact_text

    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        return redact_text(text)
    return json.dumps(_masked(data), indent=2, ensure_ascii=False) + "\n"


def _read(path: Path) -> tuple[str | None, dict[str, Any]]:
    if not path.exists():
        return None, {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read ({exc.strerror}); check its permissions") from None
    if not text.strip():
        return text, {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(
            f"{path} is not valid JSON ({exc}); fix it (comments are not kept) or move it away; nothing was written"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} holds a JSON {type(data).__name__}, not an object; nothing was written")
    return text, data


def plan(
    target: ClientFile,
    config: Path,
    servers: Sequence[str],
    *,
    proxy: bool = False,
    command: str | None = None,
) -> Change:
    """The change that makes ``target``'s client start mcpconnect for ``servers``."""
    before, data = _read(target.path)
    section = data.get(target.key)
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise ConfigError(f"{target.path}: '{target.key}' is not an object; fix it by hand; nothing was written")
    exe = command or mcpconnect_command()
    for name, args in entries(config, servers, proxy=proxy).items():
        entry: dict[str, Any] = {"type": "stdio"} if target.typed else {}
        entry.update({"command": exe, "args": args})
        section[name] = entry
    data[target.key] = section
    return Change(target, before, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def undo(target: ClientFile) -> str:
    """Put back the file as it was before the first ``install``; say what was done."""
    path = target.path
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    if not backup.exists():
        raise ConfigError(f"install --undo: there is no backup of {path} ({backup.name}); nothing to undo")
    original = backup.read_bytes()
    # The file as it is now may hold edits made after install (by hand, by the client): kept
    # beside it, so that undo loses nothing.
    kept = ""
    if path.exists() and path.read_bytes() != original:
        aside = path.with_name(path.name + UNDONE_SUFFIX)
        atomic_write(aside, path.read_bytes())
        kept = f"; the file as it was is kept as {aside.name} (edits made since install are in it)"
    if original == NO_FILE_MARKER:
        path.unlink(missing_ok=True)
        done = f"removed {path} (there was none before)"
    else:
        atomic_write(path, original)
        done = f"restored {path} from {backup.name}"
    backup.unlink()
    return done + kept
