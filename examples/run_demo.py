"""The README's main job: the whole loop on loopback, offline, on the embedded defaults.

    python examples/run_demo.py [extra check options, e.g. --json]

1. starts the example server over streamable HTTP, and the bundled authorization server with the
   MCP server it protects, all on 127.0.0.1;
2. in a fresh temporary folder (a new sqlite token store), with examples/mcpconnect.toml:
   ``mcpconnect login protected-notes`` (discovery from the server's 401, dynamic registration,
   authorization code + PKCE, the demo user approving at once);
3. ``mcpconnect check``: every example server operational (stdio, streamable HTTP, protected);
4. ``mcpconnect call protected-notes read_note``: a tool call on the protected server.

The check's output goes to stdout (``--json`` makes it JSON); the other steps report on stderr.
Exits with the first failing step's status, 0 when all succeed.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "protected"))

from run_protected_demo import free_port, wait_listening  # noqa: E402  (a sibling script)


def mcpconnect(*args: str, env: dict[str, str], cwd: str, to_stderr: bool) -> int:
    command = [sys.executable, "-c", "from mcpconnect._cli import main; main()", *args]
    # Quoted as a shell needs it, so the line can be pasted.
    print(f"\n$ mcpconnect {shlex.join(args)}", file=sys.stderr, flush=True)
    return subprocess.call(command, env=env, cwd=cwd, stdout=sys.stderr if to_stderr else None)


def stop(*processes: subprocess.Popen[bytes]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> int:
    notes_port, auth_port, mcp_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "NOTES_PORT": str(notes_port),
        "PROTECTED_MCP_PORT": str(mcp_port),
    }
    env.pop("MCPCONNECT_CONFIG", None)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    notes = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "servers" / "notes_server.py"),
            "--transport",
            "streamable-http",
            "--port",
            str(notes_port),
        ],
        env=env,
        **quiet,
    )
    protected = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "protected" / "protected_server.py"),
            "--auth-port",
            str(auth_port),
            "--mcp-port",
            str(mcp_port),
        ],
        env=env,
        **quiet,
    )
    try:
        wait_listening([notes_port], notes)
        wait_listening([auth_port, mcp_port], protected)
        config = ("--config", str(HERE / "mcpconnect.toml"))
        steps = (
            (("login", "protected-notes"), True),
            (("check", *sys.argv[1:]), False),
            (("call", "protected-notes", "read_note", "--args", '{"name": "welcome"}'), True),
        )
        with tempfile.TemporaryDirectory(prefix="mcpconnect-demo-") as work:
            for args, to_stderr in steps:
                status = mcpconnect(*config, *args, env=env, cwd=work, to_stderr=to_stderr)
                if status != 0:
                    print(f"\nthe demo stopped: 'mcpconnect {args[0]}' exited with {status}", file=sys.stderr)
                    return status
        print("\ndemo complete: logged in, checked every server, called a tool on the protected one", file=sys.stderr)
        return 0
    finally:
        stop(notes, protected)


if __name__ == "__main__":
    sys.exit(main())
