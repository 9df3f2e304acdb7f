"""``python -m benchmarks``: run every comparison, write the JSON result, regenerate docs/benchmarks.md."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.report import carry_over, render_markdown, splice_markdown
from benchmarks.timing import machine

ROOT = Path(__file__).resolve().parents[1]

#: Section name -> module with ``run(quick: bool) -> dict``; each section measures peers side by side.
SECTIONS = {
    "startup": "benchmarks.startup",
    "calls": "benchmarks.calls",
    "connect": "benchmarks.connect",
    "tokens": "benchmarks.tokens",
    "gateway": "benchmarks.gateway",
    "replicas": "benchmarks.replicas",
}
#: Sections run only when named with ``--only``: they need services (HAProxy, Redis, PostgreSQL).
OPT_IN = {"replicas"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions: a smoke check under a minute")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "latest.json")
    parser.add_argument(
        "--only",
        nargs="*",
        choices=sorted(SECTIONS),
        help=f"run only these sections ({', '.join(sorted(OPT_IN))} only when named here); "
        "docs/benchmarks.md then keeps the other sections and gets these in place of their old text",
    )
    parser.add_argument(
        "sections",
        nargs="*",
        metavar="SECTION",
        help="the same as --only SECTION...: e.g. `python -m benchmarks replicas`",
    )
    parser.add_argument("--no-docs", action="store_true", help="do not regenerate docs/benchmarks.md")
    parser.add_argument("--fail-on-error", action="store_true", help="exit 1 when a section fails")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.sections) - set(SECTIONS))
    if unknown:
        parser.error(f"no section {', '.join(unknown)} (sections: {', '.join(SECTIONS)})")  # exits 2
    if args.sections:
        args.only = [*(args.only or []), *args.sections]

    result: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "quick": args.quick,
        "machine": machine(),
        "sections": {},
        "ratios": {},
        "refresh_requests": {},
    }
    for name in args.only or [name for name in SECTIONS if name not in OPT_IN]:
        print(f"benchmarks: {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            section = importlib.import_module(SECTIONS[name]).run(args.quick)
        except Exception as exc:  # one failing section must not hide the others' numbers
            section = {"error": f"{type(exc).__name__}: {exc}"}
        section["elapsed_s"] = round(time.perf_counter() - started, 1)
        result["sections"][name] = section
        result["ratios"].update(section.get("ratios", {}))
        result["refresh_requests"].update(section.get("refresh_requests", {}))

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"benchmarks: wrote {args.out}", file=sys.stderr)
    if not args.no_docs:
        docs = ROOT / "docs" / "benchmarks.md"
        existing = docs.read_text() if docs.exists() else ""
        if args.only:
            docs.write_text(splice_markdown(existing, result))
        else:
            docs.write_text(carry_over(existing, render_markdown(result), OPT_IN))
        print("benchmarks: regenerated docs/benchmarks.md", file=sys.stderr)
    failed = {name: s["error"] for name, s in result["sections"].items() if "error" in s}
    for name, error in failed.items():
        print(f"benchmarks: section {name} failed: {error}", file=sys.stderr)
    return 1 if failed and args.fail_on_error else 0


if __name__ == "__main__":
    sys.exit(main())
