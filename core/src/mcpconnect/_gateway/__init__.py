"""The gateway: every configured server served as one MCP server (``mcpconnect serve``), or one
server bridged to stdio with its names unchanged (``mcpconnect proxy``).

::

    from mcpconnect import Runtime
    from mcpconnect.gateway import serve

    await serve(Runtime.build("mcpconnect.toml"), transport="stdio")
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio

from mcpconnect._gateway.names import URI_SCHEME, Namespace
from mcpconnect._gateway.server import PAGE_SIZE, Gateway
from mcpconnect.errors import ConfigError, MCPConnectError

if TYPE_CHECKING:
    from mcpconnect._hub import Hub
    from mcpconnect._runtime import Runtime

__all__ = ["PAGE_SIZE", "URI_SCHEME", "Gateway", "Namespace", "open_gateway", "select_servers", "serve"]

log = logging.getLogger("mcpconnect.gateway")


def select_servers(runtime: Runtime, names: Sequence[str] = ()) -> list[str]:
    """The servers to serve: ``names`` (each configured), else every enabled one."""
    configured = runtime.config.servers
    if not names:
        selected = [n for n, s in configured.items() if s.enabled]
        if not selected:
            raise ConfigError("no enabled server in the configuration; add a [servers.NAME] table")
        return selected
    unknown = [n for n in names if n not in configured]
    if unknown:
        known = ", ".join(configured) or "none"
        raise ConfigError(f"no server named {', '.join(unknown)} in the configuration (configured: {known})")
    return list(dict.fromkeys(names))


@asynccontextmanager
async def open_gateway(
    runtime: Runtime,
    servers: Sequence[str],
    *,
    prefix: bool = True,
    on_ready: Callable[[Hub], Awaitable[None]] | None = None,
    **connect_options: Any,
) -> AsyncIterator[Gateway]:
    """A :class:`Gateway` for ``servers``, its hub connecting in the background.

    The gateway answers as soon as this is entered; requests that need the upstreams wait until
    each has connected or failed. ``on_ready`` is awaited with the hub once they all have, before
    the gateway answers from it.
    """
    from mcpconnect._gateway.peruser import per_user_servers
    from mcpconnect._hub import connect

    gateway = Gateway(servers, prefix=prefix)
    # Per-user servers have no shared connection: each user's is made on their first call.
    per_user = set(per_user_servers(runtime.config, list(servers)))
    shared = [name for name in servers if name not in per_user]
    async with anyio.create_task_group() as tg:
        tg.start_soon(gateway.run, name="mcpconnect gateway events")

        async def hold_hub(*, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
            task_status.started()
            async with connect(
                runtime,
                servers=shared,
                on_state=gateway.on_state,
                on_notification=gateway.on_notification,
                sampling_callback=gateway.sampling,
                elicitation_callback=gateway.elicitation,
                list_roots_callback=gateway.list_roots,
                **connect_options,
            ) as hub:
                if on_ready is not None:
                    await on_ready(hub)
                gateway.attach(hub)
                await anyio.sleep_forever()

        tg.start_soon(hold_hub, name="mcpconnect gateway hub")
        try:
            yield gateway
        finally:
            tg.cancel_scope.cancel()


async def serve(
    runtime: Runtime,
    servers: Sequence[str] = (),
    *,
    transport: str = "stdio",
    host: str = "127.0.0.1",
    port: int = 8765,
    prefix: bool = True,
    announce: Callable[[str], None] | None = None,
    log_level: str = "warning",
) -> int:
    """Serve until the client goes away (stdio), or until SIGINT/SIGTERM; return the exit code.

    ``announce`` receives one line per event worth telling a person (where it listens, each
    server's state once settled); the CLI writes them to stderr.
    """
    names = select_servers(runtime, servers)
    if not prefix and len(names) != 1:
        raise ConfigError(
            f"--no-prefix serves one server's names unchanged, but {len(names)} servers are selected "
            f"({', '.join(names)}); name one: mcpconnect serve NAME --no-prefix"
        )
    from mcpconnect._gateway.peruser import check_per_user, per_user_servers

    check_per_user(runtime.config, names, transport)
    settings = None
    sock = None
    if transport == "http":
        from mcpconnect._gateway.http import HttpSettings, bind

        settings = HttpSettings(host, port, runtime.config.gateway)
        sock = bind(settings)
    elif transport != "stdio":
        raise ConfigError(f"--transport must be stdio or http, not {transport!r}")
    say = announce or (lambda line: None)
    # Before the hub starts, so that /metrics counts its connections too.
    metrics = await _metrics_renderer(runtime) if settings is not None else None

    async def settled(hub: Hub) -> None:
        for status in hub.servers.values():
            if status.ok:
                say(f"{status.name}: ready ({status.transport}, {status.tools} tools)")
            else:
                first = (status.error or "").splitlines()[0] if status.error else "no error given"
                say(f"{status.name}: {status.state.value}: {first}")
        for name in per_user_servers(runtime.config, names):
            say(f"{name}: per user (each user connects their own login at /connect/{name})")
        for line in await Gateway.unmatched_allow_patterns(hub):
            say(f"warning: {line}")

    exit_code = 0
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:

        async def watch_signals() -> None:
            nonlocal exit_code
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for signum in signals:
                    exit_code = 130 if signum == signal.SIGINT else 0
                    stop.set()
                    return

        tg.start_soon(watch_signals)
        async with open_gateway(runtime, names, prefix=prefix, on_ready=settled) as gateway:
            if settings is not None and sock is not None:
                from mcpconnect._gateway.http import build_app, serve_app

                dashboard = settings.url.removesuffix("/mcp") + "/ui"
                say(f"serving {len(names)} server(s) at {settings.url} (dashboard: {dashboard})")
                app = build_app(gateway, settings, runtime, metrics=metrics)
                await serve_app(app, sock, stop, log_level=log_level)
            else:
                say(f"serving {len(names)} server(s) over stdio")
                if sys.stdin.isatty():
                    say(
                        "stdin is a terminal: serve speaks MCP on stdin/stdout to the client that starts it "
                        "(see docs/serve.md for a client's configuration); Ctrl-C stops it"
                    )
                await _serve_stdio(gateway, stop)
        tg.cancel_scope.cancel()
    return exit_code


async def _metrics_renderer(runtime: Runtime) -> Callable[[str], tuple[bytes, str]] | None:
    """What renders ``/metrics`` (a plugin's answer to ``gateway_metrics``), its token gauges
    seeded with what the store holds; ``None`` when no plugin offers one."""
    host = runtime.host
    if not host.implements("gateway_metrics"):
        return None
    config = runtime.config
    # A configuration that logs in nowhere has no tokens: its store is left unopened, as before.
    logs_in = bool(config.providers) or any(
        s.auth == "mcp" or s.auth.startswith("provider:") for s in config.servers.values()
    )
    try:
        stored = [found.token for found in await runtime.store().list()] if logs_in else []
    except MCPConnectError as exc:
        log.warning("/metrics: the stored tokens cannot be read (%s); token gauges start empty", exc)
        stored = []
    return host.gateway_metrics(stored)


async def _serve_stdio(gateway: Gateway, stop: anyio.Event) -> None:
    from mcp.server.stdio import stdio_server

    async with anyio.create_task_group() as tg:

        async def until_stopped() -> None:
            await stop.wait()
            tg.cancel_scope.cancel()

        tg.start_soon(until_stopped)
        async with stdio_server() as (read_stream, write_stream):
            await gateway.server.run(read_stream, write_stream, gateway.initialization_options())
        # The client closed stdin: it has gone, and so do we.
        tg.cancel_scope.cancel()
