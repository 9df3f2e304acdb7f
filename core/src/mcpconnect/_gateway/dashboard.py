"""The dashboard: ``/ui`` on the HTTP gateway (``serve --transport http``) and ``mcpconnect ui``.

One page, rendered here (every value passes :func:`html.escape`), that shows each configured
server (state, transport, protocol, tools, latency, last error) and each login (provider,
account, scopes, time to expiry; never a secret), with buttons to log in, log out and refresh.
A small script polls ``/ui/status.json`` and swaps in the fragments it carries, so the page keeps
itself current without a build step. The buttons run :mod:`mcpconnect.auth._actions`, the same
flows as ``mcpconnect login``, ``logout`` and ``tokens refresh``.

Safety, on top of the gateway's own rules:

* The Host rule of ``/mcp``: a Host that is not this address answers 421 (DNS rebinding).
* With client keys, everything but the page's shell (``/ui``, ``/ui/app.js``, which hold no data)
  needs ``Authorization: Bearer KEY``; the page asks for the key once and keeps it in the tab's
  ``sessionStorage``.
* A POST needs the page's own ``Origin`` and the per-process CSRF token the page embeds
  (``X-CSRF-Token``); the page may not be framed (``frame-ancestors 'none'``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import secrets
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

import anyio

from mcpconnect.errors import MCPConnectError

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute
    from starlette.types import ASGIApp

    from mcpconnect._gateway.http import HttpSettings
    from mcpconnect._runtime import Runtime
    from mcpconnect._servers import ServerStatus

__all__ = ["PUBLIC_PATHS", "UI_PATH", "Dashboard", "dashboard_routes", "serve_dashboard"]

log = logging.getLogger("mcpconnect.gateway")

UI_PATH = "/ui"
STATUS_PATH = "/ui/status.json"
SCRIPT_PATH = "/ui/app.js"
#: What a browser loads without a client key: the page's shell and script, which hold no data.
PUBLIC_PATHS = (UI_PATH, SCRIPT_PATH)
#: The buttons: each a POST to ``/ui/ACTION``.
ACTIONS = ("login", "logout", "refresh")
#: Bytes a POST body may hold (a provider's and an account's name).
MAX_BODY = 4096
#: Seconds a login POST waits for the authorization URL before answering.
URL_WAIT = 15.0
#: Seconds a finished login stays listed on the page.
KEEP_FINISHED = 600.0
#: The default port of ``mcpconnect ui`` (``serve`` has 8765, the example servers 8766).
DEFAULT_PORT = 8767

_SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


@dataclass(eq=False)
class LoginJob:
    """A login started from the page: waiting for the browser, then done or failed."""

    id: str
    provider: str
    state: str = "starting"  # starting, waiting, done, failed
    url: str | None = None
    message: str = ""
    finished: float | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "state": self.state,
            "url": self.url if self.state == "waiting" else None,
            "message": self.message,
        }


class Dashboard:
    """The page's state: where server states come from, the logins started from it, its CSRF token.

    ``statuses`` returns every server's current state; ``servers`` names those expected (shown
    as connecting until they have a state).
    """

    def __init__(
        self,
        runtime: Runtime,
        statuses: Callable[[], list[ServerStatus]],
        servers: list[str],
        *,
        login_wait: float = 300.0,
        per_user: Callable[[], dict[str, int | None]] | None = None,
    ) -> None:
        self.runtime = runtime
        self.statuses = statuses
        self.servers = servers
        #: The per-user servers (``tokens = "per_user"``), each with how many users have a
        #: connection open now (``None``: not served here, as by ``mcpconnect ui``).
        self.per_user = per_user
        self.login_wait = login_wait
        #: Embedded in the page and required on every POST: another site's page cannot read it.
        self.csrf_token = secrets.token_urlsafe(32)
        self._jobs: dict[str, LoginJob] = {}

    def __repr__(self) -> str:
        return f"Dashboard(servers={self.servers!r})"

    @property
    def _manager(self) -> Any:
        from mcpconnect.auth._manager import token_manager

        return token_manager(self.runtime)

    # -- what the page shows ------------------------------------------------------------------

    def login_names(self) -> list[tuple[str, str]]:
        from mcpconnect.auth._actions import login_names

        return login_names(self.runtime.config)

    def server_rows(self) -> list[dict[str, Any]]:
        found = {s.name: s for s in self.statuses()}
        users = self.per_user() if self.per_user is not None else {}
        rows = []
        for name in dict.fromkeys([*self.servers, *found]):
            status = found.get(name)
            if name in users:
                # No shared connection: each user's own, made on their call with their own login.
                count = users[name]
                note = "each user's own login" + ("" if count is None else f"; {count} user(s) connected now")
                served = status is not None and status.ok
                rows.append(
                    {
                        "name": name,
                        "state": "per user" if served or count is None else "starting",
                        "ok": served or count is None,
                        "transport": status.transport if status is not None else None,
                        "users": count,
                        "note": note,
                    }
                )
            elif status is None:
                rows.append({"name": name, "state": "connecting", "ok": False, "transport": None})
            else:
                rows.append({**status.summary(), "state": status.state.value})
        return rows

    async def login_rows(self) -> tuple[list[dict[str, Any]], str | None]:
        """Every stored login (``tokens list --json``'s rows), and what is wrong with the store."""
        from mcpconnect.auth._actions import damaged_row, list_logins

        try:
            rows, damaged = await list_logins(self._manager)
        except MCPConnectError as exc:  # a store that cannot be read: said on the page, not a 500
            return [], str(exc)
        return rows + [damaged_row(d) for d in damaged], None

    async def snapshot(self) -> dict[str, Any]:
        """Everything the page shows, as data and as rendered fragments."""
        self._prune()
        servers = self.server_rows()
        logins, problem = await self.login_rows()
        names = self.login_names()
        jobs = [job.summary() for job in self._jobs.values()]
        return {
            "servers": servers,
            "logins": logins,
            "store_problem": problem,
            "providers": [{"name": n, "type": t} for n, t in names],
            "pending": jobs,
            "html": {
                "servers": render_servers(servers),
                "logins": render_logins(names, logins, problem),
                "pending": render_pending(jobs),
            },
        }

    # -- what the buttons do ------------------------------------------------------------------

    def _check_name(self, name: str) -> None:
        known = [n for n, _ in self.login_names()]
        if name not in known:
            raise _BadRequest(
                f"no provider or server with auth = \"mcp\" named '{name}' (configured: {', '.join(known) or 'none'})"
            )

    async def start_login(self, name: str) -> LoginJob:
        """Start the browser login to ``name`` (the loopback listener, as ``mcpconnect login``);
        return once its authorization URL is known, or it has ended."""
        self._check_name(name)
        for job in self._jobs.values():
            if job.provider == name and job.state in ("starting", "waiting"):
                return job  # one listener per provider at a time
        job = LoginJob(id=secrets.token_urlsafe(8), provider=name)
        self._jobs[job.id] = job
        job.task = asyncio.ensure_future(self._run_login(job))
        with anyio.move_on_after(URL_WAIT):
            await job.changed.wait()
        return job

    async def _run_login(self, job: LoginJob) -> None:
        from mcpconnect.auth._actions import describe_expiry, log_in

        warnings: list[str] = []

        def on_url(url: str) -> None:
            job.url = url
            job.state = "waiting"
            job.changed.set()

        try:
            token = await log_in(
                self._manager, job.provider, on_url=on_url, wait=self.login_wait, on_warning=warnings.append
            )
        except MCPConnectError as exc:
            job.state, job.message = "failed", str(exc)
        except Exception as exc:  # a plugin's bug must not end the page
            from mcpconnect._servers.errors import describe

            log.warning("login to %s from the dashboard failed", job.provider, exc_info=True)
            job.state, job.message = "failed", f"login to {job.provider}: {describe(exc)}"
        else:
            who = f"{token.account_name} ({token.account})" if token.account_name else token.account
            left = token.expires_in()
            job.state = "done"
            job.message = " ".join(
                [
                    f"Logged in to {job.provider} as {who}; token expires in "
                    f"{describe_expiry(None if left is None else left.total_seconds())}.",
                    *warnings,
                ]
            )
        finally:
            job.finished = time.monotonic()
            job.changed.set()

    async def logout(self, name: str, account: str | None) -> str:
        from mcpconnect.auth._actions import log_out

        result = await log_out(self._manager, name, account)
        where = "revoked at the provider and deleted" if result.remote else "deleted locally"
        text = f"Logged out of {name} ({result.account}): token {where}."
        return f"{text} {result.warning}" if result.warning else text

    async def refresh(self, name: str, account: str | None) -> str:
        from mcpconnect.auth._actions import describe_expiry, refresh_login
        from mcpconnect.auth._errors import NotRefreshableError

        try:
            token = await refresh_login(self._manager, name, account)
        except NotRefreshableError as exc:
            return f"Not refreshed: {exc}"
        left = token.expires_in()
        return (
            f"Refreshed {name} ({token.account}); expires in "
            f"{describe_expiry(None if left is None else left.total_seconds())}."
        )

    def _prune(self) -> None:
        now = time.monotonic()
        for key, job in list(self._jobs.items()):
            if job.finished is not None and now - job.finished > KEEP_FINISHED:
                del self._jobs[key]

    async def aclose(self) -> None:
        """Stop the logins still waiting for a browser (their listeners close)."""
        tasks = [job.task for job in self._jobs.values() if job.task is not None and not job.task.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task


class _BadRequest(Exception):
    pass


# -- rendering ------------------------------------------------------------------------------------


def _text(value: Any, empty: str = "-") -> str:
    return escape(empty if value is None or value == "" else str(value))


def render_servers(rows: list[dict[str, Any]]) -> str:
    """The servers table's body."""
    if not rows:
        return '<tr><td colspan="7" class="none">No servers are configured.</td></tr>'
    out = []
    for row in rows:
        error = row.get("error") or ""
        first = error.splitlines()[0] if error else ""
        latency = row.get("latency_ms")
        state_class = "ok" if row.get("ok") else ("wait" if row["state"] in ("connecting", "starting") else "bad")
        out.append(
            f'<tr data-server="{escape(row["name"])}">'
            f"<td>{_text(row['name'])}</td>"
            f'<td class="state {state_class}">{_text(row["state"])}</td>'
            f"<td>{_text(row.get('transport'))}</td>"
            f"<td>{_text(row.get('protocol_version'))}</td>"
            f'<td class="num tools">{_text(row.get("tools"))}</td>'
            f'<td class="num">{"-" if latency is None else escape(f"{latency:.0f} ms")}</td>'
            + (
                f'<td class="error" title="{escape(error)}">{_text(first, "")}</td>'
                if error or not row.get("note")
                else f'<td class="note">{_text(row["note"], "")}</td>'
            )
            + "</tr>"
        )
    return "".join(out)


def _button(action: str, label: str, provider: str, account: str | None = None) -> str:
    extra = f' data-account="{escape(account)}"' if account is not None else ""
    return (
        f'<button type="button" data-action="{escape(action)}" data-provider="{escape(provider)}"{extra}>'
        f"{escape(label)}</button>"
    )


def render_logins(names: list[tuple[str, str]], rows: list[dict[str, Any]], problem: str | None = None) -> str:
    """The logins table's body: each provider (and ``auth = "mcp"`` server) with its accounts, after
    ``problem`` (the token store cannot be read) if any."""
    from mcpconnect.auth._actions import describe_expiry

    types = dict(names)
    by_provider: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_provider.setdefault(row["provider"], []).append(row)
    out = [f'<tr><td colspan="7" class="bad">{escape(problem)}</td></tr>'] if problem else []
    for name in dict.fromkeys([*types, *by_provider]):
        accounts = by_provider.get(name, [])
        login = _button("login", "Log in", name) if name in types else ""
        if not accounts:
            out.append(
                f'<tr data-provider="{escape(name)}"><td>{_text(name)}</td><td>{_text(types.get(name))}</td>'
                f'<td class="none" colspan="4">not logged in</td><td class="actions">{login}</td></tr>'
            )
            continue
        for row in accounts:
            who = f"{row['account']} ({row['account_name']})" if row.get("account_name") else row["account"]
            expires = row.get("expires_in_seconds")
            expiry = "-" if row["state"] == "damaged" else describe_expiry(expires)
            state = row["state"] if not row.get("problem") else f"{row['state']}: {row['problem']}"
            buttons = [login] if name in types else []
            if row["state"] != "damaged" and row.get("refreshable"):
                buttons.append(_button("refresh", "Refresh", name, row["account"]))
            buttons.append(_button("logout", "Log out", name, row["account"]))
            out.append(
                f'<tr data-provider="{escape(name)}" data-account="{escape(row["account"])}">'
                f"<td>{_text(name)}</td><td>{_text(types.get(name))}</td>"
                f'<td class="account">{_text(who)}</td>'
                f"<td>{_text(' '.join(row.get('scopes') or []))}</td>"
                f'<td class="expiry" title="{_text(row.get("expires_at"), "")}">{escape(expiry)}</td>'
                f"<td>{_text(state)}</td>"
                f'<td class="actions">{"".join(buttons)}</td></tr>'
            )
    if not out:
        return '<tr><td colspan="7" class="none">No providers are configured.</td></tr>'
    return "".join(out)


def render_pending(jobs: list[dict[str, Any]]) -> str:
    """The logins started from the page: a link to open while waiting, then the outcome."""
    out = []
    for job in jobs:
        provider = escape(job["provider"])
        if job["state"] == "waiting" and job["url"]:
            out.append(
                f'<li class="wait" data-login="{provider}">Log in to <b>{provider}</b>: '
                f'<a class="authorize" href="{escape(job["url"])}" target="_blank" rel="noopener noreferrer">'
                "open the authorization page</a> (this page updates when the login is done)</li>"
            )
        elif job["state"] == "starting":
            out.append(f'<li class="wait" data-login="{provider}">Starting the login to <b>{provider}</b>…</li>')
        else:
            css = "ok" if job["state"] == "done" else "bad"
            out.append(f'<li class="{css}" data-login="{provider}">{escape(job["message"])}</li>')
    return "".join(out)


def render_page(dashboard: Dashboard, snapshot: dict[str, Any] | None) -> str:
    """The whole page; without ``snapshot`` (a client key is needed first) its tables are empty."""
    html = snapshot["html"] if snapshot is not None else {"servers": "", "logins": "", "pending": ""}
    needs_key = "true" if snapshot is None else "false"
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{escape(dashboard.csrf_token)}">
<title>mcpconnect</title>
<style>{_STYLE}</style>
</head>
<body data-needs-key="{needs_key}">
<header><h1>mcpconnect</h1><span id="updated"></span></header>
<form id="key-form"{"" if snapshot is None else " hidden"}>
<label>Client key <input id="key" type="password" autocomplete="off" required></label>
<button type="submit">Use this key</button>
<small>Kept in this tab only (sessionStorage) and sent as <code>Authorization: Bearer</code>.</small>
</form>
<p id="message" role="status"></p>
<ul id="pending">{html["pending"]}</ul>
<h2>Servers</h2>
<table>
<thead><tr><th>server</th><th>state</th><th>transport</th><th>protocol</th><th>tools</th><th>latency</th>
<th>last error</th></tr></thead>
<tbody id="servers">{html["servers"]}</tbody>
</table>
<h2>Logins</h2>
<table>
<thead><tr><th>provider</th><th>type</th><th>account</th><th>scopes</th><th>expires in</th><th>state</th>
<th></th></tr></thead>
<tbody id="logins">{html["logins"]}</tbody>
</table>
<script src="{SCRIPT_PATH}"></script>
</body>
</html>
"""


_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d2330;background:#fafbfc}
header{display:flex;align-items:baseline;gap:1em}h1{font-size:1.4em;margin:0}#updated{color:#778}
h2{font-size:1.1em;margin:1.4em 0 .4em}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid #e3e6ea;vertical-align:top}
th{font-weight:600;color:#556;background:#f1f3f5}td.num{text-align:right}
.ok{color:#17803d}.bad{color:#b42318}.wait{color:#9a6700}.none{color:#778}
td.error{color:#b42318;max-width:32em;overflow-wrap:anywhere}
button{margin-right:.3em}#message:empty,#pending:empty{display:none}
#pending{padding:.5em 1.5em;background:#fff8e6;border:1px solid #f0d8a0}
form{margin:1em 0;padding:.6em;background:#fff;border:1px solid #e3e6ea}
"""

_SCRIPT = """\
"use strict";
(() => {
  const KEY = "mcpconnect-client-key";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const keyForm = document.getElementById("key-form");
  const message = document.getElementById("message");

  function say(text, bad) {
    message.textContent = text || "";
    message.className = bad ? "bad" : "ok";
  }

  function headers(extra) {
    const result = Object.assign({Accept: "application/json"}, extra || {});
    const key = sessionStorage.getItem(KEY);
    if (key) result.Authorization = "Bearer " + key;
    return result;
  }

  async function poll() {
    let response;
    try {
      response = await fetch("/ui/status.json", {headers: headers(), cache: "no-store"});
    } catch (error) {
      say("The dashboard cannot be reached; retrying.", true);
      return;
    }
    if (response.status === 401) {
      keyForm.hidden = false;
      if (sessionStorage.getItem(KEY)) say("That client key was refused; enter another.", true);
      return;
    }
    if (!response.ok) {
      say("Status: HTTP " + response.status, true);
      return;
    }
    const data = await response.json();
    keyForm.hidden = true;
    for (const part of ["servers", "logins", "pending"]) {
      document.getElementById(part).innerHTML = data.html[part];  // rendered and escaped by the server
    }
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
  }

  async function act(button) {
    const body = {provider: button.dataset.provider};
    if (button.dataset.account !== undefined) body.account = button.dataset.account;
    button.disabled = true;
    try {
      const response = await fetch("/ui/" + button.dataset.action, {
        method: "POST",
        headers: headers({"Content-Type": "application/json", "X-CSRF-Token": csrf}),
        body: JSON.stringify(body),
      });
      const data = await response.json().catch(() => ({}));
      // A login's progress is in the list of logins started here, which polling keeps current.
      const shown = response.ok && data.login ? "" : data.message || data.error || "HTTP " + response.status;
      say(shown, !response.ok);
    } catch (error) {
      say("The dashboard cannot be reached.", true);
    } finally {
      button.disabled = false;
      await poll();
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (button) act(button);
  });
  keyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("key");
    sessionStorage.setItem(KEY, input.value.trim());
    input.value = "";
    say("");
    poll();
  });
  poll();
  setInterval(poll, 2000);
})();
"""


# -- HTTP -----------------------------------------------------------------------------------------


def _origin_allowed(request: Request, settings: HttpSettings) -> bool:
    """The page's own origin (``http(s)://`` + its Host), or one ``[gateway] allowed_origins`` lists."""
    origin = request.headers.get("origin")
    if origin is None:
        return False
    host = request.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}") or origin in settings.config.allowed_origins


def dashboard_routes(dashboard: Dashboard, settings: HttpSettings) -> list[BaseRoute]:
    """The routes of the page: ``/ui``, ``/ui/app.js``, ``/ui/status.json`` and the POST actions."""
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    from mcpconnect._gateway.http import _host_allowed

    security = settings.transport_security()

    def refused(request: Request, *, post: bool) -> Response | None:
        if security.enable_dns_rebinding_protection and not _host_allowed(
            request.headers.get("host", ""), security.allowed_hosts
        ):
            return JSONResponse({"error": "misdirected request: this Host is not served here"}, status_code=421)
        if (post or "origin" in request.headers) and not _origin_allowed(request, settings):
            return JSONResponse({"error": "forbidden: this Origin may not use the dashboard"}, status_code=403)
        if post:
            sent = request.headers.get("x-csrf-token", "")
            if not hmac.compare_digest(sent.encode(), dashboard.csrf_token.encode()):
                return JSONResponse(
                    {"error": "forbidden: missing or wrong X-CSRF-Token; reload the dashboard"}, status_code=403
                )
        return None

    async def page(request: Request) -> Response:
        if (answer := refused(request, post=False)) is not None:
            return answer
        # With client keys the shell carries no data: the script fetches it with the key.
        snapshot = None if settings.keys else await dashboard.snapshot()
        return HTMLResponse(render_page(dashboard, snapshot), headers=_SECURITY_HEADERS)

    async def script(request: Request) -> Response:
        if (answer := refused(request, post=False)) is not None:
            return answer
        return Response(_SCRIPT, media_type="text/javascript", headers=_SECURITY_HEADERS)

    async def status(request: Request) -> Response:
        if (answer := refused(request, post=False)) is not None:
            return answer
        return JSONResponse(await dashboard.snapshot(), headers={"cache-control": "no-store"})

    async def action(request: Request, kind: str) -> Response:
        if (answer := refused(request, post=True)) is not None:
            return answer
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return JSONResponse({"error": f"the request body is over {MAX_BODY} bytes"}, 413)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("provider"), str):
            return JSONResponse({"error": 'send JSON: {"provider": NAME, "account": ACCOUNT (optional)}'}, 400)
        account = body.get("account")
        account = account if isinstance(account, str) and account else None
        name = body["provider"]
        try:
            if kind == "login":
                job = await dashboard.start_login(name)
                text = job.message or (
                    f"Open the authorization page to log in to {name}."
                    if job.state == "waiting"
                    else f"Starting the login to {name}."
                )
                return JSONResponse({"ok": job.state != "failed", "message": text, "login": job.summary()})
            if kind == "logout":
                return JSONResponse({"ok": True, "message": await dashboard.logout(name, account)})
            return JSONResponse({"ok": True, "message": await dashboard.refresh(name, account)})
        except _BadRequest as exc:
            return JSONResponse({"ok": False, "error": str(exc)}, 400)
        except MCPConnectError as exc:
            return JSONResponse({"ok": False, "error": str(exc)}, 409)

    return [
        Route(UI_PATH, page, methods=["GET"]),
        Route(SCRIPT_PATH, script, methods=["GET"]),
        Route(STATUS_PATH, status, methods=["GET"]),
        *(Route(f"{UI_PATH}/{kind}", _bind(action, kind), methods=["POST"]) for kind in ACTIONS),
    ]


