"""Where MCP clients keep their server configurations, and reading them with the importer.

The locations are the ones each client documents, on Linux and macOS:

- Claude Desktop: ``~/Library/Application Support/Claude/claude_desktop_config.json`` (macOS),
  ``~/.config/Claude/claude_desktop_config.json`` (Linux);
- Cursor: ``~/.cursor/mcp.json`` (global) and ``.cursor/mcp.json`` (project);
- VS Code: ``.vscode/mcp.json`` (workspace), and ``mcp.json`` or the ``mcp`` key of
  ``settings.json`` in its user folder (``~/Library/Application Support/Code/User`` on macOS,
  ``~/.config/Code/User`` on Linux);
- Claude Code: ``.mcp.json`` (project scope), and ``~/.claude.json``: its top-level
  ``mcpServers`` (user scope) and ``projects[<this folder>].mcpServers`` (local scope).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcpconnect.errors import ConfigError

__all__ = ["CLIENTS", "ClientConfig", "find_client_configs", "merge_servers"]

#: Client ids as ``init --client`` takes them, with the name shown to users.
CLIENTS = {
    "claude-desktop": "Claude Desktop",
    "cursor": "Cursor",
    "vscode": "VS Code",
    "claude-code": "Claude Code",
}


@dataclass
class ClientConfig:
    """One client configuration file found on this machine (or one of its sections)."""

    client: str
    path: Path
    scope: str
    servers: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    #: What the importer said of it (servers left out, variables to export).
    warnings: list[str] = field(default_factory=list)
    #: The TODO lines for the file written from it (variables to export).
    todos: list[str] = field(default_factory=list)

    def take(self, imported: dict[str, Any]) -> None:
        """Keep the servers and TODO lines of an importer result."""
        self.servers = dict(imported["servers"])
        self.todos = list(imported.get("_todo", []))

    @property
    def label(self) -> str:
        return f"{CLIENTS.get(self.client, self.client)} ({self.scope})"


def _config_home(home: Path, environ: Mapping[str, str]) -> Path:
    xdg = environ.get("XDG_CONFIG_HOME")
    return Path(xdg) if xdg else home / ".config"


def candidates(
    home: Path, cwd: Path, *, platform: str = sys.platform, environ: Mapping[str, str] | None = None
) -> list[tuple[str, str, Path]]:
    """``(client, scope, path)`` for every documented location, whether or not it exists."""
    env = os.environ if environ is None else environ
    if platform == "darwin":
        support = home / "Library" / "Application Support"
        desktop, code_user = support / "Claude", support / "Code" / "User"
    else:
        config = _config_home(home, env)
        desktop, code_user = config / "Claude", config / "Code" / "User"
    return [
        ("claude-desktop", "user", desktop / "claude_desktop_config.json"),
        ("cursor", "user", home / ".cursor" / "mcp.json"),
        ("cursor", "project", cwd / ".cursor" / "mcp.json"),
        ("vscode", "workspace", cwd / ".vscode" / "mcp.json"),
        ("vscode", "user", code_user / "mcp.json"),
        ("vscode", "user settings", code_user / "settings.json"),
        ("claude-code", "project", cwd / ".mcp.json"),
        ("claude-code", "user", home / ".claude.json"),
    ]


def _mentions_servers(path: Path) -> bool:
    """Cheap test before parsing: VS Code's settings.json and ~/.claude.json often hold no MCP
    servers at all, and are then no candidates rather than errors."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True  # let the importer say why it cannot be read
    return '"mcpServers"' in text or '"servers"' in text


def _claude_code_local(path: Path, cwd: Path) -> dict[str, Any] | None:
    """``projects[<cwd>].mcpServers`` of ``~/.claude.json`` (Claude Code's local scope)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    projects = data.get("projects") if isinstance(data, dict) else None
    entry = projects.get(str(cwd)) if isinstance(projects, dict) else None
    servers = entry.get("mcpServers") if isinstance(entry, dict) else None
    return {"mcpServers": servers} if isinstance(servers, dict) and servers else None


def find_client_configs(
    home: Path | None = None,
    cwd: Path | None = None,
    *,
    clients: list[str] | None = None,
    platform: str = sys.platform,
    environ: Mapping[str, str] | None = None,
) -> list[ClientConfig]:
    """The client configurations that exist, each converted by the importer (or with the
    importer's error), in the order of :func:`candidates`."""
    from mcpconnect._config.importer import convert, import_file

    home = home or Path.home()
    cwd = cwd or Path.cwd()
    found: list[ClientConfig] = []
    seen: set[Path] = set()
    for client, scope, path in candidates(home, cwd, platform=platform, environ=environ):
        if clients is not None and client not in clients:
            continue
        if not path.is_file() or path.resolve() in seen or not _mentions_servers(path):
            continue  # run from the home folder, a project file is the user file: read it once
        seen.add(path.resolve())
        entry = ClientConfig(client, path, scope)
        try:
            entry.take(import_file(path, environ=environ, warnings=entry.warnings))
        except ConfigError as exc:
            if not (client == "claude-code" and scope == "user"):
                entry.error = str(exc)
        except UnicodeDecodeError:
            entry.error = f"{path}: is not UTF-8 text; save it as UTF-8 JSON"
        if entry.servers or entry.error:
            found.append(entry)
        if client == "claude-code" and scope == "user":
            local = _claude_code_local(path, cwd)
            if local is not None:
                section = ClientConfig(client, path, "local")
                try:
                    section.take(
                        convert(local, source=f"{path} (projects.{cwd})", environ=environ, warnings=section.warnings)
                    )
                except ConfigError as exc:
                    section.error = str(exc)
                found.append(section)
    return found


def merge_servers(sources: list[ClientConfig]) -> tuple[dict[str, Any], list[str]]:
    """One ``[servers]`` table from several sources, and notes on what was renamed or dropped.

    A server found twice with the same settings is kept once; a different server under a name
    already taken is kept as ``NAME-CLIENT`` (then ``NAME-CLIENT-2``...).
    """
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    notes: list[str] = []
    for source in sources:
        for name, server in source.servers.items():
            if name not in merged:
                merged[name], origin[name] = server, source.label
                continue
            if any(merged[k] == server for k in merged if k == name or k.startswith(f"{name}-")):
                continue  # the same server, found in another client (perhaps kept renamed)
            new, n = f"{name}-{source.client}", 2
            while new in merged:
                new, n = f"{name}-{source.client}-{n}", n + 1
            merged[new], origin[new] = server, source.label
            notes.append(
                f"server '{name}' of {source.label} differs from the one of {origin[name]}; imported as '{new}'"
            )
    return merged, notes
