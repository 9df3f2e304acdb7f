"""Checks that need the installed plugins or the file system: names, requirements, secrets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from mcpconnect.config.model import expand_vars, read_secret_file
from mcpconnect.errors import ConfigError, PluginError, PluginNotFoundError

if TYPE_CHECKING:
    from mcpconnect.config.loader import LoadedConfig
    from mcpconnect.plugins import PluginHost

__all__ = ["check_config"]

#: ``transport = "auto"`` tries these, in this order.
AUTO_TRANSPORTS = ("streamable-http", "sse")


def _err(loaded: LoadedConfig, message: str, *key: str) -> ConfigError:
    return ConfigError(message, source=loaded.source_of(*key), key=".".join(key))


def check_config(
    loaded: LoadedConfig,
    host: PluginHost,
    *,
    secrets: bool = True,
    environ: Mapping[str, str] | None = None,
) -> tuple[list[ConfigError], list[str]]:
    """Every problem found, and warnings, without stopping at the first.

    Plugins named by the configuration are loaded (only those), so a plugin that fails to import
    is reported here, against the key that names it.
    """
    env = os.environ if environ is None else environ
    cfg = loaded.config
    errors: list[ConfigError] = []
    warnings: list[str] = list(loaded.warnings)

    def plugin(kind: str, name: str, *key: str) -> bool:
        try:
            host.load(kind, name)  # type: ignore[arg-type]
        except PluginNotFoundError as exc:
            errors.append(_err(loaded, str(exc), *key))
            return False
        except PluginError as exc:
            errors.append(_err(loaded, str(exc), *key))
            return False
        return True

    plugin("store", cfg.storage.backend, "storage", "backend")

    for name, prov in cfg.providers.items():
        plugin("auth", prov.type, "providers", name, "type")
        if secrets:
            try:
                prov.resolve_client_secret(name, dict(env))
            except ConfigError as exc:
                if prov.client_secret_env:
                    warnings.append(f"{loaded.source_of('providers', name)}: {exc.problem}")
                else:
                    errors.append(_err(loaded, exc.problem, "providers", name, "client_secret_file"))

    for name, srv in cfg.servers.items():
        transport = srv.transport_name
        if transport == "auto":
            if not any(t in host.names("transport") for t in AUTO_TRANSPORTS):
                errors.append(
                    _err(
                        loaded,
                        f"server '{name}' has a url, but neither the streamable-http nor the sse transport "
                        "is installed; pip install mcpconnect-transport-streamable-http",
                        "servers",
                        name,
                        "transport",
                    )
                )
        elif plugin("transport", transport, "servers", name, "transport"):
            needs = host.requirement("transport", transport)
            if needs == "command" and not srv.command:
                errors.append(
                    _err(
                        loaded,
                        f'the {transport} transport starts a process: set command = "..."',
                        "servers",
                        name,
                        "command",
                    )
                )
            if needs == "url" and not srv.url:
                errors.append(
                    _err(
                        loaded,
                        f'the {transport} transport connects to a URL: set url = "https://..."',
                        "servers",
                        name,
                        "url",
                    )
                )
        provider = srv.auth_provider
        if provider is not None and provider not in cfg.providers:
            known = ", ".join(sorted(cfg.providers)) or "none are configured"
            errors.append(
                _err(
                    loaded,
                    f"server '{name}' uses provider '{provider}', which is not configured ({known}); "
                    f"add a [providers.{provider}] table or fix the name",
                    "servers",
                    name,
                    "auth",
                )
            )
        if secrets and srv.token_file:
            try:
                read_secret_file(srv.token_file, f"servers.{name}.token_file")
            except ConfigError as exc:
                errors.append(_err(loaded, exc.problem, "servers", name, "token_file"))
        if secrets and srv.token_env and not env.get(srv.token_env) and srv.auth == "token":
            warnings.append(
                f"{loaded.source_of('servers', name)}: server '{name}' reads its token from "
                f"{srv.token_env}, which is not set; export {srv.token_env}"
            )
        if secrets:
            for key, value in (*srv.env.items(), *srv.headers.items()):
                table = "env" if key in srv.env else "headers"
                try:
                    expand_vars(value, dict(env))
                except ConfigError as exc:
                    warnings.append(
                        f"{loaded.source_of('servers', name, table, key)}: servers.{name}.{table}.{key}: {exc.problem}"
                    )
    return errors, warnings
