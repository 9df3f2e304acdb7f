"""Import the MCP server configs people already have, as mcpconnect TOML.

Understood shapes:

- ``{"mcpServers": {...}}``: Claude Desktop, Cursor, Claude Code's ``.mcp.json``, Windsurf;
- ``{"servers": {...}, "inputs": [...]}``: VS Code's ``.vscode/mcp.json`` (``type`` per server);
- ``{"mcp": {"servers": {...}}}``: VS Code's ``settings.json``.

One server that cannot be imported never costs the others: it is left out and named in a
warning, and every server of the file is either imported or named in a warning.

Variables: ``${VAR}``, ``${VAR:-default}`` (nested defaults too) and ``${env:VAR}`` are expanded
in ``command``, ``args``, ``url`` and ``cwd`` when set, and kept as references (which mcpconnect
expands when it starts the server) with a warning when not. In ``env`` and ``headers`` they are
always kept as references, so the TOML written never holds a secret. VS Code's
``${workspaceFolder}``, ``${workspaceFolderBasename}``, ``${userHome}``, ``${pathSeparator}`` and
``${/}`` are resolved; a ``${input:ID}`` prompt becomes a ``${ID}`` variable reference with a TODO
naming it. An ``Authorization: Bearer ${VAR}`` header becomes ``auth = "token"`` with
``token_env = "VAR"``. A stdio server's ``envFile`` is read with VS Code's rules (its variables
under the server's ``env``, which wins); variables whose names look secret are written as
references to be exported, never as values.

Relative paths: a stdio server is written with an absolute ``cwd``, the folder its source's
relative paths are relative to (the workspace for ``.vscode/mcp.json`` and ``.cursor/mcp.json``,
the file's own folder otherwise), so the TOML can be written anywhere (``-o``) and still start it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mcpconnect._config.model import ServerConfig
from mcpconnect._config.variables import references, unset_vars
from mcpconnect.errors import ConfigError

__all__ = ["convert", "import_file", "to_toml"]

_TYPES = {
    "stdio": "stdio",
    "local": "stdio",
    "sse": "sse",
    "http": "streamable-http",
    "streamable-http": "streamable-http",
    "streamablehttp": "streamable-http",
    "streamable_http": "streamable-http",
}
_BEARER_VAR = re.compile(r"^\s*Bearer\s+\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)\}\s*$", re.IGNORECASE)
_INPUT = re.compile(r"\$\{input:([^}]*)\}")
_WORKSPACE = re.compile(r"\$\{(workspaceFolder|workspaceFolderBasename|userHome|pathSeparator|/)\}")
#: VS Code variables only VS Code can resolve (``${config:...}``, ``${command:...}``...).
_EDITOR_ONLY = re.compile(r"\$\{([A-Za-z]+):[^}]*\}")
_SECRET_NAME = re.compile(r"token|secret|password|passwd|api[_-]?key|auth|credential|private", re.IGNORECASE)
#: Keys other clients write that mcpconnect has no use for; ignored without a word.
_KNOWN_EXTRA = frozenset(
    {"autoApprove", "alwaysAllow", "disabled", "description", "name", "gallery", "version", "dev", "timeout", "icon"}
)
_MAX_SERVERS = 1000


@dataclass
class _Import:
    """One import: where it comes from, the environment, and what the user must be told."""

    source: str
    env: Mapping[str, str]
    base: Path | None
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    todos: list[str] = field(default_factory=list)
    keep_secrets: bool = False

    def secret(self, server: str, where: str, var: str) -> str:
        """A literal secret met at ``where``: the ``${var}`` reference written in its place, with a
        TODO and a warning to export it."""
        todo = (
            f"server '{server}': export {var} (its value is written in the client file at {where}; secrets "
            "are not copied into this file)"
        )
        if todo not in self.todos:
            self.todos.append(todo)
            self.warnings.append(f"{self.source}: {todo}")
        return f"${{{var}}}"

    @property
    def workspace(self) -> Path | None:
        if self.base is None:
            return None
        return self.base.parent if self.base.name in (".vscode", ".cursor") else self.base


class _Skip(Exception):
    """This server cannot be imported; the message says why (the others still are)."""


def import_file(
    path: Path,
    environ: Mapping[str, str] | None = None,
    *,
    warnings: list[str] | None = None,
    keep_secrets: bool = False,
) -> dict[str, Any]:
    """Read ``path`` and return the equivalent configuration, as a dict ready for :func:`to_toml`.

    What the user should know (servers left out, variables to export, inputs to fill in) is
    appended to ``warnings``; TODO lines for the file written are under the ``"_todo"`` key of
    the result, which :func:`to_toml` writes as comments. Secrets written as values in the file
    (an ``env`` variable or a header whose name looks secret, a literal bearer token) become
    ``${VAR}`` references with a TODO to export them, unless ``keep_secrets``.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("does not exist; check the path", source=str(path)) from None
    except UnicodeDecodeError:
        raise ConfigError("is not UTF-8 text; is this an MCP configuration file?", source=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot be read ({exc.strerror})", source=str(path)) from None
    try:
        data = json.loads(_strip_jsonc(text))
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}; fix it there",
            source=str(path),
        ) from None
    except RecursionError:
        raise ConfigError("nests too deeply to be an MCP configuration file", source=str(path)) from None
    return convert(
        data,
        source=str(path),
        environ=environ,
        base=path.resolve().parent,
        warnings=warnings,
        keep_secrets=keep_secrets,
    )


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
    data: Any,
    *,
    source: str,
    environ: Mapping[str, str] | None = None,
    base: Path | None = None,
    warnings: list[str] | None = None,
    keep_secrets: bool = False,
) -> dict[str, Any]:
    """Convert parsed JSON of a known shape into mcpconnect's configuration dict.

    Raises :class:`ConfigError` only when the file as a whole is not an MCP configuration or no
    server in it can be imported; a server that cannot be imported is named in ``warnings``.
    """
    job = _Import(
        source=source, env=dict(os.environ if environ is None else environ), base=base, keep_secrets=keep_secrets
    )
    if not isinstance(data, dict):
        raise ConfigError("must hold a JSON object with mcpServers or servers", source=source)
    if isinstance(data.get("mcpServers"), dict):
        servers, key = data["mcpServers"], "mcpServers"
    elif isinstance(data.get("servers"), dict):
        servers, key = data["servers"], "servers"
    elif isinstance(data.get("mcp"), dict) and isinstance(data["mcp"].get("servers"), dict):
        servers, key = data["mcp"]["servers"], "mcp.servers"
        data = data["mcp"]
    else:
        raise ConfigError(
            "has no mcpServers (Claude Desktop, Cursor, .mcp.json) or servers (VS Code) object; "
            "is this an MCP configuration file?",
            source=source,
        )
    if len(servers) > _MAX_SERVERS:
        raise ConfigError(
            f"lists {len(servers)} servers; more than {_MAX_SERVERS} is not an MCP client's file", source=source
        )
    inputs = data.get("inputs")
    if isinstance(inputs, list):
        job.inputs = {str(i["id"]): i for i in inputs if isinstance(i, dict) and isinstance(i.get("id"), str)}
    out: dict[str, Any] = {}
    names: dict[str, str] = {}  # TOML key -> the source's name
    for name, entry in servers.items():
        where = f"{key}.{json.dumps(name) if _needs_quotes(name) else name}"
        # The TOML key first: TODO lines, warnings and variable names then name the server as
        # mcpconnect's commands will (the warning below says which source name it was).
        toml_key = _safe_name(str(name))
        renamed = ""
        if toml_key in names:
            first = toml_key
            n = 2
            while f"{first}-{n}" in names:
                n += 1
            toml_key = f"{first}-{n}"
            renamed = (
                f"{source}: servers {names[first]!r} and {name!r} both map to [servers.{first}]; the second was "
                f"written as [servers.{toml_key}] (rename it in the TOML if you like)"
            )
        elif toml_key != str(name):
            renamed = (
                f"{source}: {where}: server {str(name)!r} is written as [servers.{toml_key}] (imported "
                f"names are written as bare TOML keys: letters, digits, - and _); name it {toml_key!r} in "
                f"mcpconnect's commands, e.g. "
                f"mcpconnect check {toml_key}"
            )
        try:
            server = _convert_server(job, entry, toml_key, where)
        except _Skip as skip:
            job.warnings.append(f"{source}: {where}: not imported: {skip}")
            continue
        if renamed:
            job.warnings.append(renamed)
        names[toml_key] = str(name)
        out[toml_key] = server
    if not out:
        detail = "; ".join(map(_printable, job.warnings)) if job.warnings else "the server list is empty"
        raise ConfigError(f"no server could be imported ({detail})", source=source)
    if warnings is not None:
        # Names and values come from the file: a control character would reach the terminal.
        warnings.extend(_printable(w) for w in job.warnings)
    result: dict[str, Any] = {"servers": out}
    if job.todos:
        result["_todo"] = list(job.todos)
    return result


