"""``mcpconnect config``: show, validate and import configuration."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from mcpconnect._cli.app import App, console, fail, handle_errors, plain, print_json, warn


def _redact_value(path: tuple[str, ...], value: Any) -> Any:
    """Config values as they may be shown: secrets become ``***``; ``${VAR}`` references stay."""
    from mcpconnect._redact import redact_header, redact_nested

    if len(path) >= 2 and path[-2] == "headers":
        return redact_header(value)
    return redact_nested(path[-1] if path else "", value)


def _flatten(data: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    from pydantic import BaseModel

    if isinstance(data, BaseModel):
        items: dict[str, Any] = {k: getattr(data, k) for k in type(data).model_fields}
        items.update(data.model_extra or {})
        return [row for k, v in items.items() for row in _flatten(v, (*prefix, k))]
    if isinstance(data, dict) and data:
        return [row for k, v in data.items() for row in _flatten(v, (*prefix, str(k)))]
    return [(prefix, data)]


def _nest(rows: list[tuple[tuple[str, ...], Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, value in rows:
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


@click.group()
def config() -> None:
    """Show, validate and import configuration."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print the configuration and its sources as JSON.")
@click.pass_obj
@handle_errors
def show(app: App, as_json: bool) -> None:
    """The effective configuration, secrets redacted, and where each value came from."""
    from mcpconnect._config.model import dotted_key

    loaded = app.loaded
    rows = [(p, _jsonable(_redact_value(p, v))) for p, v in _flatten(loaded.config)]
    if as_json:
        print_json(
            {
                "config": _nest(rows),
                "sources": {dotted_key(*p): loaded.source_of(*p) for p, _ in rows},
                "files": [str(f) for f in loaded.files],
            }
        )
        return
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold")
    table.add_column("key")
    table.add_column("value", overflow="fold")
    table.add_column("source", style="dim", overflow="fold")
    for path, value in rows:
        shown = value if isinstance(value, str) else repr(value) if value is not None else "-"
        table.add_row(plain(dotted_key(*path)), plain(shown), plain(loaded.source_of(*path)))
    console().print(table)


@config.command("validate")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
@handle_errors
def validate(app: App, as_json: bool) -> None:
    """Check the configuration and every plugin and secret it names. Exit 2 on any error."""
    from mcpconnect._config import check_config

    loaded = app.loaded
    errors, warnings = check_config(loaded, app.host)
    cfg = loaded.config
    if as_json:
        print_json(
            {
                "ok": not errors,
                "files": [str(f) for f in loaded.files],
                "errors": [str(e) for e in errors],
                "warnings": [w for w in warnings if w not in loaded.warnings] + loaded.warnings,
                "servers": len(cfg.servers),
                "providers": len(cfg.providers),
                "storage": cfg.storage.backend,
            }
        )
    else:
        for w in warnings:
            if w not in loaded.warnings:
                warn(w)
        for e in errors:
            click.echo(f"error: {e}", err=True)
        if not errors:
            files = ", ".join(str(f) for f in loaded.files) or "no file (defaults and environment)"
            click.echo(
                f"ok: {len(cfg.servers)} servers, {len(cfg.providers)} providers, "
                f"storage '{cfg.storage.backend}' ({files})"
            )
    if errors:
        sys.exit(2)


@config.command("import")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the TOML here.")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@click.option(
    "--keep-secrets",
    is_flag=True,
    help="Copy secrets written as values in SOURCE (tokens, API keys) into the TOML; by default they "
    "become ${VAR} references to export.",
)
@click.pass_obj
@handle_errors
def import_(app: App, source: Path, output: Path | None, force: bool, keep_secrets: bool) -> None:
    """Convert SOURCE (Claude Desktop / Cursor / .mcp.json mcpServers, or VS Code servers) to TOML.

    Secrets written as values in SOURCE are not copied: each becomes a ${VAR} reference, named in
    a warning and a TODO line, to export before the server starts (or pass --keep-secrets).
    """
    from mcpconnect._config.importer import import_file, to_toml

    warnings: list[str] = []
    data = import_file(source, warnings=warnings, keep_secrets=keep_secrets)
    for warning in warnings:
        warn(warning)
    text = to_toml(data, header=f"# Imported from {source} by 'mcpconnect config import'.")
    if output is None:
        click.echo(text, nl=False)
        return
    if output.exists() and not force:
        fail(f"{output} exists; pass --force to overwrite it, or choose another --output")
    from mcpconnect._fsutil import atomic_write

    atomic_write(output, text.encode(), mode=0o600)
    count = len(data["servers"])
    written = ", ".join(data["servers"])
    click.echo(f"wrote {count} server{'' if count == 1 else 's'} to {output}: {written}", err=True)
