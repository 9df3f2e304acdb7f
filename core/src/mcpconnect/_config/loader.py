"""Layered loading: defaults < user file < project file < ``.env`` < environment < flags.

Each layer is read into a plain dict (TOML files with :mod:`tomllib`; ``.env`` and the
environment with pydantic-settings' own sources), the dicts are merged key by key while the
source of every value is recorded, and the result is validated once. Recording sources is why the
layers are merged here rather than inside a ``BaseSettings`` instance: ``config show`` names the
file, variable or flag each value came from, and an error names the file its bad value is in.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from mcpconnect._config.model import Config
from mcpconnect.errors import ConfigError

__all__ = ["LoadedConfig", "load_config", "project_config_path", "user_config_path"]

ENV_CONFIG = "MCPCONNECT_CONFIG"
PROJECT_FILE = "mcpconnect.toml"
DEFAULTS = "default"

KeyPath = tuple[str, ...]


class _EnvSchema(BaseSettings, Config):
    """The configuration's fields as pydantic-settings reads them from ``MCPCONNECT_*``."""

    model_config = SettingsConfigDict(
        env_prefix="MCPCONNECT_", env_nested_delimiter="__", case_sensitive=False, extra="ignore"
    )


def user_config_path() -> Path:
    """``config.toml`` in the platform's user config directory (``~/.config/mcpconnect`` here)."""
    from platformdirs import user_config_path as _ucp

    return _ucp("mcpconnect") / "config.toml"


def project_config_path(
    explicit: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> tuple[Path | None, bool]:
    """The project file and whether it was named explicitly (``--config`` or the variable).

    An explicitly named file must exist; ``mcpconnect.toml`` in the working directory is optional.
    """
    env = os.environ if environ is None else environ
    if explicit:
        return Path(explicit), True
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG]), True
    candidate = (cwd or Path.cwd()) / PROJECT_FILE
    return (candidate if candidate.is_file() else None), False


@dataclass
class LoadedConfig:
    """The effective configuration, where each value came from, and the warnings met loading it."""

    config: Config
    sources: dict[KeyPath, str] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    project_file: Path | None = None

    def source_of(self, *key: str) -> str:
        """The layer that set ``key`` (a file path, ``env MCPCONNECT_...``, ``--set``, ``default``)."""
        key = tuple(key)
        # The key itself, or a table set as a whole above it (a JSON value in one variable)...
        for n in range(len(key), 0, -1):
            found = self.sources.get(key[:n])
            if found:
                return found
        # ...or, for a table, where its keys were set. A key of a table that a layer wrote but
        # that no layer set (servers.X.timeout) is the default's.
        return next((s for p, s in self.sources.items() if p[: len(key)] == key), DEFAULTS)

    @property
    def base_dir(self) -> Path:
        """Relative paths in the project file are relative to its folder."""
        return self.project_file.parent if self.project_file else Path.cwd()


def _read_toml(path: Path, *, required: bool) -> dict[str, Any] | None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if required:
            raise ConfigError(
                "the configuration file does not exist; create it, or fix --config / MCPCONNECT_CONFIG",
                source=str(path),
            ) from None
        return None
    except OSError as exc:
        raise ConfigError(f"cannot be read ({exc.strerror}); check its permissions", source=str(path)) from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError("is not UTF-8 text; save it as UTF-8 TOML", source=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"is not valid TOML: {exc}; fix the syntax there", source=str(path)) from None


def _leaves(data: Mapping[str, Any], prefix: KeyPath = ()) -> list[KeyPath]:
    out: list[KeyPath] = []
    for key, value in data.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping) and value:
            out.extend(_leaves(value, path))
        else:
            out.append(path)
    return out