_BEARER_LITERAL = re.compile(r"^\s*Bearer\s+[^\s$]+\s*$", re.IGNORECASE)


def _literal_secret(job: _Import, name: str, value: str) -> bool:
    """``value`` of a variable or header called ``name`` is a secret written out (not a
    ``${VAR}`` reference, not empty), and the user did not ask to keep such values."""
    return not job.keep_secrets and bool(value.strip()) and "${" not in value and _looks_secret(name)


_SECRET_WORDS = frozenset({"token", "secret", "password", "passwd", "pwd", "credential", "credentials", "apikey"})
_SECRET_LAST = frozenset({"key", "auth", "authorization", "pat", "cookie"})


def _looks_secret(name: str) -> bool:
    """A variable or header name that holds a secret, read word by word (``GITHUB_TOKEN``,
    ``X-API-Key``, ``apiKey``, ``STRIPE_KEY``), not ``AUTHOR`` or ``KEY_FILE``."""
    words = [w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+", name)]
    # Words run together count too (PGPASSWORD, DBSECRET, GHTOKEN), not AUTHOR or tokenizer.
    joined = any(part in w for w in words for part in ("password", "passwd", "secret")) or any(
        w.endswith(("token", "apikey")) for w in words
    )
    return bool(words) and (joined or any(w in _SECRET_WORDS for w in words) or words[-1] in _SECRET_LAST)


def _url_password(job: _Import, name: str, where: str, text: str) -> str:
    """``text`` with a URL password written out replaced by a ``${VAR}`` reference to export."""
    if job.keep_secrets:
        return text
    from mcpconnect._redact import replace_url_password

    marker = "\x00password\x00"
    marked = replace_url_password(text, marker)
    if marker not in marked:
        return text
    if all(part.startswith("${") for part in re.findall(r"//[^/@]*:(.*?)@", text)):
        return text  # already references
    return marked.replace(marker, job.secret(name, where, _var_name(name, "password")))


def _literal_args(job: _Import, name: str, where: str, args: list[str]) -> list[str]:
    """A command's arguments with secrets written out turned into ``${VAR}`` references: URL
    passwords, the value after a secret-named flag (``--token VALUE``), ``--token=VALUE`` and a
    secret header written as one argument (``--header "Authorization:Bearer X"``)."""
    if job.keep_secrets:
        return args
    from mcpconnect._redact import header_arg_secret, is_secret_flag

    out: list[str] = []
    for i, arg in enumerate(args):
        at = f"{where}.args[{i}]"
        arg = _url_password(job, name, at, arg)
        flag, eq, value = arg.partition("=")
        header = header_arg_secret(arg)
        if header is not None:  # mcp-remote's --header "Authorization:Bearer X", or --header=K:V
            prefix, hname, _secret = header
            arg = prefix + job.secret(name, at, _var_name(name, "token" if hname.lower() == "authorization" else hname))
        elif eq and flag.startswith("-") and is_secret_flag(flag) and value and "${" not in value:
            arg = f"{flag}={job.secret(name, at, _var_name(name, flag.lstrip('-')))}"
        elif i and is_secret_flag(args[i - 1]) and arg and "${" not in arg and not arg.startswith("-"):
            arg = job.secret(name, at, _var_name(name, args[i - 1].lstrip("-")))
        out.append(arg)
    return out


def _var_name(server: str, what: str) -> str:
    """The variable a literal secret of ``server`` is read from instead: ``GITHUB_TOKEN``,
    ``MY_API_X_API_KEY``."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", f"{server}_{what}").strip("_").upper() or "SECRET"
    return f"_{name}" if name[0].isdigit() else name


def _printable(text: str) -> str:
    """``text`` with control characters escaped (``\\x00``, ``\\x1b``): a TOML comment may not
    hold them, and a terminal would act on them."""
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def _needs_quotes(name: Any) -> bool:
    return not (isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9_-]+", name))


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "server"


def _input_var(input_id: str) -> str:
    name = re.sub(r"[^A-Za-z0-9]+", "_", input_id).strip("_").upper() or "INPUT"
    return f"INPUT_{name}" if name[0].isdigit() else name


def _string(value: Any, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise _Skip(f"{what} must be a string, not {type(value).__name__ if value is not None else 'null'}")


def _vscode_vars(job: _Import, value: str, server: str, where: str) -> str:
    """Resolve VS Code's own variables; turn ``${input:ID}`` into a ``${ID}`` reference with a TODO."""
    workspace = job.workspace

    def workspace_var(match: re.Match[str]) -> str:
        var = match.group(1)
        if var == "userHome":
            return str(Path.home())
        if var in ("pathSeparator", "/"):
            return os.sep
        if workspace is None:
            raise _Skip(f"{where} uses ${{{var}}}, which needs the file's folder; import from the file itself")
        return str(workspace) if var == "workspaceFolder" else workspace.name

    value = _WORKSPACE.sub(workspace_var, value)

    def input_var(match: re.Match[str]) -> str:
        input_id = match.group(1)
        var = _input_var(input_id)
        prompt = job.inputs.get(input_id, {}).get("description")
        about = f" ({str(prompt)[:80]})" if prompt else ""
        todo = (
            f"server '{server}': {where} was ${{input:{input_id}}}{about}, a prompt only VS Code shows; export "
            f"{var} with the value"
        )
        if todo not in job.todos:
            job.todos.append(todo)
            job.warnings.append(f"{job.source}: {todo} (written as ${{{var}}})")
        return f"${{{var}}}"

    value = _INPUT.sub(input_var, value)
    editor = [m.group(0) for m in _EDITOR_ONLY.finditer(value) if m.group(1) != "env"]
    if editor:
        job.warnings.append(
            f"{job.source}: {where}: {editor[0][:60]} is resolved only by the editor; it was kept as written: "
            "replace it in the TOML"
        )
    return value


def _reference(job: _Import, value: str, server: str, where: str, *, expand: bool) -> str:
    """``value`` with VS Code variables resolved and ``${env:X}`` written ``${X}``; with ``expand``,
    set variables are expanded too (unset ones stay references, with a warning)."""
    from mcpconnect._config.variables import expand_vars

    value = _vscode_vars(job, value, server, where)
    missing = [v for v in unset_vars(value, job.env) if not any(v in t for t in job.todos)]
    if missing:
        job.warnings.append(
            f"{job.source}: {where}: ${{{missing[0]}}} is not set now; it was kept as a reference: export "
            f"{missing[0]} before using server '{server}'"
        )
    secret_refs = not job.keep_secrets and any(_looks_secret(ref.name) for ref in references(value))
    if expand and not secret_refs and not unset_vars(value, job.env):
        # A reference to a secret stays one (mcpconnect expands it when it starts the server).
        try:
            return expand_vars(value, job.env, where=where)
        except ConfigError as exc:
            raise _Skip(exc.problem) from None
    return value.replace("${env:", "${")


def _convert_server(job: _Import, entry: Any, name: str, where: str) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise _Skip("must be an object with command or url")
    out: dict[str, Any] = {}
    raw_kind = entry.get("type", entry.get("transport"))
    kind = _string(raw_kind, "type").lower() if raw_kind not in (None, "") else ""
    if kind and kind not in _TYPES:
        raise _Skip(f"unknown type '{kind[:40]}'; expected one of stdio, sse, http")
    if entry.get("disabled") is True:
        out["enabled"] = False
    url = entry.get("url") or entry.get("serverUrl")
    if entry.get("command") not in (None, ""):
        if kind and _TYPES[kind] != "stdio":
            raise _Skip(f"type '{kind}' needs a url, not a command")
        out["transport"] = "stdio"
        out["command"] = _reference(job, _string(entry["command"], "command"), name, f"{where}.command", expand=True)
        args = entry.get("args")
        if args is None:
            args = []
        if not isinstance(args, list):
            raise _Skip("args must be a list of strings")
        out["args"] = _literal_args(
            job,
            name,
            where,
            [
                _reference(job, _string(a, f"args[{i}]"), name, f"{where}.args[{i}]", expand=True)
                for i, a in enumerate(args)
            ],
        )
        cwd = _cwd(job, entry, name, where)
        if cwd is not None:
            out["cwd"] = cwd
        if any("\x00" in part for part in [out["command"], *out["args"], cwd or ""]):
            raise _Skip("command, args or cwd holds a NUL character, which no process can be started with")
    elif url not in (None, ""):
        out["url"] = _url_password(
            job, name, f"{where}.url", _reference(job, _string(url, "url"), name, f"{where}.url", expand=True)
        )
        if kind:
            if _TYPES[kind] == "stdio":
                raise _Skip("type 'stdio' needs a command, not a url")
            out["transport"] = _TYPES[kind]
    else:
        raise _Skip("has neither command nor url")

    env = _env(job, entry, name, where, stdio="command" in out)
    if env:
        out["env"] = env
    _headers(job, entry, name, where, out)
    ignored = sorted(
        str(k)
        for k in entry
        if k not in {"type", "transport", "url", "serverUrl", "command", "args", "cwd", "env", "envFile", "headers"}
        and k not in _KNOWN_EXTRA
    )
    if ignored:
        job.warnings.append(f"{job.source}: {where}: ignored {', '.join(ignored[:8])[:200]} (no mcpconnect equivalent)")
    try:
        ServerConfig.model_validate(out)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise _Skip(f"converts to an invalid server ({first.get('msg', 'invalid')})") from None
    return out


def _cwd(job: _Import, entry: dict[str, Any], name: str, where: str) -> str | None:
    """The absolute folder the server runs in: its ``cwd`` (relative to the source's folder) or,
    without one, the source's folder itself, so that relative command and args keep working
    wherever the TOML is written."""
    raw = entry.get("cwd")
    folder = job.workspace
    if raw in (None, ""):
        return str(folder) if folder is not None else None
    cwd = _reference(job, _string(raw, "cwd"), name, f"{where}.cwd", expand=True)
    if "${" in cwd:
        return cwd
    path = Path(cwd).expanduser()
    if not path.is_absolute() and folder is not None:
        path = folder / path
    return str(path)


def _env(job: _Import, entry: dict[str, Any], name: str, where: str, *, stdio: bool) -> dict[str, str]:
    env: dict[str, str] = {}
    env_file = entry.get("envFile")
    if env_file not in (None, ""):
        if not stdio:
            job.warnings.append(f"{job.source}: {where}.envFile: ignored (only stdio servers have an environment)")
        else:
            env.update(_env_file(job, _string(env_file, "envFile"), name, f"{where}.envFile"))
    raw = entry.get("env")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise _Skip("env must be an object of names and values")
    for key, value in raw.items():
        if value is None:
            continue
        if not key or "=" in key or "\x00" in key:
            job.warnings.append(f"{job.source}: {where}.env: {key[:40]!r} is not a variable name; left out")
            continue
        text = _reference(job, _string(value, f"env.{key}"), name, f"{where}.env.{key}", expand=False)
        if "\x00" in text:
            raise _Skip(f"env.{key[:40]} holds a NUL character, which no process environment can")
        if _literal_secret(job, str(key), text) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(key)):
            text = job.secret(name, f"{where}.env.{key}", str(key))
        env[str(key)] = text
    return env


