"""``mcpconnect init``: a guided setup that writes ``mcpconnect.toml``.

It finds the MCP client configurations already on this machine and offers to import them, picks
a token store, adds OAuth providers and offers their logins. Every question has a flag; without a
terminal each unanswered question is an error naming its flag, unless ``--yes`` accepts the
defaults. An existing file is never replaced without asking (or ``--force``), and is kept as a
backup first.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from mcpconnect._cli.app import App, fail, handle_errors, warn
from mcpconnect._config.clients import CLIENTS

__all__ = ["init"]

DEFAULT_STORE = "sqlite"
#: Stores whose location is a URL the user must give (the others have good defaults).
_URL_STORES = {"redis": "redis://127.0.0.1:6379/0", "postgres": None}


class Questions:
    """Asks on a terminal; otherwise takes the default (``--yes``) or stops, naming the flag."""

    def __init__(self, interactive: bool, accept_defaults: bool) -> None:
        self.interactive = interactive
        self.accept_defaults = accept_defaults

    def _unanswered(self, question: str, flag: str) -> NoReturn:
        fail(
            f"init: '{question}' needs an answer and there is no terminal to ask on; pass {flag}, "
            "or --yes to accept the defaults",
            2,
        )

    def confirm(self, question: str, default: bool, flag: str) -> bool:
        if self.interactive:
            return click.confirm(question, default=default, err=True)
        if self.accept_defaults:
            return default
        self._unanswered(question, flag)

    def choose(self, question: str, choices: Sequence[str], default: str, flag: str) -> str:
        if self.interactive:
            answer: str = click.prompt(question, type=click.Choice(list(choices)), default=default, err=True)
            return answer
        if self.accept_defaults:
            return default
        self._unanswered(question, flag)

    def text(self, question: str, default: str | None, flag: str) -> str:
        if self.interactive:
            answer: str = click.prompt(question, default=default, err=True)
            return answer.strip()
        if self.accept_defaults and default is not None:
            return default
        self._unanswered(question, flag)


def _pairs(values: Sequence[str], option: str) -> dict[str, str]:
    """``NAME=VALUE`` options as a dict."""
    out: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.UsageError(f"{option} {item}: write NAME=VALUE")
        out[name.strip()] = value.strip()
    return out


def _nested(values: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``--provider-option NAME.KEY=VALUE`` options as ``{NAME: {KEY: VALUE}}``; the value is read
    as TOML (``['repo', 'read:org']``, ``true``), else taken as a string, as ``--set`` does."""
    from mcpconnect._cli.app import _parse_override

    out: dict[str, dict[str, Any]] = {}
    for item in values:
        if "=" not in item:
            raise click.UsageError(f"--provider-option {item}: write NAME.KEY=VALUE")
        dotted, value = _parse_override(item)
        name, sep, key = dotted.partition(".")
        if not sep or not key:
            raise click.UsageError(f"--provider-option {dotted}={value}: write NAME.KEY=VALUE")
        if key in ("type", "client_secret"):
            raise click.UsageError(
                f"--provider-option {dotted}: give the type with --provider, and the secret only through "
                "--client-secret-env (it is never written to the file)"
            )
        out.setdefault(name, {})[key] = value
    return out


def _home(path: Path) -> str:
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


def _backup(path: Path) -> Path:
    """Copy ``path`` to ``path.bak`` (or ``.bak.1``, ``.bak.2``...), private, before replacing it."""
    from mcpconnect._fsutil import atomic_write

    backup, n = path.with_name(path.name + ".bak"), 1
    while backup.exists():
        backup, n = path.with_name(f"{path.name}.bak.{n}"), n + 1
    atomic_write(backup, path.read_bytes(), mode=0o600)
    shutil.copystat(path, backup)
    backup.chmod(0o600)
    return backup


def _choose_imports(
    ask: Questions, do_import: bool | None, clients: tuple[str, ...], sources: tuple[Path, ...]
) -> tuple[dict[str, Any], list[str]]:
    """The servers to write, and the TODO lines that go with them (variables to export)."""
    from mcpconnect._config.clients import ClientConfig, find_client_configs
    from mcpconnect._config.importer import import_file

    chosen: list[ClientConfig] = []
    for source in sources:  # named on the command line: imported, and an error stops here
        entry = ClientConfig("file", source, str(source))
        entry.take(import_file(source, warnings=entry.warnings))
        chosen.append(entry)
    if do_import is False:
        return _imported(chosen)
    found = [] if sources and not clients else find_client_configs(clients=list(clients) or None)
    if not found and not sources:
        click.echo("No MCP client configuration found (Claude Desktop, Cursor, VS Code, Claude Code).", err=True)
    for entry in found:
        where = _home(entry.path)
        if entry.error:
            warn(f"{entry.label}: {where} cannot be imported: {entry.error}")
            continue
        names = ", ".join(sorted(entry.servers))
        question = f"Import {len(entry.servers)} server(s) from {entry.label}, {where} ({names})?"
        if ask.interactive and do_import is None:
            if ask.confirm(question, True, "--import or --no-import"):
                chosen.append(entry)
        elif do_import or ask.confirm(question, True, "--import or --no-import"):
            click.echo(f"importing {len(entry.servers)} server(s) from {entry.label}, {where} ({names})", err=True)
            chosen.append(entry)
    return _imported(chosen)


