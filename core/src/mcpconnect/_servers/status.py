"""What a server connection is and shows: its state, the hub's connect options, a status snapshot."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcpconnect._servers.cache import DiscoveryCache

__all__ = ["ConnectOptions", "ServerState", "ServerStatus"]


class ServerState(StrEnum):
    """Where a server's connection stands."""

    STARTING = "starting"
    READY = "ready"
    RESTARTING = "restarting"
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass
class ConnectOptions:
    """How the hub connects: shared by every server."""

    health_interval: float | None = 30.0
    reconnect: bool = True
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    use_cache: bool = True
    cache: DiscoveryCache | None = None
    sampling_callback: Any = None
    elicitation_callback: Any = None
    logging_callback: Any = None
    list_roots_callback: Any = None
    message_handler: Any = None
    client_info: Any = None
    mode: str = "auto"
    on_state: Any = None  # called with each ServerStatus as it changes (live progress)
    on_notification: Any = None  # awaited with (server name, notification) for each server notification


@dataclass
class ServerStatus:
    """A snapshot of one server, as ``hub.servers[name]`` and ``mcpconnect check`` show it."""

    name: str
    transport: str
    state: ServerState
    protocol_version: str | None = None
    server_name: str | None = None
    server_version: str | None = None
    tools: int | None = None
    latency_ms: float | None = None
    error: str | None = None
    restarts: int = 0
    stderr_tail: list[str] = field(default_factory=list)
    #: The failure is the configuration's (a ``${VAR}`` not set, a store option refused): what
    #: to fix is in the file, and ``check`` exits 2 for it.
    config_error: bool = False

    @property
    def ok(self) -> bool:
        return self.state is ServerState.READY

    def summary(self) -> dict[str, Any]:
        """What ``mcpconnect check --json`` and the dashboard show of it."""
        return {
            "name": self.name,
            "transport": self.transport,
            "ok": self.ok,
            "protocol_version": self.protocol_version,
            "tools": self.tools,
            "latency_ms": self.latency_ms,
            "error": self.error,
        }