def _env_file(job: _Import, raw: str, name: str, where: str) -> dict[str, str]:
    """A VS Code ``envFile``: a dotenv file (relative to the workspace); ``env`` wins over it.

    Values are written as they are, except for variables whose names look secret: those become
    ``${NAME}`` references to export, so that no secret lands in the TOML."""
    path_text = _reference(job, raw, name, where, expand=True)
    path = Path(path_text).expanduser()
    if not path.is_absolute() and job.workspace is not None:
        path = job.workspace / path
    if not path.is_file():
        job.warnings.append(
            f"{job.source}: {where}: the env file {path} does not exist; server '{name}' was imported without it"
        )
        return {}
    from dotenv import dotenv_values

    try:
        values = dotenv_values(path, interpolate=False, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        job.warnings.append(f"{job.source}: {where}: the env file {path} cannot be read ({type(exc).__name__})")
        return {}
    out: dict[str, str] = {}
    secrets: list[str] = []
    for key, value in values.items():
        if value is None or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            continue
        if _SECRET_NAME.search(key):
            out[key] = f"${{{key}}}"
            secrets.append(key)
        else:
            out[key] = value
    if secrets:
        todo = (
            f"server '{name}': export {', '.join(secrets)} (from the env file {path}; secrets are not copied into "
            "this file)"
        )
        job.todos.append(todo)
        job.warnings.append(f"{job.source}: {todo}")
    return out


def _headers(job: _Import, entry: dict[str, Any], name: str, where: str, out: dict[str, Any]) -> None:
    headers = entry.get("headers")
    if headers is None:
        return
    if not isinstance(headers, dict):
        raise _Skip("headers must be an object of names and values")
    if "command" in out and headers:
        job.warnings.append(f"{job.source}: {where}.headers: ignored (a stdio server has no HTTP headers)")
        return
    kept: dict[str, str] = {}
    for hname, hvalue in headers.items():
        if hvalue is None:
            continue
        hwhere = f"{where}.headers.{hname}"
        text = _reference(job, _string(hvalue, f"headers.{hname}"), name, hwhere, expand=False)
        authorization = str(hname).lower() == "authorization"
        if authorization and "auth" not in out and _literal_secret(job, "authorization", text):
            literal = _BEARER_LITERAL.match(text)
            if literal:  # Bearer <token>: mcpconnect's API token, read from a variable
                var = _var_name(name, "token")
                job.secret(name, hwhere, var)
                out["auth"], out["token_env"] = "token", var
                continue
        bearer = _BEARER_VAR.match(text) if authorization else None
        if bearer and "auth" not in out:
            out["auth"] = "token"
            out["token_env"] = bearer.group(1)
            continue
        if _literal_secret(job, str(hname), text):
            text = job.secret(name, hwhere, _var_name(name, str(hname)))
        kept[str(hname)] = text
    if kept:
        out["headers"] = kept


def to_toml(data: dict[str, Any], *, header: str = "") -> str:
    """Render a configuration dict as TOML (with tomli-w); ``data["_todo"]`` lines become comments."""
    import tomli_w

    body = dict(data)
    todos = body.pop("_todo", [])
    lines = [header] if header else []
    lines += [f"# TODO: {_printable(' '.join(str(t).split()))}" for t in todos]
    text = tomli_w.dumps(body)
    return ("\n".join(lines) + "\n" if lines else "") + text
