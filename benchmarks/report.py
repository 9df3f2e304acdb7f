"""docs/benchmarks.md from a result: the machine, then each comparison as ratios against its peer."""

from __future__ import annotations

import importlib
import re
from typing import Any

#: Sections that render themselves: section name -> module with ``render(section) -> list[str]``.
RENDERERS = {"replicas": "benchmarks.replicas"}

#: ratio name -> (what it compares, target, True when lower is better)
TARGETS: dict[str, tuple[str, float | None]] = {
    "stdio_call_vs_sdk": ("tool call over stdio: mcpconnect / the SDK alone", 1.10),
    "http_call_vs_sdk": ("tool call over streamable HTTP: mcpconnect / the SDK alone", 1.10),
    "sse_call_vs_sdk": ("tool call over SSE: mcpconnect / the SDK alone", 1.10),
    "http_auth_call_vs_sdk": ("tool call over streamable HTTP with a bearer token: mcpconnect / the SDK", 1.10),
    "sse_auth_call_vs_sdk": ("tool call over SSE with a bearer token: mcpconnect / the SDK", 1.10),
    "startup_vs_httpx_import": ("`mcpconnect --version` / `python -c 'import httpx'`", 2.0),
    "plugins_list_vs_httpx_import": ("`mcpconnect plugins list` / `import httpx`", 2.0),
    "sdk_client_import_vs_httpx_import": ("`import mcp.client` / `import httpx` (for scale)", None),
    "connect_5_concurrent_vs_sequential": ("connecting 5 stdio servers: concurrent / sequential", 0.55),
    "connect_10_concurrent_vs_sequential": ("connecting 10 stdio servers: concurrent / sequential", 0.55),
    "connect_50_concurrent_vs_sequential": ("connecting 50 stdio servers: concurrent / sequential", 0.55),
    "sdk_connect_5_concurrent_vs_sequential": ("the SDK alone, 5 servers: concurrent / sequential (peer)", None),
    "sdk_connect_10_concurrent_vs_sequential": ("the SDK alone, 10 servers: concurrent / sequential (peer)", None),
    "sdk_connect_50_concurrent_vs_sequential": ("the SDK alone, 50 servers: concurrent / sequential (peer)", None),
    "serve_http_vs_direct_stdio": ("a call through `serve --transport http` to a stdio server / the SDK on it", 1.5),
    "serve_stdio_vs_direct_stdio": ("a call through `serve` (stdio) to a stdio server / the SDK on it", 1.5),
    "proxy_vs_direct_http": ("a call through `proxy URL` / the SDK on the URL directly (for scale)", None),
    "proxy_vs_mcp_remote": ("a call through `proxy URL` / the same through `mcp-remote` 0.15.1", 1.0),
    "serve_throughput_vs_sdk_server": ("calls/s, concurrent clients: through `serve` / the SDK server alone", None),
    "serve_http_vs_fastmcp_proxy": (
        "a call through `serve --transport http` / the same through FastMCP's proxy (for scale)",
        None,
    ),
    "fastmcp_proxy_throughput_vs_serve": ("calls/s, concurrent clients: FastMCP's proxy / `serve`", 0.5),
    "get_token_memory_vs_raw_read": ("valid token, memory store: `get_token` / a dict lookup", None),
    "get_token_file_vs_raw_read": ("valid token, file store: `get_token` / read + JSON parse of the file", None),
    "get_token_sqlite_vs_raw_read": ("valid token, sqlite store: `get_token` / one SELECT", None),
    "get_token_redis_vs_raw_read": ("valid token, redis store: `get_token` / one GET", None),
    "get_token_postgres_vs_raw_read": ("valid token, postgres store: `get_token` / one SELECT", None),
}