def _imported(chosen: list[Any]) -> tuple[dict[str, Any], list[str]]:
    """Merge what was chosen, saying what the importer and the merge had to say."""
    from mcpconnect._config.clients import merge_servers

    servers, notes = merge_servers(chosen)
    todos: list[str] = []
    for entry in chosen:
        for warning in entry.warnings:
            warn(warning)
        todos += [t for t in entry.todos if t not in todos]
    for note in notes:
        warn(note)
    return servers, todos


def _choose_store(ask: Questions, host: Any, store: str | None, store_url: str | None) -> dict[str, Any]:
    names = list(host.names("store")) or [DEFAULT_STORE]
    if store is None:
        # The memory store forgets every token at exit: a flag may ask for it, the menu does not offer it.
        offered = [n for n in names if n != "memory"] or names
        default = DEFAULT_STORE if DEFAULT_STORE in offered else offered[0]
        store = ask.choose("Token store", offered, default, "--store NAME")
    elif store not in names:
        raise click.UsageError(f"--store {store}: no such token store is installed (installed: {', '.join(names)})")
    table: dict[str, Any] = {"backend": store}
    if store in _URL_STORES:
        url = store_url or ask.text(f"{store} URL", _URL_STORES[store], "--store-url URL")
        if not url:
            fail(f"init: the {store} store needs a URL; pass --store-url", 2)
        table["url"] = url
    elif store_url:
        raise click.UsageError(f"--store-url is for the redis and postgres stores, not '{store}'")
    return table


