"""The library API: connect to every configured server at once and use them as one.

::

    import mcpconnect

    async with mcpconnect.connect("mcpconnect.toml") as hub:
        for name, status in hub.servers.items():
            print(name, status.state.value, status.error or "")
        for tool in await hub.list_tools():
            print(tool.qualified_name)           # "notes__add_note"
        result = await hub.call_tool("notes", "add_note", {"text": "hello"})

Tool names are namespaced as ``SERVER__TOOL`` (two underscores). When two servers' namespaced
names collide (possible only when names themselves contain ``__``), the server listed first in the
configuration keeps the name and the later tool is left out of :meth:`Hub.list_tools` with a
warning; it stays reachable as ``hub.call_tool(server, tool, ...)``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from mcpconnect._servers.connection import ConnectOptions, ServerConnection, ServerStatus
from mcpconnect.errors import ConfigError, TransportError

if TYPE_CHECKING:
    from mcp import Client
    from mcp_types import CallToolResult, GetPromptResult, ReadResourceResult, Tool

    from mcpconnect._config import Config, LoadedConfig
    from mcpconnect._plugins import PluginHost
    from mcpconnect._runtime import Runtime

__all__ = ["SEPARATOR", "Hub", "HubTool", "connect"]

log = logging.getLogger("mcpconnect.hub")
T = TypeVar("T")

#: Between a server's name and its tool's name in a namespaced tool name.
SEPARATOR = "__"


@dataclass(frozen=True)
class HubTool:
    """A tool of one server, with its namespaced name."""

    server: str
    name: str
    qualified_name: str
    tool: Tool

    @property
    def description(self) -> str | None:
        return self.tool.description


class Hub:
    """Connections to a set of servers, each owned by its own task (see :func:`connect`)."""

    def __init__(self, runtime: Runtime, connections: Mapping[str, ServerConnection]) -> None:
        self.runtime = runtime
        self._connections = dict(connections)

    @property
    def servers(self) -> dict[str, ServerStatus]:
        """A snapshot of every server's state, in configuration order."""
        return {name: conn.status() for name, conn in self._connections.items()}

    def connection(self, server: str) -> ServerConnection:
        try:
            return self._connections[server]
        except KeyError:
            known = ", ".join(self._connections) or "none"
            raise TransportError(f"no server named '{server}' is connected (servers: {known})") from None

    async def client(self, server: str) -> Client:
        """The SDK's :class:`mcp.Client` of ``server`` for anything this API does not cover."""
        return await self.connection(server).ready_client()

    async def list_tools(self, server: str | None = None, *, refresh: bool = False) -> list[HubTool]:
        """The tools of every ready server (or of ``server``), namespaced ``SERVER__TOOL``.

        Servers that are not ready are skipped (their state says why) unless named.
        """
        names = [server] if server is not None else list(self._connections)
        found: dict[str, HubTool] = {}
        for name in names:
            conn = self.connection(name)
            if server is None and conn.client is None:
                continue
            for tool in await conn.tools(refresh=refresh):
                qualified = f"{name}{SEPARATOR}{tool.name}"
                if qualified in found:
                    log.warning(
                        "tool %s of server %s collides with one of server %s; call it as call_tool(%r, %r, ...)",
                        tool.name,
                        name,
                        found[qualified].server,
                        name,
                        tool.name,
                    )
                    continue
                found[qualified] = HubTool(name, tool.name, qualified, tool)
        return list(found.values())

    def resolve(self, qualified_name: str) -> tuple[str, str]:
        """``("server", "tool")`` for ``"server__tool"``: the longest configured server name wins."""
        for name in sorted(self._connections, key=len, reverse=True):
            prefix = f"{name}{SEPARATOR}"
            if qualified_name.startswith(prefix) and len(qualified_name) > len(prefix):
                return name, qualified_name[len(prefix) :]
        raise TransportError(f"'{qualified_name}' names no tool of a connected server; write SERVER__TOOL")

    async def call_tool(
        self,
        server: str,
        tool: str,
        arguments: dict[str, Any] | None = None,
        *,
        progress_callback: Any = None,
        read_timeout: float | None = None,
    ) -> CallToolResult:
        """Call ``tool`` of ``server``. A tool's own failure comes back as ``result.is_error``;
        a failure to reach the server raises :class:`~mcpconnect.errors.TransportError`.
        ``read_timeout`` (seconds) defaults to the server's ``timeout``."""
        conn = self.connection(server)

        async def call(client: Client, meta: Any) -> CallToolResult:
            return await client.call_tool(
                tool,
                arguments or {},
                read_timeout_seconds=read_timeout if read_timeout is not None else conn.server.timeout,
                progress_callback=progress_callback,
                meta=meta,
            )

        return await self._request(conn, "tools/call", tool, call, arguments)

    async def read_resource(self, server: str, uri: str) -> ReadResourceResult:
        """Read resource ``uri`` of ``server``."""
        return await self._request(
            self.connection(server),
            "resources/read",
            uri,
            lambda c, meta: c.read_resource(uri, cache_mode="bypass", meta=meta),
        )

    async def get_prompt(self, server: str, prompt: str, arguments: dict[str, str] | None = None) -> GetPromptResult:
        """Get prompt ``prompt`` of ``server``."""
        return await self._request(
            self.connection(server),
            "prompts/get",
            prompt,
            lambda c, meta: c.get_prompt(prompt, arguments, meta=meta),
            arguments,
        )

    async def request(
        self,
        server: str,
        method: str,
        target: str | None,
        call: Callable[[Client, Any], Awaitable[T]],
        arguments: Mapping[str, Any] | None = None,
        *,
        failure: Callable[[T], BaseException | None] | None = None,
    ) -> T:
        """Any request to ``server`` as :meth:`call_tool` makes one: ``call(client, meta)`` with the
        ready client (waiting while it reconnects, retried once when its session ended), reported
        to observers as a ``request`` operation (``method``, ``target``: a tool's or prompt's name,
        a resource's URI, or ``None`` for a listing). ``meta`` is what observers put in
        ``params._meta`` (W3C ``traceparent``), ``None`` when nothing: pass it to the SDK's
        method. ``failure(result)`` names the error of a result that stands for one (the
        operation then ends as ``error``). Failures to reach the server raise
        :class:`~mcpconnect.errors.TransportError`."""
        return await self._request(self.connection(server), method, target, call, arguments, failure=failure)

    async def _request(
        self,
        conn: ServerConnection,
        method: str,
        target: str | None,
        call: Callable[[Client, Any], Awaitable[T]],
        arguments: Mapping[str, Any] | None = None,
        *,
        failure: Callable[[T], BaseException | None] | None = None,
    ) -> T:
        """``call(client, meta)`` through ``conn``, reported to observers as a request operation;
        ``meta`` is what they put in ``params._meta`` (``None`` when nothing)."""
        host = self.runtime.host
        op = host.start_operation(
            "request",
            server=conn.name,
            method=method,
            target=target,
            transport=conn.transport,
            protocol_version=conn.protocol_version,
            arguments=arguments,
        )
        meta = dict(op.meta) if op is not None and op.meta else None
        what = f"{method} '{target}'" if target is not None else method
        try:
            result = await conn.request(what, lambda client: call(client, meta))
        except BaseException as exc:
            host.finish_operation(op, exc)
            raise
        error = failure(result) if failure is not None and op is not None else None
        if error is not None:
            host.finish_operation(op, error, transport=conn.transport)
        elif op is not None:
            tool_error = getattr(result, "is_error", False) is True
            host.finish_operation(op, outcome="tool_error" if tool_error else None, transport=conn.transport)
        return result