#: Why a target is missed, from profiling (cProfile), and what would close it. Printed only for
#: the ratios of this run that miss their target.
WHY_MISSED: dict[str, str] = {
    "serve_http_vs_direct_stdio": (
        "Most of it is the client's HTTP leg, not the gateway: in the same run the SDK's own client on "
        "an SDK server over streamable HTTP (the `proxy` rows) is about as slow as through `serve`. "
        "Profiled with pyinstrument (1,000 calls through `serve --transport http`, 1 ms samples; "
        "requirements/benchmarks.txt): mcpconnect's own code is about 4% of the gateway process's "
        "busy time. The rest is the two SDK sessions a call crosses (the server side to the client, "
        "the hub's client side to the upstream): anyio and asyncio task and memory-stream hand-offs "
        "about 32%, the SDK's dispatchers and pydantic models about 17%, the HTTP stack (uvicorn, h11, "
        "starlette, sse-starlette: every POST is answered as an SSE stream with its own tasks) about "
        "9%, OpenTelemetry spans the SDK opens per request without an exporter about 3%, and socket "
        "and pipe writes about 13% (each wakes another process: on two shared cores, a context "
        "switch). What would close it: a pass-through path for `tools/call` that forwards the "
        "JSON-RPC message without building and validating the SDK's models twice, as mcp-remote does."
    ),
    "serve_stdio_vs_direct_stdio": (
        "A call crosses two SDK sessions and a second process. Profiled with pyinstrument (1,000 calls "
        "through `serve` over stdio): about 24% of the gateway's busy time is the write to the "
        "upstream's stdin (waking the upstream process), 15% handing each line to a worker thread and "
        "back (the SDK's `stdio_server` reads stdin and writes stdout through anyio's `wrap_file`: a "
        "thread round trip per line and per flush), the SDK's sessions and pydantic about 15%, "
        "mcpconnect's own code about 3%. What would close it: stdin and stdout as asyncio pipe streams "
        "instead of worker threads, and the pass-through path above."
    ),
    "fastmcp_proxy_throughput_vs_serve": (
        "Both stand on the SDK's streamable HTTP server, and `serve` is that server plus an SDK client "
        "session to the upstream, so it cannot serve more than the bare SDK server (the `SDK server over "
        "http` row of the throughput table) for long: twice FastMCP's rate needs FastMCP's proxy below "
        "half of the bare server. In the runs made so far FastMCP / `serve` was 0.53 to 0.87 (the "
        "lower with other work on the machine; the throughput table of this run gives both rates beside "
        "the bare server's: `serve` has made 63% to 70% of it, FastMCP's proxy 52% to 61%). "
        "Profiled with cProfile (64 clients, 20 calls each, through `serve --transport "
        "http`): mcpconnect's own code is about 2.5% of the gateway's busy time; besides it, per call, "
        "mcpconnect-otel recording the metrics of `/metrics` about 3%, the hub's SDK client checking "
        "each result against the tool's output schema (jsonschema) about 2%, the SDK's OpenTelemetry "
        "middleware about 1.5%, the writes to the upstream's pipe and the client's socket (each wakes "
        "another process) about 17%, and the rest the SDK's sessions, task and stream hand-offs and "
        "the HTTP stack. mcpconnect's part was cut (one server middleware instead of three, no "
        "namespaced tool list rebuilt per call, no copy of a result with nothing to map, no cancel "
        "scope per call to borrow a ready client): against the code before, in one interleaved run (6 "
        "rounds of 64 clients), 1.06 times the calls per second (0.84 to 1.28 from round to round: "
        "within the machine's noise). What would close it: the pass-through path for `tools/call` of "
        "the latency rows, which FastMCP's proxy does not have either."
    ),
    "proxy_vs_mcp_remote": (
        "Not profiled on its own: it is the same gateway (see the `serve` rows). `proxy` runs two SDK "
        "sessions (server side to the client, client side to the upstream) where mcp-remote pipes "
        "JSON-RPC messages through unparsed; the profiles of `serve` put the cost in those sessions."
    ),
    "http_call_vs_sdk": (
        "Without authentication mcpconnect hands the SDK a plain `httpx2` client, so the difference "
        "is the hub's own bookkeeping per call (state checks, the read-stream watch) and noise."
    ),
    "sse_call_vs_sdk": ("As for streamable HTTP without authentication."),
    "http_auth_call_vs_sdk": (
        "With an `httpx.Auth` (a token, or OAuth) the SDK's `httpx2` client bridges every request to an "
        "`httpx` client, so that the auth flow (401 retry, refresh) runs in httpx. cProfile over 300 "
        "calls: about 1,500 more Python function calls per tool call, nearly all in the second client "
        "stack. What would close it: adapt the auth flow to `httpx2.Auth` instead of bridging clients."
    ),
    "sse_auth_call_vs_sdk": ("The same bridge, crossed by the POST and by the chunks of the long-lived event stream."),
    "connect_10_concurrent_vs_sequential": (
        "Each server's start-up is CPU-bound (importing the SDK takes about a second), so on two cores "
        "the floor is about 0.5. The SDK's own client, opening the same servers concurrently in the same "
        "run, gets the ratio in its peer row, also above 0.55: the machine sets most of it. The gap "
        "between the two rows is work the SDK peer does not do: the hub also lists each server's tools "
        "while connecting (for `check` and the discovery cache), in the same CPU-bound window. What would "
        "close it: list tools lazily on first use when no cache is wanted; more cores for the rest."
    ),
    "connect_50_concurrent_vs_sequential": ("As for 10 servers: compare with the SDK's peer row for 50."),
    "plugins_list_vs_httpx_import": (
        "`plugins list` imports every installed plugin's entry module, 19 here, to report the ones that "
        "fail. cProfile: about 60% of its time is those imports (the auth providers need `httpx` and "
        "the provider contract), the rest the metadata scan and the table. What would close it: a "
        "`--no-load` listing from metadata alone, or provider entry modules that defer their class "
        "definitions to first use."
    ),
}


