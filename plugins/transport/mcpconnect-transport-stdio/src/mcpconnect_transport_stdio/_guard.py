"""The guard between a client and its stdio server: no server outlives its client.

Run as ``python -I -S _guard.py WATCH_FD STOP_TIMEOUT COMMAND [ARGS...]`` by the stdio transport,
as the leader of a new process group. It starts COMMAND as its child (the child gets the pipes
of stdin, stdout and stderr; the guard keeps none of them open) and then waits for either:

- the server to exit: the guard exits with the same status, so the client sees the server's
  own exit code or signal;
- end of file on WATCH_FD, the read end of a pipe whose write end only the client holds. The
  kernel closes it however the client ends (exit, crash, SIGKILL), so this is the one signal
  that cannot be missed. The guard then sends SIGTERM to its whole process group (the server
  and every child it started that stayed in the group), waits STOP_TIMEOUT seconds, and sends
  SIGKILL to the group, itself included.

Why a process rather than ``PR_SET_PDEATHSIG`` alone: the parent-death signal reaches only the
direct child (not the server's own children), is Linux-only, and fires when the forking
*thread* ends, not the process. The pipe works on every POSIX system and covers the group.

It imports only the standard library and runs with ``-I -S`` (no site, no user environment
variables), so it starts in a few milliseconds and is unaffected by the server's ``PYTHON*``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

#: Signals Python sets to "ignore" for itself, which a server must get back at their defaults.
_RESET = ("SIGPIPE", "SIGXFZ", "SIGXFSZ", "SIGTERM")


def _exec_server(command: list[str], watch_fd: int) -> None:
    try:
        os.close(watch_fd)
        for name in _RESET:
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), signal.SIG_DFL)
        os.execv(command[0], command)  # noqa: S606 - the configured server, as the user wrote it
    except OSError as exc:
        os.write(2, f"mcpconnect: cannot start {command[0]}: {exc.strerror}\n".encode())
    os._exit(127)


def _exit_like(status: int) -> None:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        with contextlib.suppress(OSError, ValueError):  # SIGKILL, SIGSTOP cannot change, need not
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.waitstatus_to_exitcode(status) if not os.WIFSIGNALED(status) else 1)


def main(argv: list[str]) -> None:
    watch_fd, stop_timeout, command = int(argv[1]), float(argv[2]), argv[3:]
    # The client stops the server with SIGTERM to the group: the guard stays to report its exit.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    pid = os.fork()
    if pid == 0:
        _exec_server(command, watch_fd)
    # Hold none of the server's pipes: their end of file must mean the server closed them.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    exited = threading.Event()

    def watch() -> None:
        try:
            while os.read(watch_fd, 64):  # the client never writes; only end of file comes
                pass
        except OSError:
            pass
        if exited.is_set():
            return
        os.killpg(0, signal.SIGTERM)
        os.killpg(0, signal.SIGCONT)  # a stopped server handles SIGTERM only once resumed
        exited.wait(stop_timeout)
        os.killpg(0, signal.SIGKILL)  # what is left of the group, this guard included

    threading.Thread(target=watch, daemon=True).start()
    _, status = os.waitpid(pid, 0)
    exited.set()
    os.killpg(0, signal.SIGTERM)  # what the server started and left behind goes with it
    _exit_like(status)


if __name__ == "__main__":
    main(sys.argv)
