"""Turning what the SDK, anyio and httpx raise into one line a user can act on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcpconnect._config.model import table_name
from mcpconnect._redact import safe_url

if TYPE_CHECKING:
    from mcpconnect._config import ServerConfig

__all__ = ["auth_advice", "describe", "leaf_errors"]


def leaf_errors(exc: BaseException) -> list[BaseException]:
    """The leaves of an exception group (the exception itself when it is not a group)."""
    if isinstance(exc, BaseExceptionGroup):
        found: list[BaseException] = []
        for inner in exc.exceptions:
            found.extend(leaf_errors(inner))
        return found
    return [exc]


def _root(exc: BaseException) -> BaseException:
    leaves = [e for e in leaf_errors(exc) if not _is_cancel(e)] or leaf_errors(exc)
    return leaves[0]


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _is_cancel(exc: BaseException) -> bool:
    import anyio

    return isinstance(exc, anyio.get_cancelled_exc_class())


def describe(exc: BaseException) -> str:
    """A short description of why a connection or request failed."""
    from mcpconnect.errors import MCPConnectError

    err = _root(exc)
    if isinstance(err, MCPConnectError):
        return str(err)
    name = type(err).__name__
    text = str(err).strip()
    module = type(err).__module__.split(".")[0]
    if module in {"httpx", "httpx2"}:
        lower = text.lower()
        if name == "ConnectError":
            if _caused_by(err, ConnectionRefusedError) or "refused" in lower:
                return "connection refused (is the server running, and is the URL right?)"
            if "name or service not known" in lower or "nodename nor servname" in lower or "resolution" in lower:
                return f"the host name cannot be resolved ({text})"
            if "refused" in lower:
                return "connection refused (is the server running, and is the URL right?)"
            return f"cannot connect: {text or name}"
        if name == "HTTPStatusError":
            response = getattr(err, "response", None)
            if response is not None:
                return f"HTTP {response.status_code} {response.reason_phrase} from {safe_url(response.request.url)}"
        if "Timeout" in name:
            return f"timed out talking to the server ({name})"
        return f"{name}: {text}" if text else name
    if name == "MCPError":
        return f"the server answered with an error: {text}"
    if isinstance(err, TimeoutError):
        return "timed out"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return f"{name}: {text}" if text else name


def auth_advice(name: str, server: ServerConfig, status: int) -> str:
    """The error for server ``name`` refusing our credentials with HTTP ``status``, naming the key to fix."""
    key = table_name("servers", name)
    if status == 401:
        what = "authentication failed: the server refused the request (HTTP 401)"
    else:
        what = "authentication failed: the server refused access (HTTP 403: the credentials lack permission)"
    header = next((h for h in server.headers if h.lower() in ("authorization", "x-api-key", "api-key", "cookie")), None)
    if server.auth == "token":
        if server.token_env:
            fix = f"check the token in ${server.token_env} (token_env of {key})"
        elif server.token_file:
            fix = f"check the token in {server.token_file} (token_file of {key})"
        else:
            fix = f"check token in {key}"
        if status == 403:
            fix += "; it must be allowed to use this server"
    elif server.auth_provider:
        provider = server.auth_provider
        fix = f"the token of provider '{provider}' was refused; run 'mcpconnect login {provider}'"
        if status == 403:
            fix += " with the scopes this server needs (scopes in [providers." + provider + "])"
    elif server.auth == "mcp":
        fix = f"run 'mcpconnect login {name}'"
    elif header is not None:
        fix = f"check headers.{header} in {key}"
    else:
        fix = (
            f'the server needs credentials: set auth = "token" and token_env = "VAR" in {key}, or '
            'auth = "mcp" if it supports MCP authorization'
        )
    return f"{what}; {fix}"
