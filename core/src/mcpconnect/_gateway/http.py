"""``serve --transport http``: the gateway over streamable HTTP, safe by default.

* It binds 127.0.0.1 unless told otherwise. On a loopback address the SDK's DNS-rebinding
  protection is on: a ``Host`` that is not this address and port answers 421, a browser ``Origin``
  that is not a local page answers 403.
* Binding any other address needs client keys: ``[gateway] api_keys_env`` names a variable holding
  one or more keys (comma-separated), and each request must carry one as ``Authorization: Bearer``.
  Without keys ``serve`` refuses to start rather than expose every configured server.
* With ``[gateway] authorization_server`` the gateway is an OAuth protected resource instead
  (:mod:`mcpconnect._gateway.resource`): OAuth access tokens of that server, and the client keys too.
* ``GET /healthz`` answers ``{"status": "ok", "servers": N, "ready": M}`` for probes, with no names
  (``"starting"`` until every server has connected or failed once).
* ``GET /metrics`` answers the Prometheus text format when a plugin renders it (``mcpconnect-otel``
  with its ``prometheus`` extra: the :func:`~mcpconnect.hookspecs.gateway_metrics` hook), under
  the same ``Host`` rule and client keys as ``/mcp``; 404 saying what to install otherwise.
* ``/ui`` is the dashboard (:mod:`mcpconnect._gateway.dashboard`), under the same rules.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import re
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import anyio

from mcpconnect.errors import ConfigError

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from mcpconnect._config import GatewayConfig
    from mcpconnect._gateway.server import Gateway
    from mcpconnect._runtime import Runtime

__all__ = ["HttpSettings", "build_app", "is_loopback", "read_api_keys"]

MCP_PATH = "/mcp"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
#: What ``/metrics`` says when no plugin renders metrics.
NO_METRICS = (
    "no metrics here: /metrics needs the mcpconnect-otel plugin with its Prometheus exporter "
    "(pip install 'mcpconnect-otel[prometheus]'), then restart serve\n"
)
#: Seconds open client streams get to finish when the gateway stops.
GRACEFUL_SHUTDOWN = 3


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) reaches this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_api_keys(config: GatewayConfig, environ: os._Environ[str] | dict[str, str] | None = None) -> list[str]:
    """The client keys from the variable ``[gateway] api_keys_env`` names; none when unset."""
    if not config.api_keys_env:
        return []
    env = os.environ if environ is None else environ
    raw = env.get(config.api_keys_env, "")
    keys = [k for k in re.split(r"[,\s]+", raw) if k]
    if not keys:
        raise ConfigError(
            f"[gateway] api_keys_env names {config.api_keys_env}, which is not set or empty; "
            f"export {config.api_keys_env}=KEY (several keys: KEY1,KEY2)",
            key="gateway.api_keys_env",
        )
    short = [k for k in keys if len(k) < 16]
    if short:
        raise ConfigError(
            f"a client key in {config.api_keys_env} is shorter than 16 characters; use long random keys "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')",
            key="gateway.api_keys_env",
        )
    return keys


class HttpSettings:
    """Where the gateway listens and whom it admits."""

    def __init__(
        self, host: str, port: int, config: GatewayConfig, *, keys: list[str] | None = None, command: str = "serve"
    ) -> None:
        #: The command that listens, named in errors (``serve``, ``ui``).
        self.command = command
        self.host = host
        self.port = port
        self.config = config
        self.keys = read_api_keys(config) if keys is None else keys
        if not is_loopback(host) and not self.keys and not config.authorization_server:
            raise ConfigError(
                f"{command}: listening on {host} would let anyone who can reach it use every configured server; "
                'set [gateway] api_keys_env = "VAR" and export VAR=KEY (clients send Authorization: Bearer KEY), '
                "or [gateway] authorization_server and public_url (clients log in with OAuth), "
                "or listen on 127.0.0.1",
                key="gateway.api_keys_env",
            )
        if config.introspection is not None:
            from mcpconnect._gateway.resource import introspection_credentials

            introspection_credentials(config, os.environ)  # unset variables: exit 2 before listening

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{MCP_PATH}"

    def transport_security(self) -> Any:
        from mcp.server.transport_security import TransportSecuritySettings

        hosts = list(self.config.allowed_hosts)
        origins = list(self.config.allowed_origins)
        if is_loopback(self.host):
            hosts += [f"127.0.0.1:{self.port}", f"localhost:{self.port}", f"[::1]:{self.port}"]
            origins += ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
        elif not hosts:
            # Reached under names we cannot know (a proxy, a pod address); the keys guard it.
            return TransportSecuritySettings(enable_dns_rebinding_protection=False)
        else:
            hosts.append(f"{self.host}:{self.port}")
            if self.host in ("0.0.0.0", "::", ""):  # noqa: S104 (the address given, compared, not bound)
                # A check on the machine itself (a container's HEALTHCHECK) names a loopback
                # address; no page of another site can make a browser send that Host.
                hosts += [f"127.0.0.1:{self.port}", f"localhost:{self.port}", f"[::1]:{self.port}"]
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
        )


def build_app(
    gateway: Gateway,
    settings: HttpSettings,
    runtime: Runtime | None = None,
    *,
    metrics: Callable[[str], tuple[bytes, str]] | None = None,
) -> ASGIApp:
    """The ASGI application: the SDK's streamable HTTP app, ``/healthz``, ``/metrics`` (rendered by
    ``metrics``, see :func:`~mcpconnect.hookspecs.gateway_metrics`), the key check, and with
    ``runtime`` the dashboard at ``/ui`` (see :mod:`mcpconnect._gateway.dashboard`)."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route

    security = settings.transport_security()

    async def healthz(request: Request) -> JSONResponse:
        # The same Host rule as /mcp: a page of another site must not read even the counts.
        if security.enable_dns_rebinding_protection and not _host_allowed(
            request.headers.get("host", ""), security.allowed_hosts
        ):
            return JSONResponse({"error": "misdirected request: this Host is not served here"}, status_code=421)
        # "starting" until every server has connected or failed once; no names, for anyone to probe.
        # (A gateway of per-user servers only has no shared one: it is started once attached.)
        statuses = gateway.statuses()
        ready = sum(1 for s in statuses if s.ok)
        state = "ok" if gateway.started else "starting"
        # per_user: how many of the servers are each user's own (counted among the ready ones once
        # the gateway serves them: each user's connection is made on their call).
        users = getattr(gateway, "_users", None)
        per_user = len(users.statuses(gateway.names.servers)) if users is not None else 0
        body = {"status": state, "servers": len(gateway.names.servers), "ready": ready, "per_user": per_user}
        # 503 until started, so that a readiness probe holds traffic back until then.
        return JSONResponse(body, status_code=200 if gateway.started else 503)

    async def metrics_route(request: Request) -> Response:
        # As /healthz: the Host rule of /mcp (the key check is _RequireKey's, as for /mcp).
        if security.enable_dns_rebinding_protection and not _host_allowed(
            request.headers.get("host", ""), security.allowed_hosts
        ):
            return JSONResponse({"error": "misdirected request: this Host is not served here"}, status_code=421)
        if metrics is None:
            return PlainTextResponse(NO_METRICS, status_code=404)
        # Collection runs the gauges' callbacks: off the event loop.
        body, content_type = await anyio.to_thread.run_sync(metrics, request.headers.get("accept", ""))
        return Response(body, media_type=content_type)

    from mcpconnect._gateway.peruser import connect_routes

    connect, connect_paths = connect_routes(gateway)
    routes: list[Any] = [
        Route(HEALTH_PATH, healthz, methods=["GET"]),
        Route(METRICS_PATH, metrics_route, methods=["GET"]),
        *connect,
    ]
    open_paths: tuple[str, ...] = ()
    if runtime is not None:
        open_paths = _add_dashboard(routes, gateway, settings, runtime)
    app = gateway.server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        transport_security=security,
        host=settings.host,
        session_idle_timeout=settings.config.session_idle_timeout,
        custom_starlette_routes=routes,
    )
    if settings.config.authorization_server:
        from mcpconnect._gateway.resource import ResourceGuard

        return ResourceGuard(app, settings.config, keys=settings.keys, public_paths=(HEALTH_PATH, *connect_paths))
    if settings.keys:
        return _RequireKey(app, settings.keys, open_paths=open_paths)
    return app


