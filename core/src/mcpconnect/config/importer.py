"""Import the MCP server configs people already have, as mcpconnect TOML.

Understood shapes:

- ``{"mcpServers": {...}}``: Claude Desktop, Cursor, Claude Code's ``.mcp.json``, Windsurf;
- ``{"servers": {...}, "inputs": [...]}``: VS Code's ``.vscode/mcp.json`` (``type`` per server);
- ``{"mcp": {"servers": {...}}}``: VS Code's ``settings.json``.

Variables: ``${VAR}``, ``${VAR:-default}`` and ``${env:VAR}`` are expanded in ``command``,
``args``, ``url`` and ``cwd``. In ``env`` and ``headers`` they are kept as references, which
mcpconnect expands when it starts or connects the server, so the TOML written never holds a
secret; they must still resolve now. An ``Authorization: Bearer ${VAR}`` header becomes
``auth = "token"`` with ``token_env = "VAR"``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mcpconnect.config.model import Config, expand_vars
from mcpconnect.errors import ConfigError

__all__ = ["convert", "import_file", "to_toml"]

_TYPES = {
    "stdio": "stdio",
    "sse": "sse",
    "http": "streamable-http",
    "streamable-http": "streamable-http",
    "streamablehttp": "streamable-http",
    "streamable_http": "streamable-http",
}
_BEARER_VAR = re.compile(r"^\s*Bearer\s+\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)\}\s*$", re.IGNORECASE)
_INPUT = re.compile(r"\$\{input:([^}]+)\}")
_WORKSPACE = re.compile(r"\$\{(workspaceFolder|userHome)\}")


def import_file(path: Path, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read ``path`` and return the equivalent configuration, as a dict ready for :func:`to_toml`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("does not exist; check the path", source=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot be read ({exc.strerror})", source=str(path)) from None
    try:
        data = json.loads(_strip_jsonc(text))
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}; fix it there",
            source=str(path),
        ) from None
    return convert(data, source=str(path), environ=environ, base=path.parent)


def _strip_jsonc(text: str) -> str:
    """VS Code files allow // comments and trailing commas; drop them outside strings."""
    out: list[str] = []
    i, n, in_str = 0, len(text), False
    while i < n:
        c = text[i]
        if in_str:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
            out.append(c)
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        else:
            out.append(c)
        i += 1
    return re.sub(r",(\s*[}\]])", r"\1", "".join(out))


def convert(
    data: Any, *, source: str, environ: Mapping[str, str] | None = None, base: Path | None = None
) -> dict[str, Any]:
    """Convert parsed JSON of a known shape into mcpconnect's configuration dict."""
    env = dict(os.environ if environ is None else environ)
    if not isinstance(data, dict):
        raise ConfigError("must hold a JSON object with mcpServers or servers", source=source)
    if isinstance(data.get("mcpServers"), dict):
        servers, key = data["mcpServers"], "mcpServers"
    elif isinstance(data.get("servers"), dict):
        servers, key = data["servers"], "servers"
    elif isinstance(data.get("mcp"), dict) and isinstance(data["mcp"].get("servers"), dict):
        servers, key = data["mcp"]["servers"], "mcp.servers"
    else:
        raise ConfigError(
            "has no mcpServers (Claude Desktop, Cursor, .mcp.json) or servers (VS Code) object; "
            "is this an MCP configuration file?",
            source=source,
        )
    out: dict[str, Any] = {}
    for name, entry in servers.items():
        where = f"{key}.{name}"
        if not isinstance(entry, dict):
            raise ConfigError("must be an object", source=source, key=where)
        out[_safe_name(name)] = _convert_server(entry, where, source, env, base)
    result = {"servers": out}
    try:
        Config.model_validate(result)
    except Exception as exc:  # the converted shape is ours; report in the source's terms
        raise ConfigError(f"converts to an invalid configuration: {exc}", source=source) from None
    return result


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "server"


