"""``mcpconnect tokens``: the stored logins. Subcommands come from the modules listed below."""

from __future__ import annotations

import importlib

import click


@click.group()
def tokens() -> None:
    """Stored tokens: list, refresh, migrate between stores, rotate the encryption key."""


# Each module defines COMMANDS, a list of click commands to add here.
for _module in ("mcpconnect._cli.tokens_oauth", "mcpconnect._cli.tokens_storage"):
    try:
        _mod = importlib.import_module(_module)
    except ModuleNotFoundError as _exc:
        if _exc.name != _module:
            raise
        continue
    for _command in _mod.COMMANDS:
        tokens.add_command(_command)
