"""Progress shown while work takes time: servers connecting (``check``), a login waiting on the user.

On a terminal these are rich live displays on stderr that disappear when done; otherwise
``check`` shows nothing extra and a login prints one line saying what it waits for, for how long.
"""

from __future__ import annotations

import sys
import time
from typing import Any

__all__ = ["Connecting", "Waiting", "duration", "live_allowed"]


def live_allowed() -> bool:
    """Live displays only when both stdout and stderr are terminals: ``check | tee`` or a CI log
    gets the result alone."""
    return sys.stdout.isatty() and sys.stderr.isatty()


def duration(seconds: float) -> str:
    """``45 s``, ``4 min 05 s``, ``2 h 10 min``."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


class Connecting:
    """A renderable of every server's state and how long it has been at it (``check``)."""

    def __init__(self, names: list[str]) -> None:
        now = time.monotonic()
        self.states: dict[str, str] = dict.fromkeys(names, "waiting")
        self.started: dict[str, float] = dict.fromkeys(names, now)
        self.took: dict[str, float] = {}

    def update(self, name: str, state: str) -> None:
        self.states[name] = state
        if state in ("ready", "failed"):
            self.took.setdefault(name, time.monotonic() - self.started.get(name, time.monotonic()))
        elif state in ("starting", "restarting"):
            self.took.pop(name, None)

    def __rich__(self) -> Any:
        from rich.spinner import Spinner
        from rich.table import Table

        table = Table.grid(padding=(0, 2))
        now = time.monotonic()
        for name, state in self.states.items():
            if state == "ready":
                mark: Any = "[green]✓[/]"
            elif state == "failed":
                mark = "[red]✗[/]"
            else:
                mark = Spinner("dots", style="yellow")
            elapsed = self.took.get(name, now - self.started[name])
            table.add_row(mark, name, state, f"[dim]{elapsed:.1f} s[/]")
        done = sum(1 for s in self.states.values() if s in ("ready", "failed"))
        table.add_row("", f"[dim]{done}/{len(self.states)} settled[/]", "", "")
        return table


class Waiting:
    """What a login waits for, and the time left: a countdown on a terminal, one line otherwise."""

    def __init__(self) -> None:
        self._live: Any = None

    def start(self, what: str, seconds: float) -> None:
        """Show that we wait ``seconds`` for ``what`` (e.g. "the login in the browser")."""
        self.stop()
        deadline = time.monotonic() + seconds
        if not sys.stderr.isatty():
            import click

            click.echo(f"Waiting for {what} (up to {duration(seconds)}; Ctrl-C to cancel)...", err=True)
            return
        from rich.console import Console
        from rich.live import Live
        from rich.spinner import Spinner

        class _Countdown:
            def __rich__(self) -> Any:
                left = deadline - time.monotonic()
                return Spinner("dots", text=f"Waiting for {what}: {duration(left)} left (Ctrl-C to cancel)")

        self._live = Live(_Countdown(), console=Console(stderr=True), transient=True, refresh_per_second=4)
        self._live.start()

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
