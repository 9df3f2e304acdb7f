"""What the stores on a server (Redis, PostgreSQL) share: URLs shown without their password."""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["redact_url", "scrub_password"]


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***``: ``redis://app:***@db:6379/0`` (and secret
    query parameters, as every log line and error message is)."""
    from mcpconnect._redact import redact_text

    return redact_text(url)


def scrub_password(text: str, url: str) -> str:
    """``text`` (a driver's error message) with the password of ``url`` removed, if it is there."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return text
    return text.replace(password, "***") if password else text
