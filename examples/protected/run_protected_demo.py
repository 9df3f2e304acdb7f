"""The whole loop on loopback, offline: log in to a protected MCP server, check it, call a tool.

    python examples/protected/run_protected_demo.py

Starts the bundled authorization server and the MCP server it protects (protected_server.py),
then, in a temporary working folder (a fresh token store), runs with mcpconnect.toml:

1. ``mcpconnect login protected-notes``: discovery from the server's 401, dynamic client
   registration, authorization code + PKCE with the resource indicator, the demo user approving
   at once (``headless_login``);
2. ``mcpconnect check``: the server is operational with the stored token;
3. ``mcpconnect call protected-notes read_note``: a tool call on the protected server.

Exits with the first failing step's status (0 when all three succeed).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(ports: list[int], server: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    pending = list(ports)
    while pending and time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the demo servers exited with code {server.returncode}")
        try:
            socket.create_connection(("127.0.0.1", pending[0]), timeout=0.5).close()
            pending.pop(0)
        except OSError:
            time.sleep(0.1)
    if pending:
        sys.exit(f"the demo servers did not listen on 127.0.0.1:{pending[0]} within {timeout:g} s")


def mcpconnect(*args: str, env: dict[str, str], cwd: str) -> int:
    command = [sys.executable, "-c", "from mcpconnect._cli import main; main()", *args]
    print(f"\n$ mcpconnect {' '.join(args)}", flush=True)
    return subprocess.call(command, env=env, cwd=cwd)


def main() -> int:
    auth_port, mcp_port = free_port(), free_port()
    servers = subprocess.Popen(
        [sys.executable, str(HERE / "protected_server.py"), "--auth-port", str(auth_port), "--mcp-port", str(mcp_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening([auth_port, mcp_port], servers)
        print(f"authorization server on 127.0.0.1:{auth_port}, protected MCP server on 127.0.0.1:{mcp_port}")
        env = {
            **os.environ,
            "MCPCONNECT_CONFIG": str(HERE / "mcpconnect.toml"),
            "PROTECTED_MCP_PORT": str(mcp_port),
        }
        with tempfile.TemporaryDirectory(prefix="mcpconnect-demo-") as work:
            for step in (
                ("login", "protected-notes"),
                ("check",),
                ("call", "protected-notes", "read_note", "--args", '{"name": "welcome"}'),
            ):
                status = mcpconnect(*step, env=env, cwd=work)
                if status != 0:
                    print(f"\nthe demo stopped: 'mcpconnect {step[0]}' exited with {status}", file=sys.stderr)
                    return status
        print("\ndemo complete: logged in, checked, and called a tool on the protected server")
        return 0
    finally:
        servers.terminate()
        try:
            servers.wait(timeout=10)
        except subprocess.TimeoutExpired:
            servers.kill()
            servers.wait()


if __name__ == "__main__":
    sys.exit(main())