def _merge(
    into: dict[str, Any], layer: Mapping[str, Any], label: str | Callable[[KeyPath], str], sources: dict[KeyPath, str]
) -> None:
    """Deep-merge ``layer`` into ``into``: tables merge key by key, any other value replaces."""
    name_of = label if callable(label) else (lambda _path: label)

    def walk(dst: dict[str, Any], src: Mapping[str, Any], prefix: KeyPath) -> None:
        for key, value in src.items():
            path = (*prefix, str(key))
            if isinstance(value, Mapping) and value and isinstance(dst.get(key), dict):
                walk(dst[key], value, path)
                continue
            dst[key] = _plain(value)
            for stale in [p for p in sources if p[: len(path)] == path]:
                del sources[stale]
            for leaf in _leaves({key: value}, prefix):
                sources[leaf] = name_of(leaf)

    walk(into, layer, ())


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _env_layers(environ: Mapping[str, str], dotenv: Path | None) -> tuple[dict[str, Any], dict[str, Any]]:
    fields = set(Config.model_fields)
    dot: dict[str, Any] = {}
    if dotenv is not None and dotenv.is_file():
        try:
            raw = DotEnvSettingsSource(_EnvSchema, env_file=dotenv)()
        except SettingsError as exc:
            from dotenv import dotenv_values

            raise _settings_error(exc, dict(dotenv_values(dotenv)), source=str(dotenv)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot be read ({exc}); fix or remove it", source=str(dotenv)) from None
        dot = {k: v for k, v in raw.items() if k in fields}
    # EnvSettingsSource reads os.environ; a different mapping is swapped in only for the call.
    try:
        if environ is os.environ:
            env = EnvSettingsSource(_EnvSchema)()
        else:
            saved = dict(os.environ)
            try:
                os.environ.clear()
                os.environ.update(environ)
                env = EnvSettingsSource(_EnvSchema)()
            finally:
                os.environ.clear()
                os.environ.update(saved)
    except SettingsError as exc:
        raise _settings_error(exc, environ, source=None) from None
    return dot, {k: v for k, v in env.items() if k in fields}


def _settings_error(exc: SettingsError, variables: Mapping[str, str | None], *, source: str | None) -> ConfigError:
    """Which ``MCPCONNECT_*`` variable pydantic-settings could not parse (a JSON value), and why."""
    import json

    bad: list[str] = []
    for name, value in variables.items():
        if not name.upper().startswith("MCPCONNECT_") or value is None:
            continue
        text = value.strip()
        if text[:1] in "[{" or name.upper().removeprefix("MCPCONNECT_").split("__")[0].lower() in _COMPLEX:
            try:
                json.loads(text)
            except ValueError as err:
                bad.append(f"{name} is not valid JSON ({err})")
    detail = "; ".join(bad) or str(exc)
    where = source or "environment"
    return ConfigError(
        f"{detail}: write a JSON object (or list), or set one key per variable such as "
        "MCPCONNECT_SERVERS__NAME__COMMAND",
        source=where if source else None,
        key=None if source else where,
    )


#: Fields that pydantic-settings reads as JSON from one variable.
_COMPLEX = {"storage", "providers", "servers"}


def _env_label(path: KeyPath) -> str:
    return "env MCPCONNECT_" + "__".join(p.upper() for p in path)


def split_key(dotted: str) -> list[str]:
    """The parts of a TOML dotted key (``servers."my.notes".enabled``), as TOML reads it.

    tomllib parses it (``KEY = 0``), so quoted parts may hold dots, spaces and escapes, exactly
    as in mcpconnect.toml. :raises ConfigError: when ``dotted`` is not one dotted key.
    """
    import tomllib

    bad = ConfigError(
        f"--set {dotted}: not a key path; write it as in mcpconnect.toml, quoting a part that is "
        'more than letters, digits, - and _: --set servers."my.notes".enabled=false'
    )
    if not dotted.strip() or "\n" in dotted or "\r" in dotted:
        raise bad
    try:
        node: Any = tomllib.loads(f"{dotted} = 0")
    except tomllib.TOMLDecodeError:
        raise bad from None
    parts: list[str] = []
    while isinstance(node, dict):
        if len(node) != 1:
            raise bad
        ((part, node),) = node.items()
        parts.append(part)
    if node != 0 or type(node) is not int:
        raise bad
    return parts


def set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c = value`` in nested dicts (``--set``); ``dotted`` is a TOML dotted key."""
    parts = split_key(dotted)
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {dotted}: {part} is not a table")
    node[parts[-1]] = value


def load_config(
    config_file: str | os.PathLike[str] | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user_file: Path | None = None,
    use_user_file: bool = True,
) -> LoadedConfig:
    """Load and validate the layered configuration.

    :param config_file: ``--config``; else ``MCPCONNECT_CONFIG``; else ``./mcpconnect.toml``.
    :param overrides: command-line values, nested (``{"storage": {"backend": "file"}}``).
    :raises ConfigError: naming the file, the key path and the problem.
    """
    env = os.environ if environ is None else environ
    here = cwd or Path.cwd()
    merged: dict[str, Any] = {}
    sources: dict[KeyPath, str] = {}
    loaded = LoadedConfig(Config())
    raw_layers: list[tuple[str, dict[str, Any]]] = []

    if use_user_file:
        upath = user_file or user_config_path()
        data = _read_toml(upath, required=False)
        if data is not None:
            raw_layers.append((str(upath), data))
            loaded.files.append(upath)

    ppath, explicit = project_config_path(config_file, env, here)
    if ppath is not None:
        data = _read_toml(ppath, required=explicit)
        if data is not None:
            raw_layers.append((str(ppath), data))
            loaded.files.append(ppath)
            loaded.project_file = ppath.resolve()

    for label, data in raw_layers:
        _merge(merged, data, label, sources)

    dot, envd = _env_layers(env, here / ".env")
    _merge(merged, dot, lambda p: f".env {_env_label(p)[4:]}", sources)
    _merge(merged, envd, _env_label, sources)
    if overrides:
        _merge(merged, overrides, "--set", sources)

    try:
        loaded.config = Config.model_validate(merged)
    except ValidationError as exc:
        raise _config_error(exc, sources, merged) from None
    loaded.sources = sources
    loaded.warnings.extend(_inline_secret_warnings(raw_layers))
    return loaded


def _config_error(exc: ValidationError, sources: dict[KeyPath, str], merged: Mapping[str, Any]) -> ConfigError:
    found = merged.get("servers")
    servers: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    problems: list[ConfigError] = []
    for err in exc.errors():
        loc = tuple(str(p) for p in err["loc"])
        key = ".".join(loc)
        source = None
        for n in range(len(loc), 0, -1):
            source = sources.get(loc[:n]) or next((s for p, s in sources.items() if p[:n] == loc[:n]), None)
            if source:
                break
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = f"unknown key '{loc[-1]}'; check its spelling against docs/configuration.md"
            dotted = [n for n in servers if "." in n and loc[:1] == ("servers",) and n.startswith(f"{loc[1]}.")]
            if dotted:  # `--set servers.a.b.enabled=...` for a server named "a.b"
                from mcpconnect._config.model import dotted_key

                message += f"; a server name with a dot is quoted: {dotted_key('servers', dotted[0], *loc[3:])}"
        elif err["type"] == "missing":
            message = f"'{loc[-1]}' is required"
        problems.append(ConfigError(message, source=source, key=key))
    first = problems[0]
    if len(problems) > 1:
        more = "; ".join(str(p) for p in problems[1:])
        return ConfigError(f"{first.problem} (also: {more})", source=first.source, key=first.key)
    return first


_SECRET_KEYS = {"client_secret", "token"}


def _inline_secret_warnings(layers: list[tuple[str, dict[str, Any]]]) -> list[str]:
    warnings: list[str] = []
    for label, data in layers:
        found = [
            ".".join(p)
            for p in _leaves(data)
            if p[-1] in _SECRET_KEYS or (len(p) >= 2 and p[-2] == "headers" and p[-1].lower() == "authorization")
        ]
        if not found or os.name != "posix":
            continue
        try:
            mode = stat.S_IMODE(Path(label).stat().st_mode)
        except OSError:  # pragma: no cover - it was just read
            continue
        if mode & 0o077:
            warnings.append(
                f"{label} holds a secret inline ({', '.join(found)}) and is readable by other users "
                f"(mode {mode:o}); run 'chmod 600 {label}', or move the secret to an environment "
                "variable (client_secret_env, token_env) or a file (client_secret_file, token_file)"
            )
    return warnings
