"""What may be shown of a value: the one place that decides which names and URLs hold secrets.

Used by ``config show``, the reprs of configuration objects, error messages and the stderr logs
of local servers. A value is secret when its key's name says so (``token``, ``password``,
``API_KEY``..., any case), and a URL's password and secret query parameters are secret wherever
the URL appears (``DATABASE_URL=postgres://app:pw@db/app``, ``https://x/?api_key=...``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "MASK",
    "header_arg_secret",
    "is_secret_flag",
    "is_secret_name",
    "redact_args",
    "redact_header",
    "redact_mapping",
    "redact_nested",
    "redact_text",
    "redact_value",
    "replace_url_password",
    "safe_url",
    "secret_values",
]

MASK = "***"

_SECRET_NAME = re.compile(
    r"token|secret|passw(or)?d|\bpwd\b|_pwd|pwd_|api[_-]?key|apikey|access[_-]?key|private[_-]?key|"
    r"authorization|(^|[_.-])auth($|[_.-])|cookie|credential|session[_-]?id|signature|\bsig\b|client[_-]?key|dsn",
    re.IGNORECASE,
)
#: Names that say where a secret is, or what kind it is, not what it is.
_PLACE_SUFFIXES = ("_env", "_file", "_type", "_url", "_header", "_path", "_keyring", "_hint", "_method")
#: The configuration's own keys whose values are modes or public URLs, not secrets (``auth = "token"``,
#: ``[gateway] authorization_server``, an issuer URL).
_NOT_SECRET = frozenset({"auth", "tokens", "token_to_env", "token_endpoint_auth", "authorization_server"})

# scheme://user:password@host -> scheme://user:***@host
# (a raw "@" in the password, as people write them, is part of it: the host follows the last one)
_URL_PASSWORD = re.compile(
    r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@]*:)(?P<pw>[^\s/?#]+?)(?=@[^\s@/?#]*(?:[/?#\s\"']|$))"
)
# ?api_key=... or &token=... (the value up to the next separator)
_QUERY_PARAM = re.compile(r"(?P<head>[?&;](?P<name>[^\s=&#;?]+)=)(?P<value>[^\s&#;]*)")
# API_KEY=..., --token=... (at a word start; the value up to white space or a quote)
_ASSIGNMENT = re.compile(
    r"(?P<head>(?<![\w?&;])-{0,2}(?P<name>[A-Za-z_][\w.-]*)=)(?P<value>\"[^\"]*\"|'[^']*'|[^\s\"'&]*)"
)
_ONLY_REFERENCES = re.compile(r"(\$\{[^}]*\})+")


def is_secret_name(name: str) -> bool:
    """Whether a key, variable, header or parameter called ``name`` holds a secret."""
    lower = name.lower()
    if lower in _NOT_SECRET or lower.endswith(_PLACE_SUFFIXES):
        return False
    return bool(_SECRET_NAME.search(lower))


def redact_text(text: str) -> str:
    """``text`` with URL passwords, secret query parameters and ``SECRET_NAME=value``
    assignments (``--token=...`` too) replaced by ``***``."""
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    if "=" in text:
        text = _QUERY_PARAM.sub(_masked, text)
        text = _ASSIGNMENT.sub(_masked, text)
    return text


def safe_url(url: object) -> str:
    """``url`` without its user info, query and fragment (any of them may carry a secret): what a
    message, a log line or a span may show of a URL.

    The host and port are kept as written, so an IPv6 host keeps its brackets
    (``http://[::1]:8080/mcp``); a URL that cannot be parsed shows as ``<unparseable URL>``.
    """
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return "<unparseable URL>"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _masked(match: re.Match[str]) -> str:
    value = match.group("value")
    secret = value and value != MASK and is_secret_name(match.group("name"))
    return match.group("head") + (MASK if secret else value)


def redact_value(key: str, value: Any) -> Any:
    """``value`` of the key ``key`` as it may be shown.

    A secret-named key shows ``***`` (a value made only of ``${VAR}`` references stays: it says
    where the secret comes from); any other string keeps its text minus URL secrets.
    """
    from pydantic import SecretStr

    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else ""
    if is_secret_name(key) and isinstance(value, str | int) and not isinstance(value, bool) and value != "":
        if isinstance(value, str) and _ONLY_REFERENCES.fullmatch(value):
            return value
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_header(value: Any) -> Any:
    """A header value as it may be shown: any header may carry a credential (``X-Custom-Auth``),
    so only one made of ``${VAR}`` references shows."""
    if isinstance(value, str) and (value == "" or _ONLY_REFERENCES.fullmatch(value)):
        return value
    return MASK


def redact_mapping(data: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` (``env``, ``headers``, ``options``), nested tables too, with every value
    as :func:`redact_value` shows it."""
    return {str(k): redact_nested(str(k), v) for k, v in data.items()}


# A header written as one argument, as mcp-remote and curl take them: "Authorization: Bearer X",
# "X-Api-Key:X", "--header=Authorization:Bearer X" (the value after the first colon).
_HEADER_ARG = re.compile(r"^(?P<head>(?:-{1,2}[\w-]+=)?(?P<name>[A-Za-z][A-Za-z0-9_-]*)\s*:\s*)(?P<value>\S.*)$", re.S)
_AUTH_SCHEME = re.compile(r"(?:Bearer|Basic|Token|Digest)\s+", re.IGNORECASE)


def header_arg_secret(arg: str) -> tuple[str, str, str] | None:
    """``(prefix, header name, secret)`` of an argument that is a secret-named header written out
    (``Authorization:Bearer X`` is ``("Authorization:Bearer ", "Authorization", "X")``), else
    ``None`` (a value made of ``${VAR}`` references is no secret written out)."""
    match = _HEADER_ARG.match(arg)
    if not match or match["value"].startswith("//") or not is_secret_name(match["name"]):
        return None
    value = match["value"].rstrip()
    scheme = _AUTH_SCHEME.match(value)
    secret = value[scheme.end() :] if scheme else value
    if not secret or _ONLY_REFERENCES.fullmatch(secret):
        return None
    return match["head"] + (scheme.group(0) if scheme else ""), match["name"], secret


def _redact_arg(arg: str) -> str:
    """One command-line argument as it may be shown: a secret-named header's value masked (the
    scheme kept: ``Authorization:Bearer ***``), URL passwords and ``--token=...`` as everywhere."""
    found = header_arg_secret(arg)
    if found is not None:
        return found[0] + MASK
    return redact_text(arg)


def redact_args(args: Sequence[object]) -> list[str]:
    """A command's arguments as they may be shown (a log line, ``config show``): the value after a
    secret-named flag (``--token VALUE``), ``--token=VALUE``, a secret header written as one
    argument (``Authorization: Bearer X``, mcp-remote's ``--header K:V``) and URL passwords masked."""
    shown = [_redact_arg(str(a)) for a in args]
    after = [None, *shown][: len(shown)]
    return [MASK if is_secret_flag(prev) and item != "" else item for prev, item in zip(after, shown, strict=True)]


def redact_nested(key: str, value: Any) -> Any:
    """:func:`redact_value` through tables and lists. In a list (a command's ``args``), the item
    after a secret-named flag is a secret too: ``["--token", "VALUE"]`` shows ``["--token", "***"]``."""
    if isinstance(value, Mapping):
        return redact_mapping(value)
    if isinstance(value, list | tuple):
        if all(isinstance(v, str) for v in value) and not is_secret_name(key):
            return redact_args(value)  # a command's args (or any list of strings)
        shown = [redact_nested(key, v) for v in value]
        after = [None, *shown][: len(shown)]
        return [MASK if is_secret_flag(prev) and item != "" else item for prev, item in zip(after, shown, strict=True)]
    return redact_value(key, value)


def replace_url_password(text: str, replacement: str) -> str:
    """``text`` with the password of each URL in it (``scheme://user:PASSWORD@host``) replaced."""
    return _URL_PASSWORD.sub(lambda m: m.group("head") + replacement, text)


def is_secret_flag(arg: object) -> bool:
    """``--token``, ``--api-key``, ``-password``: a flag whose value follows it."""
    return isinstance(arg, str) and arg.startswith("-") and "=" not in arg and is_secret_name(arg.lstrip("-"))


def secret_values(data: Mapping[str, str]) -> list[str]:
    """The values of ``data`` that must never be shown: those of secret-named keys, the
    credentials of an ``Authorization`` header, and URL passwords and secret query values."""
    found: list[str] = []
    for key, value in data.items():
        if not isinstance(value, str) or not value:
            continue
        if is_secret_name(key):
            found.append(value)
            scheme, _, credential = value.partition(" ")
            if credential and scheme.isalpha():
                found.append(credential)  # "Bearer abc": abc alone may show up too
        for match in _URL_PASSWORD.finditer(value):
            found.append(match.group("pw"))
        for match in _QUERY_PARAM.finditer(value):
            if match.group("value") and is_secret_name(match.group("name")):
                found.append(match.group("value"))
    return found