def _provider_table(
    ask: Questions,
    name: str,
    ptype: str,
    client_ids: dict[str, str],
    secret_envs: dict[str, str],
    issuers: dict[str, str],
    options: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    table: dict[str, Any] = {"type": ptype}
    client_id = client_ids.get(name) or ask.text(f"{name}: client id", None, f"--client-id {name}=ID")
    table["client_id"] = client_id
    given = options.get(name, {})
    if ptype == "oidc":
        table["issuer"] = issuers.get(name) or ask.text(f"{name}: issuer URL", None, f"--issuer {name}=URL")
    elif ptype == "oauth2":  # no discovery: the endpoints must be given
        for key, what in (("authorize_url", "authorization endpoint"), ("token_url", "token endpoint")):
            table[key] = given.get(key) or ask.text(f"{name}: {what} URL", None, f"--provider-option {name}.{key}=URL")
    table.update(given)
    # The secret itself is never written to the file: only the variable that holds it.
    default_env = f"{name.upper().replace('-', '_')}_CLIENT_SECRET"
    if name in secret_envs:
        env = secret_envs[name]
    else:
        env = ask.text(
            f"{name}: environment variable holding the client secret (empty for none)",
            default_env,
            f"--client-secret-env {name}=VAR",
        )
    if env:
        table["client_secret_env"] = env
    return table


def _choose_providers(
    ask: Questions,
    host: Any,
    providers: tuple[str, ...],
    no_providers: bool,
    client_ids: dict[str, str],
    secret_envs: dict[str, str],
    issuers: dict[str, str],
    options: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    known = host.names("auth")
    tables: dict[str, Any] = {}
    for item in providers:
        name, _, ptype = item.partition("=")
        name, ptype = name.strip(), (ptype or name).strip()
        if ptype not in known:
            raise click.UsageError(
                f"--provider {item}: no provider type '{ptype}' is installed (installed: {', '.join(known)})"
            )
        tables[name] = _provider_table(ask, name, ptype, client_ids, secret_envs, issuers, options)
    if not providers and not no_providers:
        question = "Add an OAuth provider?"
        while ask.confirm(question, False, "--provider or --no-providers"):
            default = "github" if "github" in known else known[0]
            ptype = ask.choose("Provider type", known, default, "--provider NAME=TYPE")
            name = ask.text("Name for it in mcpconnect.toml", ptype if ptype not in tables else None, "--provider")
            tables[name] = _provider_table(ask, name, ptype, client_ids, secret_envs, issuers, options)
            question = "Add another provider?"
    return tables


def _run_login(config_file: Path, name: str) -> bool:
    """``mcpconnect --config FILE login NAME`` in this process; whether it succeeded."""
    from mcpconnect._cli.login_cmd import login

    try:
        login.main(
            args=[name], obj=App(config_file=str(config_file)), prog_name="mcpconnect login", standalone_mode=False
        )
    except SystemExit as exc:
        return exc.code in (0, None)
    except click.ClickException as exc:
        exc.show()
        return False
    except click.Abort:
        click.echo("login cancelled", err=True)
        return False
    return True


@click.command()
@click.option(
    "--import/--no-import", "do_import", default=None, help="Import every client configuration found (or none)."
)
@click.option(
    "--client",
    "clients",
    multiple=True,
    type=click.Choice(list(CLIENTS)),
    help="Look only for this client's configurations (repeatable).",
)
@click.option(
    "--from",
    "sources",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Import this client configuration file (repeatable).",
)
@click.option("--store", help="The token store (sqlite, file, keyring, redis, postgres...). Default: sqlite.")
@click.option("--store-url", help="The redis or postgres store's URL.")
@click.option("--provider", "providers", multiple=True, metavar="NAME[=TYPE]", help="Add this provider (repeatable).")
@click.option("--no-providers", is_flag=True, help="Add no provider.")
@click.option("--client-id", "client_ids", multiple=True, metavar="NAME=ID", help="A provider's client id.")
@click.option(
    "--client-secret-env", "secret_envs", multiple=True, metavar="NAME=VAR", help="The variable holding its secret."
)
@click.option("--issuer", "issuers", multiple=True, metavar="NAME=URL", help="An oidc provider's issuer URL.")
@click.option(
    "--provider-option",
    "provider_options",
    multiple=True,
    metavar="NAME.KEY=VALUE",
    help="Any other key of [providers.NAME], e.g. work.tenant=contoso (repeatable).",
)
@click.option("--login", "logins", multiple=True, metavar="NAME", help="Log in to this provider at the end.")
@click.option("--no-login", is_flag=True, help="Offer no login.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here (default: --config or ./mcpconnect.toml).",
)
@click.option("--force", is_flag=True, help="Replace an existing file without asking (a backup is still kept).")
@click.option("-y", "--yes", is_flag=True, help="Accept the default of every question no flag answers.")
@click.pass_obj
@handle_errors
def init(
    app: App,
    do_import: bool | None,
    clients: tuple[str, ...],
    sources: tuple[Path, ...],
    store: str | None,
    store_url: str | None,
    providers: tuple[str, ...],
    no_providers: bool,
    client_ids: tuple[str, ...],
    secret_envs: tuple[str, ...],
    issuers: tuple[str, ...],
    provider_options: tuple[str, ...],
    logins: tuple[str, ...],
    no_login: bool,
    output: Path | None,
    force: bool,
    yes: bool,
) -> None:
    """Set up mcpconnect.toml: import the servers of Claude Desktop, Cursor, VS Code and Claude Code,
    pick a token store, add OAuth providers, and log in.

    Asks on a terminal; every question has a flag, for scripts (with --yes for the rest).
    """
    from mcpconnect._config import Config
    from mcpconnect._config.importer import to_toml
    from mcpconnect._fsutil import atomic_write

    ask = Questions(interactive=sys.stdin.isatty() and not yes, accept_defaults=yes)
    target = output or Path(app.config_file or "mcpconnect.toml")
    # Asked first, so that nobody answers every question to learn the file is kept.
    replace = f"{target} exists. Replace it (the old one is kept as a backup)?"
    if target.exists() and not force and not ask.confirm(replace, False, "--force"):
        fail(f"{target} exists and was left as it is; pass --force to replace it (a backup is kept)", 2)
    host = app.host
    servers, todos = _choose_imports(ask, do_import, clients, sources)
    storage = _choose_store(ask, host, store, store_url)
    configured = _choose_providers(
        ask,
        host,
        providers,
        no_providers,
        _pairs(client_ids, "--client-id"),
        _pairs(secret_envs, "--client-secret-env"),
        _pairs(issuers, "--issuer"),
        _nested(provider_options),
    )
    unknown = [n for n in logins if n not in configured]
    if unknown:
        raise click.UsageError(
            f"--login {', '.join(unknown)}: not a provider added here (added: {', '.join(configured) or 'none'})"
        )

    data: dict[str, Any] = {"storage": storage}
    if configured:
        data["providers"] = configured
    data["servers"] = servers
    if todos:
        data["_todo"] = todos
    try:
        Config.model_validate({k: v for k, v in data.items() if k != "_todo"})
    except Exception as exc:  # our own answers, validated before anything is written
        fail(f"init: the answers make an invalid configuration ({exc}); nothing was written", 2)
    text = to_toml(data, header="# Written by 'mcpconnect init'. Reference: docs/configuration.md")
    if target.exists():
        backup = _backup(target)
        click.echo(f"kept the previous {target} as {backup}", err=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, text.encode(), mode=0o600)
    click.echo(
        f"wrote {target}: {len(servers)} server(s), storage '{storage['backend']}', {len(configured)} provider(s)",
        err=True,
    )

    to_log_in = list(logins)
    if not logins and not no_login:
        to_log_in = [n for n in configured if ask.confirm(f"Log in to {n} now?", True, f"--login {n} or --no-login")]
    failed = [name for name in to_log_in if not _run_login(target, name)]
    for name in failed:
        warn(f"the login to {name} did not complete; run 'mcpconnect login {name}' when ready")
    click.echo("next: 'mcpconnect check' connects to every server and reports which work", err=True)
    if failed:
        sys.exit(1)
