"""What every command shares: the loaded configuration, the plugin host, output and errors."""

from __future__ import annotations

import functools
import importlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from mcpconnect.errors import MCPConnectError

if TYPE_CHECKING:
    from mcpconnect._config import LoadedConfig
    from mcpconnect._plugins import PluginHost

F = TypeVar("F", bound=Callable[..., Any])


class LazyGroup(click.Group):
    """A group whose subcommands are imported when first used."""

    def __init__(self, *args: Any, lazy_commands: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            module_name, attr = self.lazy_commands[cmd_name].split(":")
            command: click.Command = getattr(importlib.import_module(module_name), attr)
            return command
        return super().get_command(ctx, cmd_name)


def _parse_override(item: str) -> tuple[str, Any]:
    if "=" not in item:
        raise click.UsageError(f"--set {item}: write KEY=VALUE, e.g. --set storage.backend=file")
    import tomllib

    from mcpconnect._config.loader import split_key
    from mcpconnect.errors import ConfigError

    # The key ends at the first "=" that is not inside a quoted part (servers."a=b".enabled=x).
    key, raw = item.split("=", 1)
    for at in (i for i, c in enumerate(item) if c == "="):
        try:
            split_key(item[:at])
        except ConfigError:
            continue
        key, raw = item[:at], item[at + 1 :]
        break

    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare word is a string
    return key.strip(), value


@dataclass
class App:
    """Per-invocation state, created by the root command."""

    config_file: str | None = None
    overrides: tuple[str, ...] = ()
    debug: bool = False
    _loaded: LoadedConfig | None = field(default=None, repr=False)
    _host: PluginHost | None = field(default=None, repr=False)

    def override_dict(self) -> dict[str, Any]:
        from mcpconnect._config.loader import set_path

        data: dict[str, Any] = {}
        for item in self.overrides:
            key, value = _parse_override(item)
            set_path(data, key, value)
        return data

    @property
    def loaded(self) -> LoadedConfig:
        if self._loaded is None:
            from mcpconnect._config import load_config

            self._loaded = load_config(self.config_file, overrides=self.override_dict())
            for warning in self._loaded.warnings:
                warn(warning)
        return self._loaded

    @property
    def host(self) -> PluginHost:
        if self._host is None:
            from mcpconnect._plugins import PluginHost

            self._host = PluginHost.from_env()
        return self._host


def warn(message: str) -> None:
    """A warning line on stderr."""
    click.echo(f"warning: {message}", err=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """End the command with ``error: message`` on stderr and exit ``code``."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def handle_errors(func: F) -> F:
    """Turn mcpconnect's errors into one clear line and their exit code (traceback with --debug)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except MCPConnectError as exc:
            ctx = click.get_current_context(silent=True)
            app = ctx.find_object(App) if ctx else None
            if app is not None and app.debug:
                import traceback

                traceback.print_exc()
            fail(str(exc), exc.exit_code)

    return wrapper  # type: ignore[return-value]


def plain(text: str) -> Any:
    """A table cell from a server, a provider or the configuration, shown as it is: text such
    as ``[servers.x]`` or ``[bold]`` is not rich markup."""
    from rich.text import Text

    return Text(text)


def console(stderr: bool = False) -> Any:
    """A rich console (imported only by commands that draw tables).

    Not on a terminal (a pipe, a file, CI logs), nothing is folded to fit 80 columns: long
    errors stay one line each, for grep and for people reading logs.
    """
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 100_000
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=width)