def _expand(value: str, where: str, source: str, env: Mapping[str, str], base: Path | None) -> str:
    _check_inputs(value, where, source)
    if base is not None:
        value = _WORKSPACE.sub(lambda m: str(base.parent if m.group(1) == "workspaceFolder" else Path.home()), value)
    try:
        return expand_vars(value, dict(env), where=where)
    except ConfigError as exc:
        raise ConfigError(exc.problem, source=source, key=where) from None


def _check_inputs(value: str, where: str, source: str) -> None:
    found = _INPUT.search(value)
    if found:
        raise ConfigError(
            f"uses ${{input:{found.group(1)}}}, which only VS Code can prompt for; put the value in an "
            f"environment variable and write ${{env:NAME}} instead",
            source=source,
            key=where,
        )


def _verify(value: str, where: str, source: str, env: Mapping[str, str]) -> str:
    """Check a reference resolves now, but keep it unexpanded (it may be a secret)."""
    _check_inputs(value, where, source)
    try:
        expand_vars(value, dict(env), where=where)
    except ConfigError as exc:
        raise ConfigError(exc.problem, source=source, key=where) from None
    return re.sub(r"\$\{env:", "${", value)


def _convert_server(
    entry: dict[str, Any], where: str, source: str, env: Mapping[str, str], base: Path | None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    kind = str(entry.get("type") or entry.get("transport") or "").lower()
    if kind and kind not in _TYPES:
        raise ConfigError(
            f"unknown type '{kind}'; expected one of stdio, sse, http", source=source, key=f"{where}.type"
        )
    if entry.get("disabled") is True:
        out["enabled"] = False
    url = entry.get("url") or entry.get("serverUrl")
    if "command" in entry:
        out["command"] = _expand(str(entry["command"]), f"{where}.command", source, env, base)
        args = entry.get("args") or []
        if not isinstance(args, list):
            raise ConfigError("must be a list of strings", source=source, key=f"{where}.args")
        out["args"] = [_expand(str(a), f"{where}.args[{i}]", source, env, base) for i, a in enumerate(args)]
        if entry.get("cwd"):
            out["cwd"] = _expand(str(entry["cwd"]), f"{where}.cwd", source, env, base)
        if kind and _TYPES[kind] != "stdio":
            raise ConfigError(f"type '{kind}' needs a url, not a command", source=source, key=where)
    elif url:
        out["url"] = _expand(str(url), f"{where}.url", source, env, base)
        if kind:
            out["transport"] = _TYPES[kind]
    else:
        raise ConfigError("has neither command nor url", source=source, key=where)
    if kind == "stdio" or "command" in entry:
        out.setdefault("transport", "stdio")

    envs = entry.get("env") or {}
    if not isinstance(envs, dict):
        raise ConfigError("must be an object", source=source, key=f"{where}.env")
    if envs:
        out["env"] = {str(k): _verify(str(v), f"{where}.env.{k}", source, env) for k, v in envs.items()}

    headers = entry.get("headers") or {}
    if not isinstance(headers, dict):
        raise ConfigError("must be an object", source=source, key=f"{where}.headers")
    kept: dict[str, str] = {}
    for hname, hvalue in headers.items():
        hwhere = f"{where}.headers.{hname}"
        bearer = _BEARER_VAR.match(str(hvalue)) if str(hname).lower() == "authorization" else None
        if bearer:
            _verify(str(hvalue), hwhere, source, env)
            out["auth"] = "token"
            out["token_env"] = bearer.group(1)
            continue
        kept[str(hname)] = _verify(str(hvalue), hwhere, source, env)
    if kept:
        out["headers"] = kept
    return out


def to_toml(data: dict[str, Any], *, header: str = "") -> str:
    """Render a configuration dict as TOML (with tomli-w)."""
    import tomli_w

    body = tomli_w.dumps(data)
    return (header + "\n" if header else "") + body
