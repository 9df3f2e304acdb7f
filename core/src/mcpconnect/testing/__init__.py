"""Test support for mcpconnect and its plugins.

Installed as a pytest plugin (the ``pytest11`` entry point), so its fixtures are available in any
project that installs mcpconnect:

- ``mcpconnect_host``: an empty :class:`~mcpconnect._plugins.PluginHost` that sees no installed
  plugin; register the plugin under test with ``host.register_plugin(module, kind=...)``.
- ``mcpconnect_isolated``: points every platformdirs location and the ``MCPCONNECT_*`` switches
  at a temporary folder, so a test never reads or writes the user's real configuration or tokens.

The contract suites a plugin's tests subclass, one per kind (see docs/plugins.md):
:class:`StorageBackendContract` (token stores), :class:`ProviderContract` (OAuth providers,
against a local replica of the provider) and :class:`TransportContract` (transports, against a
running MCP server), with the helpers their fixtures use.
"""

from mcpconnect.auth._headless import deliver_callback, follow_authorization
from mcpconnect.testing._contracts import StorageBackendContract
from mcpconnect.testing._provider_contract import ProviderContract
from mcpconnect.testing._transport_contract import TransportContract, free_port, http_server

__all__ = [
    "ProviderContract",
    "StorageBackendContract",
    "TransportContract",
    "deliver_callback",
    "follow_authorization",
    "free_port",
    "http_server",
]
