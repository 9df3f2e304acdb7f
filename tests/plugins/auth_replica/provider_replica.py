"""Local replicas of OAuth providers, for the provider plugins' tests.

A replica is a small Starlette app served by uvicorn on ``127.0.0.1:<ephemeral>`` in a thread.
:class:`OAuthReplica` keeps the state every provider has (clients, codes with their PKCE
challenge and redirect URI, access and refresh tokens, device codes, revocations) and answers
the authorization endpoint by approving at once (a redirect to the loopback callback with
``code`` and ``state``), so the engine's real flow runs headless. Each provider's replica
subclasses it and adds only its routes and its answer and error shapes.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

__all__ = ["Grant", "OAuthReplica", "ReplicaServer", "StandardReplica"]

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Grant:
    """One user's authorization of the client: what a code, a token or a device code stands for."""

    client_id: str
    scopes: tuple[str, ...]
    redirect_uri: str | None = None
    challenge: str | None = None
    method: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class ReplicaServer:
    """Serves a Starlette app on 127.0.0.1 and an ephemeral port, in a thread."""

    def __init__(self, app: Starlette, on_start: Callable[[str], None] | None = None) -> None:
        self.on_start = on_start
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", lifespan="off", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="oauth-replica", daemon=True)
        self.url = ""

    def __enter__(self) -> ReplicaServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the OAuth replica did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        if self.on_start is not None:
            self.on_start(self.url)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class OAuthReplica:
    """State and building blocks shared by every provider replica.

    Knobs tests turn (reset by :meth:`reset`): ``codes_expire`` (the next code exchange fails
    as with a stale code), ``pending_polls`` (device polls answered pending before approval).
    """

    client_id = "replica-client-id"
    client_secret = "replica-client-secret-3f9a"
    #: Client authentication the token endpoint accepts: any of "basic", "post", "none".
    client_auth: tuple[str, ...] = ("basic", "post")
    #: Whether the authorization endpoint insists on PKCE S256.
    require_pkce = False
    #: Whether refreshing replaces the refresh token (the old one then stops working).
    rotate_refresh = True
    expires_in: int | None = 3600
    #: Seconds between device polls that the device authorization answer asks for.
    device_interval = 5
    token_prefix = "at_"
    refresh_prefix = "rt_"
    #: Whether callbacks carry RFC 9207 ``iss`` (the replica's URL, which is the issuer then).
    send_iss = False

    def __init__(self) -> None:
        self.url = ""
        self.reset()

    def reset(self) -> None:
        self.codes: dict[str, Grant] = {}
        self.access: dict[str, Grant] = {}
        self.refresh: dict[str, Grant] = {}
        self.devices: dict[str, dict[str, Any]] = {}
        self.revoked: list[str] = []
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, Any]] = []
        self.codes_expire = False
        self.pending_polls = 1
        self.device_interval = type(self).device_interval

    # -- serving ------------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def app(self) -> Starlette:
        return Starlette(routes=self.routes())

    def serve(self) -> ReplicaServer:
        def started(url: str) -> None:
            self.url = url

        return ReplicaServer(self.app(), on_start=started)

    # -- authorization endpoint -----------------------------------------------------------------

    def check_authorize(self, params: dict[str, str]) -> str | None:
        """Why this authorization request is refused (``None``: it is fine)."""
        if params.get("client_id") != self.client_id:
            return "invalid_client"
        redirect = params.get("redirect_uri", "")
        if urlsplit(redirect).hostname not in LOOPBACK_HOSTS:
            return "redirect_uri_mismatch"
        if params.get("response_type", "code") != "code":
            return "unsupported_response_type"
        if params.get("code_challenge") and params.get("code_challenge_method") != "S256":
            return "invalid_request"
        if self.require_pkce and not params.get("code_challenge"):
            return "invalid_request"
        return None

    def scopes_of(self, params: dict[str, str]) -> tuple[str, ...]:
        return tuple(s for s in params.get("scope", "").replace(",", " ").split() if s)

    async def authorize(self, request: Request) -> Response:
        """Approve at once: redirect to the loopback ``redirect_uri`` with a code and the state."""
        params = dict(request.query_params)
        self.authorize_requests.append(params)
        refused = self.check_authorize(params)
        if refused in ("invalid_client", "redirect_uri_mismatch"):
            # Never redirect to an unchecked URI: a page, as real providers do.
            return Response(f"error: {refused}", status_code=400, media_type="text/plain")
        answer: dict[str, str] = {"state": params.get("state", "")}
        if refused:
            answer["error"] = refused
        else:
            code = secrets.token_urlsafe(16)
            self.codes[code] = Grant(
                client_id=self.client_id,
                scopes=self.scopes_of(params),
                redirect_uri=params["redirect_uri"],
                challenge=params.get("code_challenge"),
                method=params.get("code_challenge_method"),
                extra={"params": params},
            )
            answer["code"] = code
        if self.send_iss:
            answer["iss"] = self.url
        return RedirectResponse(f"{params['redirect_uri']}?{urlencode(answer)}", status_code=302)

    # -- token endpoint building blocks ----------------------------------------------------------

    @staticmethod
    def basic_credentials(request: Request) -> tuple[str, str] | None:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            raw = base64.b64decode(header[6:]).decode()
        except ValueError:
            return None
        user, _, password = raw.partition(":")
        return unquote(user), unquote(password)

    def authenticate(self, request: Request, body: dict[str, Any]) -> str | None:
        """The client authentication error (``None``: authenticated as the allowed methods say)."""
        basic = self.basic_credentials(request)
        if basic is not None:
            if "basic" not in self.client_auth:
                return "invalid_client"
            return None if basic == (self.client_id, self.client_secret) else "invalid_client"
        if body.get("client_secret") is not None:
            if "post" not in self.client_auth:
                return "invalid_client"
            ok = (body.get("client_id"), body.get("client_secret")) == (self.client_id, self.client_secret)
            return None if ok else "invalid_client"
        if "none" in self.client_auth and body.get("client_id") == self.client_id:
            return None
        return "invalid_client"

    def redeem(self, body: dict[str, Any]) -> Grant | str:
        """A code exchange: the grant, or the error (``invalid_grant``, ``invalid_pkce``...)."""
        code = str(body.get("code", ""))
        grant = self.codes.pop(code, None)  # one use only
        if grant is None or self.codes_expire:
            return "invalid_grant"
        if body.get("redirect_uri") and body.get("redirect_uri") != grant.redirect_uri:
            return "redirect_uri_mismatch"
        if grant.challenge:
            verifier = str(body.get("code_verifier", ""))
            if not verifier or s256(verifier) != grant.challenge:
                return "invalid_pkce"
        elif body.get("code_verifier"):
            return "invalid_pkce"
        return grant

    def mint(self, grant: Grant, *, refresh: bool = True) -> tuple[str, str | None]:
        access = self.token_prefix + secrets.token_urlsafe(20)
        self.access[access] = grant
        refresh_token = None
        if refresh:
            refresh_token = self.refresh_prefix + secrets.token_urlsafe(20)
            self.refresh[refresh_token] = grant
        return access, refresh_token

    def use_refresh(self, token: str) -> tuple[Grant, str, str | None] | str:
        """A refresh: ``(grant, access, refresh)`` (a new refresh token when rotating), or an error."""
        grant = self.refresh.get(token)
        if grant is None:
            return "invalid_grant"
        if self.rotate_refresh:
            del self.refresh[token]
            access, new_refresh = self.mint(grant)
            return grant, access, new_refresh
        access, _ = self.mint(grant, refresh=False)
        return grant, access, None

    def bearer(self, request: Request) -> Grant | None:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return None
        return self.access.get(header[7:])

    def revoke_token(self, token: str) -> bool:
        """Revoke a token and the grant behind it (RFC 7009 2.1); whether it was known."""
        grant = self.access.get(token) or self.refresh.get(token)
        if grant is None:
            return False
        self.revoked.append(token)
        for table in (self.access, self.refresh):
            for key in [k for k, g in table.items() if g is grant]:
                del table[key]
        return True

    def invalidate_refresh_tokens(self) -> None:
        """As if the user removed the app: every refresh token stops working."""
        self.refresh.clear()

    # -- device flow --------------------------------------------------------------------------

    def start_device(self, scopes: tuple[str, ...]) -> dict[str, Any]:
        device_code = secrets.token_urlsafe(24)
        user_code = f"{secrets.randbelow(10000):04d}-{secrets.randbelow(10000):04d}"
        self.devices[device_code] = {
            "user_code": user_code,
            "grant": Grant(client_id=self.client_id, scopes=scopes),
            "approved": False,
            "polls": 0,
        }
        return {"device_code": device_code, "user_code": user_code, "expires_in": 900, "interval": self.device_interval}

    def approve(self, user_code: str) -> None:
        for device in self.devices.values():
            if device["user_code"] == user_code:
                device["approved"] = True
                return
        raise KeyError(user_code)

    def poll_device(self, device_code: str) -> Grant | str:
        device = self.devices.get(device_code)
        if device is None:
            return "expired_token"
        device["polls"] += 1
        if not device["approved"] or device["polls"] <= self.pending_polls:
            return "authorization_pending"
        del self.devices[device_code]
        return device["grant"]