def render_markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python -m benchmarks` (see `benchmarks/`); do not edit by hand. Every ratio",
        "compares measurements taken in the same run on the same machine; times are medians.",
        "",
        f"Run: {result['started']}{' (quick mode)' if result.get('quick') else ''}. "
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']}, "
        f"{m['implementation']} {m['python']}.",
        "",
        "## Ratios",
        "",
        "| comparison | ratio | target | met |",
        "|---|---|---|---|",
    ]
    for name, value in result["ratios"].items():
        what, target = TARGETS.get(name, (name, None))
        met = "-" if target is None else ("yes" if value <= target else "**no**")
        lines.append(f"| {what} | {value} | {'-' if target is None else f'≤ {target}'} | {met} |")
    missed = [n for n, v in result["ratios"].items() if TARGETS.get(n, ("", None))[1] is not None and v > TARGETS[n][1]]
    if missed:
        lines += ["", "### Targets missed in this run", ""]
        for name in missed:
            lines.append(
                f"- **{TARGETS[name][0]}** ({result['ratios'][name]}): {WHY_MISSED.get(name, 'not analysed yet.')}"
            )
    if result.get("refresh_requests"):
        lines += [
            "",
            "## Refresh requests at the authorization server (must be 1)",
            "",
            "| case | refresh requests |",
            "|---|---|",
        ]
        for name, count in result["refresh_requests"].items():
            lines.append(f"| {name} | {count}{'' if count == 1 else ' **(not 1)**'} |")
    for name, section in result["sections"].items():
        lines += ["", f"## {name}", ""]
        if "error" in section:
            lines.append(f"This section failed: `{section['error']}`.")
            continue
        if name in RENDERERS:
            lines += importlib.import_module(RENDERERS[name]).render(section)
            continue
        samples = section.get("samples", {})
        if samples:
            lines += ["| measured | median ms | p99 ms | runs |", "|---|---|---|---|"]
            for label, s in samples.items():
                lines.append(f"| {label} | {s['median_ms']} | {s['p99_ms']} | {s['runs']} |")
        for key, value in section.items():
            if key in {"samples", "ratios", "refresh_requests", "elapsed_s"}:
                continue
            if isinstance(value, dict):
                lines += ["", f"{key}:", "", "| | |", "|---|---|"]
                lines += [f"| {k} | {v} |" for k, v in value.items()]
            else:
                lines.append(f"\n{key}: {value}")
        for note in section.get("notes", []) if isinstance(section.get("notes"), list) else []:
            lines.append(f"- {note}")
    return "\n".join(lines) + "\n"


def splice_markdown(existing: str, result: dict[str, Any]) -> str:
    """``existing`` (docs/benchmarks.md) with the sections of a partial run (``--only``) put in
    place of their old text (or appended), and the rows of their ratios updated; everything else,
    measured by other runs, is kept. Each spliced section says it comes from a run of its own."""
    fresh = render_markdown(result)
    out = existing.rstrip("\n") + "\n"
    for name in result["sections"]:
        found = re.search(rf"^## {re.escape(name)}\n.*?(?=^## |\Z)", fresh, flags=re.S | re.M)
        if found is None:
            continue
        heading, _, body = found.group(0).partition("\n")
        note = (
            f"From a run of its own (`python -m benchmarks --only {name}`, {result['started']}"
            f"{', quick mode' if result.get('quick') else ''}); compare within the section."
        )
        block = f"{heading}\n\n{note}\n{body.rstrip()}\n"
        old = re.search(rf"^## {re.escape(name)}\n.*?(?=^## |\Z)", out, flags=re.S | re.M)
        if old is None:
            out = f"{out}\n{block}"
        else:
            out = out[: old.start()] + block + ("\n" if old.end() < len(out) else "") + out[old.end() :]
    for name, value in result["ratios"].items():
        what, target = TARGETS.get(name, (name, None))
        met = "-" if target is None else ("yes" if value <= target else "**no**")
        row = f"| {what} | {value} | {'-' if target is None else f'≤ {target}'} | {met} |"
        out = re.sub(rf"^\| {re.escape(what)} \|.*$", row.replace("\\", "\\\\"), out, flags=re.M)
    return out


def carry_over(existing: str, fresh: str, names: set[str]) -> str:
    """``fresh`` (a full run's page) with the sections ``names`` of ``existing`` appended when the
    run did not measure them (the opt-in sections, measured by runs of their own)."""
    out = fresh
    for name in sorted(names):
        if re.search(rf"^## {re.escape(name)}$", fresh, flags=re.M):
            continue
        old = re.search(rf"^## {re.escape(name)}\n.*?(?=^## |\Z)", existing, flags=re.S | re.M)
        if old is not None:
            out = f"{out.rstrip()}\n\n{old.group(0).rstrip()}\n"
    return out
