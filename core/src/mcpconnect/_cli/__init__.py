"""The ``mcpconnect`` command line.

Exit codes: 0 ok, 1 a check failed, 2 usage or configuration error. Subcommands are imported only
when invoked, so ``mcpconnect --version`` and ``--help`` stay cheap.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from mcpconnect import __version__
from mcpconnect._cli.app import App, LazyGroup

__all__ = ["cli", "main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

COMMANDS = {
    "init": "mcpconnect._cli.init_cmd:init",
    "plugins": "mcpconnect._cli.plugins_cmd:plugins",
    "config": "mcpconnect._cli.config_cmd:config",
    "tokens": "mcpconnect._cli.tokens_cmd:tokens",
    "login": "mcpconnect._cli.login_cmd:login",
    "logout": "mcpconnect._cli.login_cmd:logout",
    "whoami": "mcpconnect._cli.login_cmd:whoami",
    "check": "mcpconnect._cli.check_cmd:check",
    "tools": "mcpconnect._cli.tools_cmd:tools",
    "call": "mcpconnect._cli.call_cmd:call",
    "logs": "mcpconnect._cli.logs_cmd:logs",
    "serve": "mcpconnect._cli.serve_cmd:serve",
    "proxy": "mcpconnect._cli.serve_cmd:proxy",
    "install": "mcpconnect._cli.install_cmd:install",
    "ui": "mcpconnect._cli.ui_cmd:ui",
}


@click.group(cls=LazyGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="mcpconnect")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    envvar="MCPCONNECT_CONFIG",
    help="Project configuration file (default: ./mcpconnect.toml; env MCPCONNECT_CONFIG).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override one configuration value, e.g. --set storage.backend=file (highest precedence).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs (secrets stay redacted).")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, overrides: tuple[str, ...], debug: bool) -> None:
    """Connect to MCP servers (stdio, SSE, streamable HTTP) with their authentication handled."""
    ctx.obj = App(config_file=config_file, overrides=overrides, debug=debug)
    if debug:
        import logging

        from mcpconnect._logs import configure_logging

        configure_logging(logging.DEBUG)


EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""
    try:
        try:
            result = cli.main(args=argv, prog_name="mcpconnect", standalone_mode=False)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.exceptions.Abort as exc:
            if isinstance(exc.__context__, KeyboardInterrupt):
                raise KeyboardInterrupt from None
            click.echo("Aborted!", err=True)  # end of input at a prompt
            sys.exit(EXIT_FAILED)
        # standalone_mode=False returns what the command returned, or an exit code of ctx.exit().
        sys.exit(result if type(result) is int else EXIT_OK)
    except KeyboardInterrupt:
        # Ctrl-C: asyncio.run has cancelled the command's task, so every server it started has
        # been stopped on the way out. One line, no traceback, the shell's code for SIGINT.
        click.echo("\ninterrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        # A bug of ours or a plugin's: one line, the traceback only with --debug.
        if "--debug" in (argv if argv is not None else sys.argv):
            raise
        click.echo(
            f"error: unexpected {type(exc).__name__}: {exc} (run again with --debug for the traceback, and report it)",
            err=True,
        )
        sys.exit(1)
