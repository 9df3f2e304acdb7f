"""Timing helpers: medians over repeated runs, and ratios taken within one run."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Sample:
    """Repeated timings of one thing, in seconds."""

    label: str
    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def quantile(self, q: float) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def as_dict(self) -> dict[str, Any]:
        return {
            "median_ms": round(self.median * 1000, 3),
            "p99_ms": round(self.quantile(0.99) * 1000, 3),
            "runs": len(self.seconds),
        }


def time_command(argv: Sequence[str], repeat: int, label: str, env: dict[str, str] | None = None) -> Sample:
    """Wall time of a whole command, ``repeat`` times (after one warm-up run)."""
    sample = Sample(label)
    run_env = {**os.environ, **(env or {})}
    subprocess.run(argv, capture_output=True, check=True, env=run_env)
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True, env=run_env)
        sample.seconds.append(time.perf_counter() - start)
    return sample


async def time_async(fn: Callable[[], Awaitable[Any]], repeat: int, label: str, warmup: int = 5) -> Sample:
    """Wall time of ``await fn()``, ``repeat`` times after ``warmup`` calls."""
    for _ in range(warmup):
        await fn()
    sample = Sample(label)
    for _ in range(repeat):
        start = time.perf_counter()
        await fn()
        sample.seconds.append(time.perf_counter() - start)
    return sample


def ratio(numerator: Sample, denominator: Sample) -> float:
    return round(numerator.median / denominator.median, 3)


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = None
    try:
        with open("/proc/meminfo") as fh:
            mem_gib = round(int(fh.readline().split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "os": f"{platform.system()} {platform.release()}",
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem_gib,
    }
