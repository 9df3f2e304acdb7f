"""Test support for mcpconnect and its plugins.

Installed as a pytest plugin (the ``pytest11`` entry point), so its fixtures are available in any
project that installs mcpconnect:

- ``mcpconnect_host``: an empty :class:`~mcpconnect.plugins.PluginHost` that sees no installed
  plugin; register the plugin under test with ``host.register_plugin(module, kind=...)``.
- ``mcpconnect_isolated``: points every platformdirs location and the ``MCPCONNECT_*`` switches
  at a temporary folder, so a test never reads or writes the user's real configuration or tokens.

Contract suites that plugins subclass live in :mod:`mcpconnect.testing.contracts`.
"""

from mcpconnect.auth.headless import deliver_callback, follow_authorization
from mcpconnect.testing.contracts import StorageBackendContract

__all__ = ["StorageBackendContract", "deliver_callback", "follow_authorization"]
