"""Server lifecycle: one owner task per connection, state, health checks, reconnects, the cache."""

from mcpconnect._servers.connection import ConnectOptions, ServerConnection, ServerState, ServerStatus

__all__ = ["ConnectOptions", "ServerConnection", "ServerState", "ServerStatus"]
