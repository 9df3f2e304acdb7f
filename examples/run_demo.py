"""Start the example server over streamable HTTP on 127.0.0.1, then run `mcpconnect check`.

    python examples/run_demo.py [extra check options, e.g. --json]

Exits with `mcpconnect check`'s status (0 when both example servers are operational).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, server: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the example HTTP server exited with code {server.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"the example HTTP server did not listen on 127.0.0.1:{port} within {timeout:g} s")


def main() -> int:
    port = free_port()
    env = {**os.environ, "PYTHON": sys.executable, "NOTES_PORT": str(port)}
    server = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "servers" / "notes_server.py"),
            "--transport",
            "streamable-http",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(port, server)
        check = [
            sys.executable,
            "-c",
            "from mcpconnect.cli import main; main()",
            "--config",
            str(HERE / "mcpconnect.toml"),
            "check",
            *sys.argv[1:],
        ]
        return subprocess.call(check, env=env)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


if __name__ == "__main__":
    sys.exit(main())
