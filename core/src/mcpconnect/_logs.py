"""Logging set-up, with a last line of defence against secrets in log records.

Code never logs a secret on purpose. Still, every secret mcpconnect handles is registered with
:func:`register_secret`, and the :class:`RedactingFilter` on mcpconnect's handlers replaces any
registered value that slips into a record (a third-party library's debug line, say).
"""

from __future__ import annotations

import logging
import sys
import threading
import weakref
from typing import Any

__all__ = ["RedactingFilter", "configure_logging", "register_secret"]

_lock = threading.Lock()
_secrets: set[str] = set()
_MIN_SECRET = 8  # shorter strings are too likely to be ordinary words


def register_secret(value: str | None) -> None:
    """Never let ``value`` appear in a log record handled by mcpconnect's handlers."""
    if value and len(value) >= _MIN_SECRET:
        with _lock:
            _secrets.add(value)


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by ``[redacted]``."""
    with _lock:
        found = [s for s in _secrets if s in text]
    for secret in sorted(found, key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    return text


class RedactingFilter(logging.Filter):
    """Formats each record's message and scrubs registered secrets from it, and the secrets any
    text may show (a URL's password, ``?api_key=``, ``TOKEN=...``: :func:`~mcpconnect._redact.redact_text`),
    which libraries print in their debug lines (httpx's request line, the SDK's endpoint)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from mcpconnect._redact import redact_text

        message = redact_text(scrub(record.getMessage()))
        record.msg, record.args = message, None
        if record.exc_text:
            record.exc_text = redact_text(scrub(record.exc_text))
        return True


_configured: weakref.WeakSet[logging.Handler] = weakref.WeakSet()


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler on whatever ``sys.stderr`` is when a record comes, not when it was made (a
    caller that swaps stderr, as test runners do, never gets records on a closed stream)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(level: int = logging.WARNING) -> None:
    """Log mcpconnect (and httpx, mcp) records to stderr at ``level``, redacted. Called again, it
    replaces the handler it added before instead of adding a second one."""
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    for name in ("mcpconnect", "httpx", "mcp"):
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if h in _configured]:
            logger.removeHandler(old)
        logger.setLevel(level)
        logger.addHandler(handler)
    _configured.add(handler)
