"""Start tests/oidc/server.mjs (oidc-provider on Node 22) on 127.0.0.1.

No pytest here: the benchmarks run it in a user's install. The pytest fixtures are in
oidc_fixtures.py beside it.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
NODE = ROOT / "tests" / "node" / "node_modules" / ".bin" / "node"
OIDC_PROVIDER = ROOT / "tests" / "node" / "node_modules" / "oidc-provider"
SERVER = Path(__file__).with_name("server.mjs")

CONFIDENTIAL_SECRET = "confidential-client-secret-value-0123456789"
POST_SECRET = "post-client-secret-value-abcdefghijklmnop"


@dataclass
class OIDCServer:
    """The running server: its issuer URL and test-only controls."""

    issuer: str
    process: subprocess.Popen[str]

    def _get(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.issuer}{path}", timeout=10) as response:
            data: dict[str, Any] = json.loads(response.read())
            return data

    def stats(self) -> dict[str, Any]:
        return self._get("/test/stats")

    def set(self, **values: Any) -> dict[str, Any]:
        query = "&".join(f"{k}={int(v) if isinstance(v, bool) else v}" for k, v in values.items())
        return self._get(f"/test/set?{query}")

    def reset(self) -> None:
        self.set(reset=1, deny=0, slowDown=0, skew=0, failToken=0)

    def approve_device(self, user_code: str, account: str = "alice") -> bool:
        return bool(self._get(f"/test/device/approve?user_code={user_code}&account={account}")["approved"])

    def deny_device(self, user_code: str) -> bool:
        return bool(self._get(f"/test/device/deny?user_code={user_code}")["denied"])

    def add_resource(self, resource: str, kind: str = "jwt") -> str:
        """Accept ``resource`` as a resource indicator (tokens for it: ``aud`` = it, scopes
        ``mcp:tools mcp:admin``, JWTs or ``opaque``); returns those scopes."""
        import urllib.parse

        query = f"add={urllib.parse.quote(resource, safe='')}&format={kind}"
        return str(self._get(f"/test/resource?{query}")["scope"])

    def sign(self, claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
        """A JWT of ``claims`` signed with the server's own RS256 key (the one its JWKS publishes)."""
        request = urllib.request.Request(
            f"{self.issuer}/test/sign",
            data=json.dumps({"claims": claims, "header": header or {}}).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(json.loads(response.read())["token"])

    def introspect(
        self, token: str, client_id: str = "confidential", secret: str = CONFIDENTIAL_SECRET
    ) -> dict[str, Any]:
        import base64
        import urllib.parse

        request = urllib.request.Request(
            f"{self.issuer}/token/introspection",
            data=urllib.parse.urlencode({"token": token}).encode(),
            headers={"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            data: dict[str, Any] = json.loads(response.read())
            return data


def missing_reason() -> str | None:
    if not NODE.exists():
        return f"Node.js not installed at {NODE} (run .ci/run to install the npm peers)"
    if not OIDC_PROVIDER.exists():
        return f"oidc-provider not installed in {OIDC_PROVIDER.parent} (run .ci/run to install the npm peers)"
    return None


class OIDCServerMissing(RuntimeError):
    """Node.js or oidc-provider is not installed (the reason is the message)."""


@contextlib.contextmanager
def running_server() -> Iterator[OIDCServer]:
    """Start the server; raises OIDCServerMissing when its Node peers are not installed."""
    reason = missing_reason()
    if reason:
        raise OIDCServerMissing(reason)
    process = subprocess.Popen(
        [str(NODE), str(SERVER), "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=SERVER.parent,
    )
    try:
        assert process.stdout is not None
        issuer = None
        for line in process.stdout:
            if line.startswith("listening "):
                issuer = line.split(" ", 1)[1].strip()
                break
        if issuer is None:
            raise RuntimeError(f"tests/oidc/server.mjs exited with {process.wait()} before listening")
        yield OIDCServer(issuer, process)
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()
