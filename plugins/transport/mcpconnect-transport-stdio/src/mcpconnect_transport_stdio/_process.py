"""The server process: spawn, pipe JSON-RPC lines both ways, collect stderr, stop it cleanly.

Written here rather than taken from ``mcp.client.stdio`` because mcpconnect needs what that one
does not expose: stderr captured into a bounded per-server log (the SDK wants a real file), a cap
on the size of one stdout line, the full environment passed through (``inherit_env``), and a
signal to the owner when the process exits on its own so that it can restart it.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio
import anyio.abc
import mcp_types as types
from mcp.client.stdio import get_default_environment
from mcp.shared.message import SessionMessage

from mcpconnect.errors import TransportError, redact_args, register_secret, secret_values
from mcpconnect.transport import ServerLog, TransportContext

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
#: The script that runs between this process and the server (see its docstring).
GUARD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_guard.py")
STOP_TIMEOUT = 2.0
_STDERR_LINE = 4096
_POLL = 0.02


def _environment(name: str, server: Any, context: TransportContext) -> dict[str, str]:
    base = dict(os.environ if context.environ is None else context.environ)
    env = base if server.inherit_env else get_default_environment()
    full = {**env, **server.resolved_env(name, base), **context.secret_env}
    # Servers echo their environment to stderr; what is secret in it never reaches the log.
    for value in [*secret_values(full), *context.secret_env.values()]:
        register_secret(value)
    return full


def _executable(name: str, command: str, env: dict[str, str], cwd: str | None) -> str:
    if os.sep in command:
        path = command if os.path.isabs(command) or cwd is None else os.path.join(cwd, command)
        if os.access(path, os.X_OK):
            return command
        raise TransportError(f"server '{name}': {command} does not exist or is not executable; fix command")
    found = shutil.which(command, path=env.get("PATH"))
    if found is None:
        raise TransportError(f"server '{name}': command '{command}' was not found on PATH; install it or fix command")
    return found


async def _wait_exit(process: anyio.abc.Process, within: float) -> bool:
    # Polls returncode: process.wait() also waits for pipe EOF, which a grandchild may hold open.
    with anyio.move_on_after(within):
        while process.returncode is None:  # noqa: ASYNC110 - no event tells us; the OS reaps it
            await anyio.sleep(_POLL)
    return process.returncode is not None


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _stop(process: anyio.abc.Process, pgid: int, stop_timeout: float, log: ServerLog | None) -> None:
    """Close stdin, then SIGTERM the process group, then SIGKILL it; reap the process."""
    if process.stdin is not None:
        with suppress(Exception):
            await process.stdin.aclose()
    if not await _wait_exit(process, stop_timeout):
        _signal_group(pgid, signal.SIGTERM)
        _signal_group(pgid, signal.SIGCONT)  # a stopped process handles SIGTERM only once resumed
        if not await _wait_exit(process, stop_timeout):
            _signal_group(pgid, signal.SIGKILL)
            await _wait_exit(process, stop_timeout)
    # Whatever the server left running in its group (a shell's children) goes with it.
    _signal_group(pgid, signal.SIGKILL)
    if log is not None:
        log.mark(f"stopped pid {process.pid} (exit code {process.returncode})")
    with anyio.move_on_after(stop_timeout):
        await process.aclose()


@asynccontextmanager
async def open_stdio(name: str, server: Any, context: TransportContext) -> AsyncIterator[Any]:
    options = server.options
    max_bytes = int(options.get("max_message_bytes", MAX_MESSAGE_BYTES))
    stop_timeout = float(options.get("stop_timeout", STOP_TIMEOUT))
    env = _environment(name, server, context)
    cwd = str(server.cwd) if server.cwd else None
    command = _executable(name, server.command, env, cwd)
    log = context.log
    argv = [command, *server.args]
    # The guard's pipe: only this process holds the write end, so the guard sees end of file
    # however this process ends, SIGKILL included, and takes the server's group down with it.
    # A frozen application's executable is no Python that takes "-I -S script".
    runs_python = bool(sys.executable) and not getattr(sys, "frozen", False)
    guarded = os.name == "posix" and runs_python and options.get("guard", True) is not False
    watch_r, watch_w = os.pipe() if guarded else (-1, -1)
    if guarded:
        argv = [sys.executable, "-I", "-S", GUARD, str(watch_r), str(stop_timeout), *argv]
    try:
        process = await anyio.open_process(
            argv, env=env, cwd=cwd, start_new_session=True, pass_fds=(watch_r,) if guarded else ()
        )
    except OSError as exc:
        if guarded:
            os.close(watch_w)
        raise TransportError(f"server '{name}': could not start {server.command}: {exc.strerror or exc}") from None
    finally:
        if guarded:
            os.close(watch_r)
    pgid = process.pid  # start_new_session: the process (the guard) leads its own group
    if log is not None:
        log.clear_tail()
        # The command line as it may be shown: a token in the arguments never reaches the log.
        log.mark(f"started pid {process.pid}: {' '.join(redact_args([server.command, *server.args]))}")

    read_writer, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_stream, write_reader = anyio.create_memory_object_stream[SessionMessage](0)
    stderr_done = anyio.Event()
    stdout_done = anyio.Event()
    stopping = False

    def lost(reason: str) -> None:
        if not stopping:
            context.on_lost(reason)

    async def read_stderr() -> None:
        assert process.stderr is not None
        buffer = b""
        try:
            async for chunk in process.stderr:
                lines = (buffer + chunk).split(b"\n")
                buffer = lines.pop()[-_STDERR_LINE:]
                for line in lines:
                    if log is not None:
                        log.write(line[:_STDERR_LINE].decode("utf-8", "replace"))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            pass
        finally:
            if buffer and log is not None:
                log.write(buffer.decode("utf-8", "replace"))
            stderr_done.set()

    async def read_stdout() -> None:
        assert process.stdout is not None
        buffer = bytearray()
        reason: str | None = None  # stays None when we are cancelled (shutdown, timeout)
        scanned = 0  # bytes of buffer known to hold no newline: a long line is scanned once
        try:
            async for chunk in process.stdout:
                buffer += chunk
                while (end := buffer.find(b"\n", scanned)) >= 0:
                    line = bytes(buffer[:end])
                    del buffer[: end + 1]
                    scanned = 0
                    if line.strip():
                        await _deliver(line)
                scanned = len(buffer)
                if len(buffer) > max_bytes:
                    reason = f"wrote a message longer than {max_bytes} bytes (options.max_message_bytes)"
                    return
            # EOF: give stderr and the exit status a moment, so the error can show both.
            reason = "closed its stdout"
            with anyio.move_on_after(1.0):
                await stderr_done.wait()
            if await _wait_exit(process, 1.0):
                reason = f"exited with code {process.returncode}"
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            return
        finally:
            # The reason first: closing the stream wakes the session, which then asks why.
            if reason is not None:
                lost(reason)
            read_writer.close()
            stdout_done.set()

    async def _deliver(line: bytes) -> None:
        try:
            message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
        except ValueError:
            # A stray print on stdout: record it where the user will look, and carry on.
            if log is not None:
                log.write(f"[mcpconnect] stdout line is not JSON-RPC, ignored: {line[:200]!r}")
            return
        await read_writer.send(SessionMessage(message))

    async def write_stdin() -> None:
        assert process.stdin is not None
        try:
            async with write_reader:
                async for message in write_reader:
                    data = message.message.model_dump_json(by_alias=True, exclude_unset=True) + "\n"
                    await process.stdin.send(data.encode("utf-8"))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            # Usually the process has exited: let the stdout reader say how, then end.
            with anyio.move_on_after(3.0):
                await stdout_done.wait()
            lost("stopped reading its stdin")
            read_writer.close()

    async with anyio.create_task_group() as tg:
        tg.start_soon(read_stderr)
        tg.start_soon(read_stdout)
        tg.start_soon(write_stdin)
        try:
            yield read_stream, write_stream
        finally:
            stopping = True
            with anyio.CancelScope(shield=True):
                await write_stream.aclose()
                await read_stream.aclose()
                await _stop(process, pgid, stop_timeout, log)
                if guarded:
                    os.close(watch_w)
            tg.cancel_scope.cancel()
