"""``mcpconnect tokens migrate`` and ``tokens rekey``: move the stored logins to another store,
and rotate the key that encrypts them. Neither ever prints a token or a key."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import click

from mcpconnect._cli.app import App, _parse_override, handle_errors, print_json, warn
from mcpconnect.errors import StoreError

if TYPE_CHECKING:
    from mcpconnect._config.model import StorageConfig
    from mcpconnect.storage import TokenStore

__all__ = ["COMMANDS", "migrate_store"]


async def migrate_store(source: TokenStore, target: TokenStore, *, overwrite: bool = False) -> dict[str, int]:
    """Copy every token and client registration of ``source`` into ``target``, then read each
    back from ``target`` and compare. ``source`` is left as it was."""
    tokens, damaged = await source.scan()
    for found in damaged:
        warn(f"{found.message}; it is not copied")
    registrations = await source.list_registrations()
    wanted = {(s.token.provider, s.token.account): s.token.to_json() for s in tokens}
    clashes = [
        f"{s.token.provider}/{s.token.account}"
        for s in await target.list()
        if wanted.get((s.token.provider, s.token.account), s.token.to_json()) != s.token.to_json()
    ]
    clashes += [
        issuer for issuer, reg in (await target.list_registrations()).items() if registrations.get(issuer, reg) != reg
    ]
    if clashes and not overwrite:
        raise StoreError(
            f"{target.backend.describe()} already holds other values for {', '.join(sorted(clashes))}; "
            "nothing was copied: pass --overwrite to replace them"
        )
    for stored in tokens:
        await target.put(stored.token)
    for issuer, registration in registrations.items():
        await target.put_registration(issuer, registration)
    # Verify: every token and registration reads back from the target exactly as it was.
    for stored in tokens:
        copy = await target.get(stored.token.provider, stored.token.account)
        if copy is None or copy.token.to_json() != stored.token.to_json():
            raise StoreError(
                f"{target.backend.describe()}: the copy of {stored.token.provider}/{stored.token.account} "
                "did not read back the same; the source store is unchanged: fix the target and run again"
            )
    copied_regs = await target.list_registrations()
    for issuer, registration in registrations.items():
        if copied_regs.get(issuer) != registration:
            raise StoreError(
                f"{target.backend.describe()}: the copy of the client registration for {issuer} did not "
                "read back the same; the source store is unchanged: fix the target and run again"
            )
    return {"tokens": len(tokens), "registrations": len(registrations)}


def _target_config(backend: str, options: tuple[str, ...]) -> StorageConfig:
    from mcpconnect._config.model import StorageConfig

    data: dict[str, Any] = {"backend": backend}
    for item in options:
        key, value = _parse_override(item)
        data[key.removeprefix("storage.")] = value
    return StorageConfig.model_validate(data)


@click.command()
@click.option(
    "--to", "to_backend", required=True, metavar="BACKEND", help="The store to copy into (sqlite, redis, ...)."
)
@click.option(
    "-o",
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="An option of the target store, as in [storage]: -o url=redis://cache:6379/0 -o encryption=on.",
)
@click.option("--overwrite", is_flag=True, help="Replace tokens the target already holds with other values.")
@click.option("--json", "as_json", is_flag=True, help="Print what was copied as JSON.")
@click.pass_obj
@handle_errors
def migrate(app: App, to_backend: str, options: tuple[str, ...], overwrite: bool, as_json: bool) -> None:
    """Copy every token and client registration from the configured store into BACKEND.

    The copy is read back and compared before success is reported; the configured store is left
    as it was. Then point [storage] at the new store.
    """
    from mcpconnect.storage._factory import open_store

    source_config = app.loaded.config.storage
    target_config = _target_config(to_backend, options)
    loaded = app.loaded
    source = open_store(source_config, app.host, lambda option: loaded.source_of("storage", option))
    target = open_store(target_config, app.host, lambda _option: "tokens migrate -o")
    if source.backend.describe() == target.backend.describe():
        raise StoreError(f"{source.backend.describe()} is already the configured store; name another with --to")
    if source.cipher is not None and target.cipher is None:
        warn(f"{target.backend.describe()} does not encrypt at rest; add -o encryption=on to encrypt it")

    async def run() -> dict[str, int]:
        try:
            return await migrate_store(source, target, overwrite=overwrite)
        finally:
            await source.close()
            await target.close()

    counts = asyncio.run(run())
    summary = {
        "from": source.backend.describe(),
        "to": target.backend.describe(),
        "verified": True,
        **counts,
    }
    if as_json:
        print_json(summary)
        return
    if not counts["tokens"] and not counts["registrations"]:
        click.echo(
            f"Nothing to copy: {summary['from']} holds no token and no client registration, so "
            f"{summary['to']} was left as it was. Log in first (mcpconnect login NAME), or check that "
            "[storage] names the store your tokens are in (mcpconnect config show)."
        )
        return
    click.echo(
        f"Copied {counts['tokens']} token(s) and {counts['registrations']} client registration(s) "
        f"from {summary['from']} to {summary['to']}, and verified the copy.\n"
        f'The old store is unchanged. To use the new one, set [storage] backend = "{to_backend}"'
        + (" and its options" if options else "")
        + " in your configuration."
    )


@click.command()
@click.option(
    "--new-key-env",
    metavar="VAR",
    help="Where the key is in an environment variable: the variable holding the new key.",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
@click.pass_obj
@handle_errors
def rekey(app: App, new_key_env: str | None, as_json: bool) -> None:
    """Encrypt every stored token with a new key, and retire the old one.

    Safe to interrupt: the store stays readable and running rekey again resumes. Run it while no
    other mcpconnect process writes to the store.
    """
    from mcpconnect.storage._crypto import rotate_key
    from mcpconnect.storage._factory import encryption_options, open_backend

    storage = app.loaded.config.storage
    crypto = encryption_options(storage)
    backend = open_backend(storage, app.host)
    if not crypto.enabled_for(backend.encrypt_by_default):
        raise StoreError(
            f'{backend.describe()} is not encrypted ([storage] encryption = "{crypto.encryption}"); '
            'set encryption = "on" first, then run rekey to encrypt what it holds'
        )

    async def run() -> Any:
        try:
            return await rotate_key(backend, crypto, new_key_env=new_key_env)
        finally:
            await backend.close()

    report = asyncio.run(run())
    if as_json:
        print_json(
            {
                "store": backend.describe(),
                "old_key_id": report.old_key_id,
                "new_key_id": report.new_key_id,
                "records": report.records,
                "reencrypted": report.reencrypted,
                "key": report.source.describe(),
            }
        )
        return
    click.echo(
        f"Re-encrypted {report.reencrypted} of {report.records} record(s) in {backend.describe()} "
        f"with key {report.new_key_id} (was {report.old_key_id})."
    )
    if report.new_key_env:
        click.echo(
            f'Now set [storage] key_env = "{report.new_key_env}" (or move the new key into '
            f"{crypto.key_env}): the old key no longer opens this store."
        )
    else:
        click.echo(f"The new key is in the {report.source.describe()}; the old key is gone.")


COMMANDS = [migrate, rekey]