@asynccontextmanager
async def connect(
    config: str | os.PathLike[str] | Config | LoadedConfig | dict[str, Any] | Runtime | None = None,
    *,
    servers: Iterable[str] | None = None,
    host: PluginHost | None = None,
    health_interval: float | None = 30.0,
    reconnect: bool = True,
    refresh: bool = False,
    cache: bool = True,
    sampling_callback: Any = None,
    elicitation_callback: Any = None,
    logging_callback: Any = None,
    list_roots_callback: Any = None,
    message_handler: Any = None,
    client_info: Any = None,
    on_state: Any = None,
    on_notification: Any = None,
    protocol: str = "auto",
) -> AsyncIterator[Hub]:
    """Connect to the configured servers (all enabled ones, or ``servers``) concurrently.

    Entering waits until each server has connected or failed (each within its own ``timeout``);
    a failed server never fails the others, and its ``hub.servers[name].error`` says why. The
    callbacks are the MCP SDK's (``mcp.client.session``) and are given to every server's session;
    progress is per call (``call_tool(..., progress_callback=...)``). ``refresh=True`` bypasses
    the discovery cache; ``cache=False`` turns it off. ``on_state`` is called with a
    :class:`ServerStatus` each time a server's state changes; ``on_notification`` is awaited with
    ``(server, notification)`` for each notification a server sends. ``protocol`` is the SDK's
    ``mode``: ``"auto"`` (2026-07-28 discovery, falling back to the initialize handshake),
    ``"legacy"`` (the initialize handshake only) or a modern version to adopt directly.
    """
    from mcpconnect._runtime import Runtime
    from mcpconnect._servers.cache import DiscoveryCache

    runtime = config if isinstance(config, Runtime) else Runtime.build(config, host=host)
    configured = runtime.config.servers
    if servers is None:
        names = [n for n, s in configured.items() if s.enabled]
    else:
        names = list(servers)
        unknown = [n for n in names if n not in configured]
        if unknown:
            known = ", ".join(configured) or "none"
            raise ConfigError(f"no server named {', '.join(unknown)} in the configuration (configured: {known})")
    options = ConnectOptions(
        health_interval=health_interval,
        reconnect=reconnect,
        use_cache=not refresh,
        cache=DiscoveryCache() if cache else None,
        sampling_callback=sampling_callback,
        elicitation_callback=elicitation_callback,
        logging_callback=logging_callback,
        list_roots_callback=list_roots_callback,
        message_handler=message_handler,
        client_info=client_info,
        on_state=on_state,
        on_notification=on_notification,
        mode=protocol,
    )
    connections = {n: ServerConnection(n, configured[n], runtime, options) for n in names}
    body_error: Exception | None = None
    try:
        async with anyio.create_task_group() as tg:
            for conn in connections.values():
                tg.start_soon(conn.run, name=f"mcpconnect server {conn.name}")
            for conn in connections.values():
                await conn.wait_settled()
            try:
                yield Hub(runtime, connections)
            except Exception as exc:
                # Raised below, outside the task group, so that the caller's own error reaches
                # it as itself and not wrapped in an ExceptionGroup.
                body_error = exc
            finally:
                for conn in connections.values():
                    conn.stop()
        if body_error is not None:
            raise body_error
    finally:
        if not isinstance(config, Runtime):
            await runtime.aclose()
