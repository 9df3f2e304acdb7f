"""{description}: the ``{name}`` entry point of {dist}.

The entry module: what mcpconnect imports to load the plugin. It holds the plugin's hook
implementations, typed as the hookspecs are (``mcpconnect.hookspecs``), and imports only
mcpconnect and the standard library at run time; SDKs and drivers are imported inside the
functions that need them, so that ``mcpconnect --help`` does not pay for them.

Template: keep the lines and blocks of your plugin's kind (``# kind: KIND``, ``# >>> KIND``) and
delete the others; ``python scripts/template_check.py --new KIND NAME`` does it for you. The page
of each kind says what to write: docs/writing-providers.md, docs/writing-stores.md,
docs/writing-transports.md, docs/writing-observers.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcpconnect import hookimpl
from mcpconnect.auth import Endpoints, OAuthProvider  # kind: auth

if TYPE_CHECKING:
    import httpx  # kind: auth
    from mcp.client import Transport  # kind: transport

    from mcpconnect import (
        Operation,  # kind: observer
        ServerConfig,  # kind: transport
    )
    from mcpconnect.hookspecs import (
        RegisterAuthProvider,  # kind: auth
        RegisterTokenStore,  # kind: store
        RegisterTransport,  # kind: transport
    )
    from mcpconnect.storage import StorageBackend  # kind: store
    from mcpconnect.transport import TransportContext  # kind: transport

__all__ = ["NAME"]

#: The entry point's name in pyproject.toml: what users write in config and what is registered.
NAME = "{name}"
DESCRIPTION = "{description}"


# >>> auth
class Provider(OAuthProvider):
    """The ``{name}`` OAuth provider: ``type = "{name}"`` in ``[providers.NAME]``."""

    async def discover(self, http: httpx.AsyncClient) -> Endpoints:
        # Every URL derives from base_url, so that one setting points the plugin at a test replica.
        base = (self.config.base_url or "https://{name}.example").rstrip("/")
        return Endpoints(authorize=f"{base}/oauth/authorize", token=f"{base}/oauth/token")


@hookimpl
def register_auth_providers(register: RegisterAuthProvider) -> None:
    register(NAME, Provider, description=DESCRIPTION)


# <<< auth
# >>> store
def store_factory(**options: object) -> StorageBackend:
    """Build the backend from ``[storage]``'s options; it connects on first use, not here."""
    raise NotImplementedError(f"{NAME}: write the backend (docs/writing-stores.md); options: {sorted(options)}")


@hookimpl
def register_token_stores(register: RegisterTokenStore) -> None:
    register(NAME, store_factory, description=DESCRIPTION)


# <<< store
# >>> transport
def transport_factory(name: str, server: ServerConfig, context: TransportContext) -> Transport:
    """The MCP SDK's ``Transport`` for one connection attempt to the server ``name``."""
    raise NotImplementedError(f"server {name!r}: write the transport (docs/writing-transports.md)")


@hookimpl
def register_transports(register: RegisterTransport) -> None:
    register(NAME, transport_factory, requires="url", description=DESCRIPTION)


# <<< transport
# >>> observer
@hookimpl
def on_operation_finished(operation: Operation) -> None:
    """An operation (a tool call, a login, a refresh) finished; an exception raised here is logged."""


# <<< observer