async def read_body(request: Request) -> dict[str, Any]:
    """The request's form or JSON body as a dict."""
    if request.headers.get("content-type", "").startswith("application/json"):
        data = await request.json()
        return dict(data) if isinstance(data, dict) else {}
    return dict(await request.form())


class StandardReplica(OAuthReplica):
    """An RFC 6749 / 7009 / 8628 server: JSON answers, ``{"error": ...}`` with HTTP 400/401.

    Subclasses set the paths and add their identity routes.
    """

    authorize_path = "/oauth/authorize"
    token_path = "/oauth/token"
    revoke_path: str | None = "/oauth/revoke"
    device_path: str | None = None

    def routes(self) -> list[Route]:
        routes = [
            Route(self.authorize_path, self.authorize, methods=["GET"]),
            Route(self.token_path, self.token, methods=["POST"]),
        ]
        if self.revoke_path:
            routes.append(Route(self.revoke_path, self.revoke, methods=["POST"]))
        if self.device_path:
            routes.append(Route(self.device_path, self.device, methods=["POST"]))
        return routes

    def issues_refresh(self, grant: Grant) -> bool:
        """Whether a login gives a refresh token (some providers need a scope or parameter)."""
        return True

    def error(self, code: str, status: int = 400) -> JSONResponse:
        return JSONResponse({"error": code, "error_description": f"replica: {code}"}, status_code=status)

    def token_answer(self, grant: Grant, access: str, refresh: str | None) -> dict[str, Any]:
        answer: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "scope": " ".join(grant.scopes)}
        if self.expires_in is not None:
            answer["expires_in"] = self.expires_in
        if refresh:
            answer["refresh_token"] = refresh
        return answer

    async def token(self, request: Request) -> Response:
        body = await read_body(request)
        self.token_requests.append({"body": body, "headers": dict(request.headers)})
        grant_type = body.get("grant_type")
        if grant_type == "urn:ietf:params:oauth:grant-type:device_code":
            if body.get("client_id") not in (None, self.client_id) and self.basic_credentials(request) is None:
                return self.error("invalid_client", 401)
            polled = self.poll_device(str(body.get("device_code", "")))
            if isinstance(polled, str):
                return self.error(polled)
            access, refresh = self.mint(polled, refresh=self.issues_refresh(polled))
            return JSONResponse(self.token_answer(polled, access, refresh))
        refused = self.authenticate(request, body)
        if refused:
            return self.error(refused, 401)
        if grant_type == "authorization_code":
            redeemed = self.redeem(body)
            if isinstance(redeemed, str):
                return self.error("invalid_grant" if redeemed == "invalid_pkce" else redeemed)
            access, refresh = self.mint(redeemed, refresh=self.issues_refresh(redeemed))
            return JSONResponse(self.token_answer(redeemed, access, refresh))
        if grant_type == "refresh_token":
            used = self.use_refresh(str(body.get("refresh_token", "")))
            if isinstance(used, str):
                return self.error(used)
            grant, access, refresh = used
            return JSONResponse(self.token_answer(grant, access, refresh))
        return self.error("unsupported_grant_type")

    async def revoke(self, request: Request) -> Response:
        body = await read_body(request)
        if self.authenticate(request, body):
            return self.error("invalid_client", 401)
        self.revoke_token(str(body.get("token", "")))
        return Response(status_code=200)  # RFC 7009 2.2: 200 for unknown tokens too

    async def device(self, request: Request) -> Response:
        body = await read_body(request)
        if body.get("client_id") != self.client_id and self.basic_credentials(request) is None:
            return self.error("invalid_client", 401)
        answer = self.start_device(self.scopes_of(body))
        answer["verification_uri"] = f"{self.url}/device"
        return JSONResponse(answer)
