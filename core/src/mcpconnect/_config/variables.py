"""``${VAR}`` references in configuration values: ``${VAR}``, ``${env:VAR}`` (VS Code's spelling)
and ``${VAR:-default}``, whose default may itself hold references (``${A:-${B:-x}}``).

Written by hand rather than with :mod:`string.Template` or ``os.path.expandvars``: neither knows
defaults, nested defaults or the ``env:`` prefix, and both leave an unset variable in place
silently, where a configuration needs an error naming it. Anything that is not a well-formed
reference (``$HOME``, ``${1}``, an unclosed ``${``) is kept literally.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from mcpconnect.errors import ConfigError

__all__ = ["Reference", "expand_vars", "references", "unset_vars"]

_NAME = re.compile(r"(?:env:)?([A-Za-z_][A-Za-z0-9_]*)")
#: Deeper nesting of defaults than this is refused (a configuration never needs it, and it bounds
#: the recursion on hostile input).
MAX_DEPTH = 16


@dataclass(frozen=True)
class Reference:
    """One ``${...}`` reference: ``value[start:end]``, its variable and its default (unexpanded)."""

    start: int
    end: int
    name: str
    default: str | None


def _reference_at(value: str, start: int) -> Reference | None:
    """The well-formed reference that begins at ``value[start:]`` (``"${"``), if any."""
    found = _NAME.match(value, start + 2)
    if found is None:
        return None
    after = found.end()
    if value.startswith("}", after):
        return Reference(start, after + 1, found.group(1), None)
    if not value.startswith(":-", after):
        return None
    depth, i = 1, after + 2
    while i < len(value):
        if value.startswith("${", i):
            depth += 1
            i += 2
            continue
        if value[i] == "}":
            depth -= 1
            if depth == 0:
                return Reference(start, i + 1, found.group(1), value[after + 2 : i])
        i += 1
    return None


def references(value: str) -> Iterator[Reference]:
    """The top-level references of ``value``, left to right."""
    i = 0
    while True:
        start = value.find("${", i)
        if start < 0:
            return
        ref = _reference_at(value, start)
        if ref is None:
            i = start + 2
            continue
        yield ref
        i = ref.end


def _expand(value: str, env: Mapping[str, str], where: str, depth: int) -> str:
    if depth > MAX_DEPTH:
        raise ConfigError(
            f"defaults are nested more than {MAX_DEPTH} deep (${{A:-${{B:-...}}}}); simplify the value",
            key=where or None,
        )
    out: list[str] = []
    last = 0
    for ref in references(value):
        out.append(value[last : ref.start])
        current = env.get(ref.name)
        if current is not None and (current != "" or ref.default is None):
            out.append(current)
        elif ref.default is not None:
            # A default is expanded only when it is used: ${A:-${B}} needs B only when A is unset.
            out.append(_expand(ref.default, env, where, depth + 1))
        else:
            raise ConfigError(
                f"${{{ref.name}}} is not set; export {ref.name}, or write ${{{ref.name}:-default}} to give a default",
                key=where or None,
            )
        last = ref.end
    out.append(value[last:])
    return "".join(out)


def expand_vars(value: str, environ: Mapping[str, str] | None = None, *, where: str = "") -> str:
    """Expand ``${VAR}``, ``${VAR:-default}`` (nested defaults too) and ``${env:VAR}`` in ``value``.

    ``${VAR:-default}`` uses the default when ``VAR`` is unset or empty. An unset variable
    without a default raises :class:`ConfigError` naming it and ``where``. The result is never
    expanded again: a variable's value that holds ``${X}`` stays as it is.
    """
    return _expand(value, os.environ if environ is None else environ, where, 0)


def unset_vars(value: str, environ: Mapping[str, str] | None = None) -> list[str]:
    """The variables ``value`` needs that are unset (those a used default needs included)."""
    env = os.environ if environ is None else environ
    missing: list[str] = []

    def walk(text: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            return
        for ref in references(text):
            current = env.get(ref.name)
            if current is not None and (current != "" or ref.default is None):
                continue
            if ref.default is not None:
                walk(ref.default, depth + 1)
            elif ref.name not in missing:
                missing.append(ref.name)

    walk(value, 0)
    return missing
