"""Three ``mcpconnect serve`` replicas behind a real HAProxy (Debian's), on loopback.

HAProxy routes a request of an MCP session to the replica that answered its ``initialize``: the
response's ``Mcp-Session-Id`` is stored in a stick table, and a request bearing that header is
matched against it (docs/deploy.md). Each response says which replica served it
(``X-Served-By``), so that tests can see the balancing.

The benchmarks (``python -m benchmarks --only replicas``) start their replicas with this module too,
so it imports no pytest until a test asks for HAProxy (:func:`haproxy_binary`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from mcpconnect.testing._transport_contract import free_port

UPSTREAM = str(Path(__file__).parents[2] / "core" / "gateway" / "upstream_server.py")
MCPCONNECT = str(Path(sys.executable).with_name("mcpconnect"))


LOCAL = f'[servers.local]\ncommand = "{sys.executable}"\nargs = ["{UPSTREAM}"]'


def find_haproxy() -> str | None:
    """HAProxy's binary on PATH or where Debian installs it, or None."""
    return shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)


def haproxy_binary() -> str:
    """HAProxy for a test: missing, the test skips (fails when CI=true)."""
    import pytest

    found = find_haproxy()
    if found is None:
        message = "HAProxy is not installed (apt-get install haproxy)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI must install it (.ci/run)")
        pytest.skip(message)
    return found


def haproxy_config(front: int, backends: dict[str, int], *, sticky: bool) -> str:
    servers = "\n".join(
        f"  server {name} 127.0.0.1:{port} check inter 300ms fall 2 rise 2" for name, port in backends.items()
    )
    stick = (
        "  stick-table type string len 128 size 10k expire 30m\n"
        "  stick match req.hdr(mcp-session-id)\n"
        "  stick store-response res.hdr(mcp-session-id)\n"
        if sticky
        else ""
    )
    return f"""global
  maxconn 512

defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  retries 2
  option redispatch

frontend mcp
  bind 127.0.0.1:{front}
  default_backend gateways

backend gateways
  balance roundrobin
{stick}  option httpchk
  http-check send meth GET uri /healthz hdr Host 127.0.0.1:{front}
  http-response set-header X-Served-By %[srv_name]
{servers}
"""


def _listening(port: int) -> bool:
    with contextlib.closing(socket.socket()) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait(check: Callable[[], bool], what: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within  # only so that a hang fails
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not so after {within:g} s")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Cluster:
    """The balancer's URL, the replicas by name and how to start one again."""

    folder: Path
    front: int
    ports: dict[str, int]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    command: list[str] = field(default_factory=lambda: [MCPCONNECT])
    #: The replicas are an OAuth protected resource (``[gateway] authorization_server``).
    protected: bool = False

    @property
    def base(self) -> str:
        """The balancer's origin: the gateway's ``public_url``."""
        return f"http://127.0.0.1:{self.front}"

    @property
    def url(self) -> str:
        """The MCP endpoint behind the balancer (and the gateway's resource URI)."""
        return f"{self.base}/mcp"

    def start(self, name: str) -> None:
        config = self.folder / "mcpconnect.toml"
        log = open(self.folder / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.processes[name] = subprocess.Popen(
            [*self.command, "--config", str(config), "serve", "--transport", "http", "--port", str(self.ports[name])],
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        port = self.ports[name]
        _wait(lambda: self._ready(name, port), f"replica {name} on port {port}")

    def _ready(self, name: str, port: int) -> bool:
        process = self.processes[name]
        if process.poll() is not None:
            raise RuntimeError(f"replica {name} exited with {process.returncode}: see {self.folder}/{name}.log")
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
        except httpx.TransportError:
            return False
        return answer.status_code == 200

    def kill(self, name: str) -> None:
        """SIGKILL: the replica dies with its requests in flight."""
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        """SIGTERM to every replica still running (and its stdio servers), waited for."""
        for process in self.processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                _stop(process)

    def served_by(self, token: str | None = None) -> str:
        """Which replica answers a new session's initialize (as the bearer of ``token``, if given;
        a protected cluster's 401 to a request without one names its replica as well)."""
        answer = httpx.post(
            self.url,
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "probe", "version": "0"},
                },
            },
            headers={
                "accept": "application/json, text/event-stream",
                **({"authorization": f"Bearer {token}"} if token else {}),
            },
            timeout=10,
        )
        if not (self.protected and token is None and answer.status_code == 401):
            answer.raise_for_status()
        return answer.headers["x-served-by"]


@contextlib.contextmanager
def cluster(
    folder: Path,
    *,
    sticky: bool = True,
    replicas: int = 3,
    store: str = "",
    servers: str = "",
    binary: str | None = None,
    command: list[str] | None = None,
    authorization_server: str | None = None,
    sign_in_provider: str | None = None,
) -> Iterator[Cluster]:
    """``replicas`` serve processes behind HAProxy: a shared store given as TOML (``[storage]``,
    and ``[providers]`` if any), and ``servers`` as TOML (default: one stdio upstream each).
    ``binary`` is HAProxy's (default: :func:`haproxy_binary`); ``command`` starts a replica
    instead of the ``mcpconnect`` script (the same arguments follow it).

    With ``authorization_server`` (an issuer URL) the replicas are its protected resource: their
    ``public_url`` is the balancer's, so the resource URI (the ``aud`` of the tokens they take) is
    :attr:`Cluster.url`, and every token must carry the scope ``mcp:tools``. ``sign_in_provider`` names
    the provider a browser signs in with at ``/connect`` (needed by per-user upstreams)."""
    binary = binary or haproxy_binary()
    front = free_port()
    ports = {f"r{i + 1}": free_port() for i in range(replicas)}
    storage = store or '[storage]\nbackend = "memory"'
    protection = (
        f'public_url = "http://127.0.0.1:{front}"\n'
        f'authorization_server = "{authorization_server}"\n'
        'required_scopes = ["mcp:tools"]\n' + (f'sign_in_provider = "{sign_in_provider}"\n' if sign_in_provider else "")
        if authorization_server
        else ""
    )
    (folder / "mcpconnect.toml").write_text(
        f"""{storage}

[gateway]
# The name clients reach the replicas by: the balancer's address.
allowed_hosts = ["127.0.0.1:{front}"]
{protection}
{servers or LOCAL}
"""
    )
    group = Cluster(folder, front, ports, command=command or [MCPCONNECT], protected=authorization_server is not None)
    balancer: subprocess.Popen[bytes] | None = None
    try:
        for name in ports:
            group.start(name)
        config = folder / "haproxy.cfg"
        config.write_text(haproxy_config(front, ports, sticky=sticky))
        check = subprocess.run([binary, "-c", "-f", str(config)], capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
        balancer = subprocess.Popen(
            [binary, "-db", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        _wait(lambda: _listening(front), "HAProxy's frontend")
        # Every replica up in HAProxy's eyes: each one answers a new session in turn.
        _wait(lambda: {group.served_by() for _ in range(replicas * 2)} == set(ports), "every replica balanced")
        yield group
    finally:
        if balancer is not None:
            _stop(balancer)
            if balancer.stderr:
                balancer.stderr.close()
        group.stop()
