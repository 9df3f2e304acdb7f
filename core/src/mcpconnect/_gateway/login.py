"""An upstream that needs a login, seen from the gateway.

A person gets the exact command to run: ``mcpconnect login NAME`` (the server for MCP
authorization, its provider otherwise), with ``--device`` when the gateway runs over SSH (where a
browser on this machine is out of reach) and the provider offers the device flow. A client that
can open URLs (URL-mode elicitation, 2025-11-25) is asked to open the login page instead, while
the gateway runs the login the CLI runs (authorization code with PKCE, loopback listener) and
stores the token; the call is then retried.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from mcpconnect.errors import AuthError, MCPConnectError

if TYPE_CHECKING:
    from mcpconnect._config import ServerConfig
    from mcpconnect._runtime import Runtime

__all__ = ["LOGIN_WAIT", "LoginTarget", "Logins", "login_command", "login_target", "over_ssh"]

log = logging.getLogger("mcpconnect.gateway")

#: Seconds a person gets to finish a login the gateway asked its client to open.
LOGIN_WAIT = 300.0
_MARK = "mcpconnect login"

#: Asks the client to open a URL (its message, the URL, an id); True when the client accepted.
OpenUrl = Callable[[str, str, str], Awaitable[bool]]


@dataclass(frozen=True)
class LoginTarget:
    """What ``mcpconnect login`` takes for a server: the server itself (MCP authorization) or
    its provider."""

    name: str
    mcp: bool


def login_target(server: str, config: ServerConfig) -> LoginTarget | None:
    """The login behind ``server``, or ``None`` when no login can help it."""
    if config.auth == "mcp" and config.url:
        return LoginTarget(server, mcp=True)
    provider = config.auth_provider
    return LoginTarget(provider, mcp=False) if provider else None


def over_ssh(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process runs in an SSH session (a browser here is not the user's)."""
    env = os.environ if environ is None else environ
    return bool(env.get("SSH_CONNECTION") or env.get("SSH_TTY"))


def needs_login(message: str) -> bool:
    """Whether an upstream's error says a login would fix it (every such error names the command)."""
    return _MARK in message


async def login_command(runtime: Runtime, target: LoginTarget, environ: Mapping[str, str] | None = None) -> str:
    """The command a person runs to log in: ``--device`` over SSH when the provider offers it
    (MCP authorization has no device flow: the plain command, for a forwarded port or a browser)."""
    command = f"{_MARK} {target.name}"
    if target.mcp or not over_ssh(environ):
        return command
    return command + " --device" if await _offers_device_flow(runtime, target.name) else command


async def _offers_device_flow(runtime: Runtime, provider_name: str) -> bool:
    from mcpconnect.auth import token_manager

    manager = token_manager(runtime)
    try:
        provider = manager.provider(provider_name)
        async with manager.http(provider) as http:
            return bool((await provider.endpoints(http)).device)
    except (MCPConnectError, OSError) as exc:  # not discoverable now: no advice beyond the plain command
        log.debug("provider %s: device flow unknown: %s", provider_name, exc)
        return False


def with_command(message: str, target: LoginTarget, command: str) -> str:
    """``message`` with its login command made exact."""
    plain = f"'{_MARK} {target.name}'"
    if command == plain.strip("'") or plain not in message:
        return message if f"'{command}'" in message else f"{message}; run '{command}'"
    return message.replace(plain, f"'{command}'")


class Logins:
    """One login at a time per target (a second call waiting for it shares its outcome)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._locks: dict[str, anyio.Lock] = {}
        self._done: dict[str, int] = {}

    async def login(self, server: str, config: ServerConfig, target: LoginTarget, open_url: OpenUrl) -> None:
        """Ask the client (``open_url``) to open the login page and wait for the login.

        :raises AuthError: the client declined, or the login failed or timed out (its message says
            what to run instead).
        """
        lock = self._locks.setdefault(target.name, anyio.Lock())
        generation = self._done.get(target.name, 0)
        async with lock:
            if self._done.get(target.name, 0) != generation:
                return  # a login that another call was waiting for has just finished

            elicitation_id = uuid.uuid4().hex
            message = (
                f"Server '{server}' needs you to log in"
                + (f" to '{target.name}'" if not target.mcp else "")
                + ": open this page and approve; the call continues when you are done."
            )

            async def on_url(url: str) -> None:
                if not await open_url(message, url, elicitation_id):
                    raise AuthError(f"the login to '{target.name}' was declined")

            if target.mcp:
                from mcpconnect.auth._mcp import MCPAuthorizer

                authorizer = MCPAuthorizer(target.name, config, self.runtime, wait=LOGIN_WAIT)
                if not authorizer.settings.headless:  # a headless demo server approves by itself
                    authorizer.on_url = on_url
                await authorizer.login()
            else:
                from mcpconnect.auth import token_manager

                await token_manager(self.runtime).login(target.name, on_url=on_url, wait=LOGIN_WAIT)
            self._done[target.name] = generation + 1