def _bind(
    handler: Callable[[Request, str], Awaitable[Response]], kind: str
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await handler(request, kind)

    return endpoint


def dashboard_app(dashboard: Dashboard, settings: HttpSettings) -> ASGIApp:
    """The page alone (``mcpconnect ui``): no ``/mcp``, the gateway's key check."""
    from starlette.applications import Starlette

    from mcpconnect._gateway.http import _RequireKey

    app: ASGIApp = Starlette(routes=dashboard_routes(dashboard, settings))
    if settings.keys:
        return _RequireKey(app, settings.keys, open_paths=PUBLIC_PATHS)
    return app


async def serve_dashboard(
    runtime: Runtime,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    announce: Callable[[str], None] | None = None,
    log_level: str = "warning",
) -> int:
    """``mcpconnect ui``: connect to every enabled server and serve the page (no MCP) until
    SIGINT/SIGTERM; return the exit code."""
    from mcpconnect._gateway.http import HttpSettings, bind, serve_app
    from mcpconnect._hub import Hub, connect

    settings = HttpSettings(host, port, runtime.config.gateway, command="ui")
    sock = bind(settings)
    names = [n for n, s in runtime.config.servers.items() if s.enabled]
    # A per-user server has no shared connection to show: only a gateway's users connect to it.
    per_user = {n: None for n in names if runtime.config.servers[n].tokens == "per_user"}
    latest: dict[str, ServerStatus] = {}
    hubs: list[Hub] = []

    def statuses() -> list[ServerStatus]:
        return list(hubs[0].servers.values()) if hubs else list(latest.values())

    def on_state(status: ServerStatus) -> None:
        latest[status.name] = status

    dashboard = Dashboard(runtime, statuses, names, per_user=lambda: dict(per_user))
    say = announce or (lambda line: None)
    where = f"[{settings.host}]" if ":" in settings.host else settings.host
    say(f"dashboard at http://{where}:{settings.port}{UI_PATH} ({len(names)} server(s)); Ctrl-C stops it")
    exit_code = 0
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:

        async def watch_signals() -> None:
            nonlocal exit_code
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for signum in signals:
                    exit_code = 130 if signum == signal.SIGINT else 0
                    stop.set()
                    return

        async def hold_hub() -> None:
            shared = [n for n in names if n not in per_user]
            async with connect(runtime, servers=shared, on_state=on_state) as hub:
                hubs.append(hub)
                await anyio.sleep_forever()

        tg.start_soon(watch_signals)
        tg.start_soon(hold_hub, name="mcpconnect dashboard hub")
        try:
            await serve_app(dashboard_app(dashboard, settings), sock, stop, log_level=log_level)
        finally:
            await dashboard.aclose()
            tg.cancel_scope.cancel()
    return exit_code
