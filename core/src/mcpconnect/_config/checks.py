"""Checks that need the installed plugins or the file system: names, requirements, secrets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

from mcpconnect._config.model import ServerConfig, expand_vars, read_secret_file
from mcpconnect.errors import ConfigError, MCPConnectError, PluginError, PluginNotFoundError
from mcpconnect.storage._factory import open_backend
from mcpconnect.transport import TransportContext

if TYPE_CHECKING:
    from mcpconnect._config.loader import LoadedConfig
    from mcpconnect._plugins import PluginHost

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

    Plugins named by the configuration are loaded (only those) and their factories called as a
    connection would call them (the store backend, each provider, each server's transport,
    nothing started or connected), so a plugin that fails to import or to build is reported
    here, against the key that names it.
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

    def build_transport(transport: str, server: str, srv: ServerConfig) -> None:
        # Called as a connection calls it; nothing starts: the async context manager it returns
        # is never entered.
        try:
            context = TransportContext(name=server)
            host.build("transport", transport, server, srv, context, returns=AbstractAsyncContextManager)
        except MCPConnectError as exc:
            errors.append(_err(loaded, str(exc), "servers", server, "transport"))

    if plugin("store", cfg.storage.backend, "storage", "backend"):
        try:
            # builds it (a backend connects on first use), naming where a refused option was set
            backend = open_backend(cfg.storage, host, lambda option: loaded.source_of("storage", option))
            backend.check_available()  # a keyring store on a machine with no keychain
        except ConfigError as exc:
            errors.append(exc if exc.source else _err(loaded, exc.problem, "storage", "backend"))
        except MCPConnectError as exc:
            errors.append(_err(loaded, str(exc), "storage", "backend"))

    for name, prov in cfg.providers.items():
        if plugin("auth", prov.type, "providers", name, "type"):
            # httpx and the provider contract come with it; only a configuration with providers pays.
            from mcpconnect.auth._provider import OAuthProvider

            try:
                host.build("auth", prov.type, name, prov, returns=OAuthProvider)
            except MCPConnectError as exc:
                errors.append(_err(loaded, str(exc), "providers", name, "type"))
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
            installed = [t for t in AUTO_TRANSPORTS if t in host.names("transport")]
            for candidate in installed:
                if plugin("transport", candidate, "servers", name, "transport"):
                    build_transport(candidate, name, srv)
            if not installed:
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
                        f'the {transport} transport starts a process, it takes no url: set command = "..." instead',
                        "servers",
                        name,
                        "command",
                    )
                )
            elif needs == "url" and not srv.url:
                example = "https://..." if transport in AUTO_TRANSPORTS else "..."
                errors.append(
                    _err(
                        loaded,
                        f'the {transport} transport connects to a URL, it starts no process: set url = "{example}" '
                        "instead of command",
                        "servers",
                        name,
                        "url",
                    )
                )
            else:
                build_transport(transport, name, srv)
        if srv.url:
            # The plain-http rule needs only the file: a credential bound for http:// on another
            # machine is a configuration error, found here rather than at the first request.
            from mcpconnect._serverauth import require_secure_url

            try:
                require_secure_url(name, srv, expand_vars(srv.url, dict(env), where=f"servers.{name}.url"))
            except ConfigError as exc:  # already names servers.NAME.url: said once
                errors.append(_err(loaded, exc.problem, "servers", name, "url"))
            except MCPConnectError as exc:
                errors.append(_err(loaded, str(exc), "servers", name, "url"))
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
