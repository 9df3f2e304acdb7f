"""What the stores on a server (Redis, PostgreSQL) share: URLs shown without their password."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = ["redact_url", "scrub_password"]


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***``: ``redis://app:***@db:6379/0``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def scrub_password(text: str, url: str) -> str:
    """``text`` (a driver's error message) with the password of ``url`` removed, if it is there."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return text
    return text.replace(password, "***") if password else text
