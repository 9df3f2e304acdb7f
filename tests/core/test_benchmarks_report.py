"""``python -m benchmarks --only SECTION`` puts its sections into docs/benchmarks.md in place of
their old text and keeps every other section; a full run keeps the opt-in sections (``replicas``)
it did not measure."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/ is not installed

from benchmarks.__main__ import OPT_IN
from benchmarks.report import carry_over, render_markdown, splice_markdown

MACHINE = {"cpu": "test", "cores": 2, "memory_gib": 1, "os": "Linux", "implementation": "CPython", "python": "3"}
REPLICAS = {
    "clients": 2,
    "calls_per_client": 3,
    "cores": 2,
    "throughput": {
        "the upstream directly (SDK client, bearer token)": {"calls_per_s": 90.0, "rounds": [90.0]},
        "1 replica, SQLite, no HAProxy": {"calls_per_s": 40.0, "rounds": [40.0]},
        "2 replicas behind HAProxy, Redis": {"calls_per_s": 70.0, "rounds": [70.0]},
    },
    "ratios_vs_single_sqlite": {
        "the upstream directly (SDK client, bearer token)": 2.25,
        "1 replica, SQLite, no HAProxy": 1.0,
        "2 replicas behind HAProxy, Redis": 1.75,
    },
    "store_cost": {"redis": {"round_trips_per_call": 1.0, "call_ms": 30.0, "store_read_ms": 0.2}},
}


def result(sections: dict[str, Any], ratios: dict[str, float] | None = None) -> dict[str, Any]:
    return {"started": "2026-01-01T00:00:00Z", "machine": MACHINE, "sections": sections, "ratios": ratios or {}}


EXISTING = render_markdown(
    result(
        {"startup": {"note": "old startup"}, "gateway": {"note": "old gateway"}},
        {"serve_http_vs_direct_stdio": 6.0},
    )
)


def test_a_partial_run_replaces_its_section_and_keeps_the_others() -> None:
    fresh = result({"gateway": {"note": "new gateway"}}, {"serve_http_vs_direct_stdio": 1.2})
    page = splice_markdown(EXISTING, fresh)
    assert "old startup" in page
    assert "new gateway" in page and "old gateway" not in page
    assert page.count("## gateway") == 1
    assert "`python -m benchmarks --only gateway`, 2026-01-01T00:00:00Z" in page
    assert "| 1.2 | ≤ 1.5 | yes |" in page and "| 6.0 |" not in page  # its ratio row updated in place


def test_a_new_section_is_appended_and_rendered_by_its_module() -> None:
    page = splice_markdown(EXISTING, result({"replicas": REPLICAS}))
    assert page.index("## gateway") < page.index("## replicas")
    assert "| 2 replicas behind HAProxy, Redis | 70.0 | 1.75 | 70.0 |" in page
    assert "3 replicas on 2 cores cannot scale linearly" in page
    assert "old startup" in page and "old gateway" in page


def test_a_full_run_keeps_the_opt_in_sections_it_did_not_run() -> None:
    with_replicas = splice_markdown(EXISTING, result({"replicas": REPLICAS}))
    full = render_markdown(result({"startup": {"note": "new startup"}}))
    page = carry_over(with_replicas, full, OPT_IN)
    assert "new startup" in page and "old startup" not in page
    assert "| 2 replicas behind HAProxy, Redis | 70.0 | 1.75 | 70.0 |" in page