def _add_dashboard(routes: list[Any], gateway: Gateway, settings: HttpSettings, runtime: Runtime) -> tuple[str, ...]:
    """Add the dashboard's routes; return the paths a browser loads without a key (the page's shell)."""
    from mcpconnect._gateway.dashboard import PUBLIC_PATHS, Dashboard, dashboard_routes

    def per_user() -> dict[str, int | None]:
        users = getattr(gateway, "_users", None)
        if users is None:
            return {}
        return {s.name: users.open_connections(s.name) for s in users.statuses(gateway.names.servers)}

    dashboard = Dashboard(runtime, gateway.statuses, list(gateway.names.servers), per_user=per_user)
    routes.extend(dashboard_routes(dashboard, settings))
    return PUBLIC_PATHS


def _host_allowed(host: str, allowed: list[str]) -> bool:
    """Whether a ``Host`` header is one of ``allowed`` (``name:*`` admits any port)."""
    for pattern in allowed:
        if pattern.endswith(":*"):
            if host.startswith(pattern[:-1]) and host[len(pattern) - 1 :].isdigit():
                return True
        elif host == pattern:
            return True
    return False


class _RequireKey:
    """Admit only requests bearing one of ``keys`` (``/healthz`` and ``open_paths`` excepted); 401 otherwise."""

    def __init__(self, app: ASGIApp, keys: list[str], *, open_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self._keys = [k.encode() for k in keys]
        self._open = {HEALTH_PATH, *open_paths}

    def _admitted(self, scope: Scope) -> bool:
        header = b""
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                header = value
                break
        scheme, _, token = header.partition(b" ")
        if scheme.lower() != b"bearer" or not token:
            return False
        # Every key compared, in constant time, so timing says nothing about which one is close.
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(key, token.strip())
        return matched

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self._open or self._admitted(scope):
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {"error": "unauthorized", "error_description": "send a client key as Authorization: Bearer KEY"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="mcpconnect"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


@contextmanager
def _no_signal_capture() -> Iterator[None]:
    yield


def bind(settings: HttpSettings) -> socket.socket:
    """The listening socket, or a clear error when the address cannot be had."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host.strip("[]"), settings.port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"{settings.command}: cannot listen on {settings.host}:{settings.port} ({exc.strerror or exc}); "
            "is another process using the port? Choose another with --port"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    settings.port = sock.getsockname()[1]  # --port 0: the one the system chose
    return sock


async def serve_app(app: ASGIApp, sock: socket.socket, stop: anyio.Event, *, log_level: str = "warning") -> None:
    """Serve ``app`` on ``sock`` with uvicorn until ``stop`` is set, then shut down gracefully."""
    import uvicorn

    class _Server(uvicorn.Server):
        # serve() would install its own SIGINT/SIGTERM handlers and re-raise the signal once it has
        # shut down, ending the process before the hub has stopped its servers: the caller owns them.
        def capture_signals(self) -> Any:
            return _no_signal_capture()

    config = uvicorn.Config(
        app, log_level=log_level, lifespan="on", access_log=False, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN
    )
    server = _Server(config)
    async with anyio.create_task_group() as tg:

        async def run() -> None:
            await server.serve(sockets=[sock])
            tg.cancel_scope.cancel()

        tg.start_soon(run)
        await stop.wait()
        server.should_exit = True
