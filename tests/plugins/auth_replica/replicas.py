"""One replica per provider: its paths, answer shapes, error shapes and quirks, as documented.

Each is small: :mod:`provider_replica` holds the shared machinery.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any
from urllib.parse import urlencode

from provider_replica import Grant, OAuthReplica, StandardReplica, read_body
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = [
    "CloudflareReplica",
    "DiscordReplica",
    "GitHubReplica",
    "GoogleReplica",
    "LinearReplica",
    "MicrosoftReplica",
    "NotionReplica",
    "SlackReplica",
]


def _unauthorized(message: str = "Bad credentials") -> JSONResponse:
    return JSONResponse({"message": message}, status_code=401)


# -- GitHub -----------------------------------------------------------------------------------


class GitHubReplica(OAuthReplica):
    """github.com / GitHub Enterprise Server (REST API under /api/v3).

    Form-encoded answers unless ``Accept: application/json``; every token endpoint error with
    HTTP 200. ``expiring`` (GitHub App user tokens): 8 h tokens with a rotating refresh token;
    off (OAuth Apps): tokens that never expire, no refresh token.
    """

    client_auth = ("post",)
    token_prefix = "ghu_"
    refresh_prefix = "ghr_"
    expires_in = 28800
    user = {"login": "octocat", "id": 583231, "name": "The Octocat"}

    def reset(self) -> None:
        super().reset()
        self.expiring = True
        self.ignore_accept = False
        self.device_flow_enabled = True
        #: Seconds of a secondary rate limit the next token requests meet (HTTP 403, retry-after).
        self.secondary_limit: float | None = None

    def routes(self) -> list[Route]:
        return [
            Route("/login/oauth/authorize", self.authorize, methods=["GET"]),
            Route("/login/oauth/access_token", self.token, methods=["POST"]),
            Route("/login/device/code", self.device_code, methods=["POST"]),
            Route("/api/v3/user", self.get_user, methods=["GET"]),
            Route("/api/v3/applications/{client_id}/token", self.delete_token, methods=["DELETE"]),
        ]

    def answer(self, request: Request, data: dict[str, Any]) -> Response:
        wants_json = "application/json" in request.headers.get("accept", "") and not self.ignore_accept
        if wants_json:
            return JSONResponse(data)
        return Response(urlencode(data), media_type="application/x-www-form-urlencoded; charset=utf-8")

    def failure(self, request: Request, code: str) -> Response:
        return self.answer(
            request,
            {
                "error": code,
                "error_description": f"replica: {code}",
                "error_uri": "https://docs.github.com/apps/oauth-apps/troubleshooting",
            },
        )

    def tokens(self, grant: Grant) -> dict[str, Any]:
        access, refresh = self.mint(grant, refresh=self.expiring)
        data: dict[str, Any] = {"access_token": access, "token_type": "bearer", "scope": ",".join(grant.scopes)}
        if self.expiring:
            data.update(expires_in=self.expires_in, refresh_token=refresh, refresh_token_expires_in=15897600)
        return data

    async def token(self, request: Request) -> Response:
        body = await read_body(request)
        self.token_requests.append({"body": body, "headers": dict(request.headers)})
        if self.secondary_limit is not None:
            return JSONResponse(
                {
                    "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
                    "again.",
                    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                },
                status_code=403,
                headers={"retry-after": str(int(self.secondary_limit)), "x-ratelimit-remaining": "4999"},
            )
        if body.get("client_id") != self.client_id:
            return self.failure(request, "incorrect_client_credentials")
        grant_type = body.get("grant_type", "authorization_code")
        if grant_type == "urn:ietf:params:oauth:grant-type:device_code":
            polled = self.poll_device(str(body.get("device_code", "")))
            if isinstance(polled, str):
                return self.failure(request, polled)
            return self.answer(request, self.tokens(polled))
        if body.get("client_secret") != self.client_secret:
            return self.failure(request, "incorrect_client_credentials")
        if grant_type == "refresh_token":
            used = self.use_refresh(str(body.get("refresh_token", "")))
            if isinstance(used, str):
                return self.failure(request, "bad_refresh_token")
            grant, access, refresh = used
            data = {"access_token": access, "token_type": "bearer", "scope": ",".join(grant.scopes)}
            data.update(expires_in=self.expires_in, refresh_token=refresh, refresh_token_expires_in=15897600)
            return self.answer(request, data)
        redeemed = self.redeem(body)
        if isinstance(redeemed, str):
            code = "redirect_uri_mismatch" if redeemed == "redirect_uri_mismatch" else "bad_verification_code"
            return self.failure(request, code)
        return self.answer(request, self.tokens(redeemed))

    async def device_code(self, request: Request) -> Response:
        body = await read_body(request)
        if body.get("client_secret"):
            return self.failure(request, "unexpected client_secret")  # the device flow takes the id alone
        if body.get("client_id") != self.client_id:
            return self.failure(request, "incorrect_client_credentials")
        if not self.device_flow_enabled:
            return self.failure(request, "device_flow_disabled")
        answer = self.start_device(self.scopes_of(body))
        answer["verification_uri"] = f"{self.url}/login/device"
        return self.answer(request, answer)

    async def get_user(self, request: Request) -> Response:
        if self.bearer(request) is None:
            return _unauthorized()
        return JSONResponse(self.user)

    async def delete_token(self, request: Request) -> Response:
        basic = self.basic_credentials(request)
        if basic != (self.client_id, self.client_secret) or request.path_params["client_id"] != self.client_id:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        body = json.loads(await request.body() or b"{}")
        if not self.revoke_token(str(body.get("access_token", ""))):
            return JSONResponse({"message": "Not Found"}, status_code=404)
        return Response(status_code=204)


# -- Google -----------------------------------------------------------------------------------


class GoogleReplica(StandardReplica):
    """Google: refresh token only with access_type=offline at consent; ``iss`` in callbacks;
    refresh answers keep the refresh token; /revoke ends the grant; device flow answers
    ``verification_url`` and polls pending with HTTP 428."""

    authorize_path = "/o/oauth2/v2/auth"
    token_path = "/token"
    revoke_path = "/revoke"
    device_path = "/device/code"
    rotate_refresh = False
    send_iss = True
    token_prefix = "ya29."
    refresh_prefix = "1//"
    user = {"sub": "110169484474386276334", "name": "Ada Lovelace", "email": "ada@example.com"}

    def routes(self) -> list[Route]:
        return [*super().routes(), Route("/v1/userinfo", self.userinfo, methods=["GET"])]

    def issues_refresh(self, grant: Grant) -> bool:
        params = grant.extra.get("params")
        if params is None:
            return True  # device flow
        return params.get("access_type") == "offline" and params.get("prompt") == "consent"

    async def revoke(self, request: Request) -> Response:
        body = await read_body(request)
        if not self.revoke_token(str(body.get("token", ""))):
            return JSONResponse({"error": "invalid_token", "error_description": "Token expired or revoked"}, 400)
        return Response(status_code=200)

    async def device(self, request: Request) -> Response:
        response = await super().device(request)
        data = json.loads(response.body)
        if "verification_uri" in data:
            data["verification_url"] = data.pop("verification_uri")
        return JSONResponse(data, status_code=response.status_code)

    async def token(self, request: Request) -> Response:
        response = await super().token(request)
        if response.status_code == 400 and b"authorization_pending" in response.body:
            return Response(response.body, status_code=428, media_type="application/json")
        return response

    async def userinfo(self, request: Request) -> Response:
        if self.bearer(request) is None:
            return JSONResponse({"error": "invalid_request"}, status_code=401)
        return JSONResponse(self.user)


# -- Microsoft --------------------------------------------------------------------------------


def _jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.{base64.urlsafe_b64encode(b'sig').decode()}"


class MicrosoftReplica(StandardReplica):
    """Microsoft identity platform: tenant in the path, ``offline_access`` for a refresh token,
    rotating refresh tokens, ID tokens with ``oid``/``tid``, Graph ``/v1.0/me``, device flow at
    ``/{tenant}/oauth2/v2.0/devicecode``, no revocation endpoint.

    Per tenant, ``/{tenant}/v2.0/.well-known/openid-configuration``: a domain tenant's document
    names the tenant's GUID in ``issuer`` (as Entra's do); ``common`` / ``organizations`` hold
    the literal ``{tenantid}``; an unknown tenant answers HTTP 400 with ``AADSTS90002``. Errors
    carry ``error_codes`` and an ``AADSTSnnnnn:`` description, as documented.
    """

    authorize_path = "/{tenant}/oauth2/v2.0/authorize"
    token_path = "/{tenant}/oauth2/v2.0/token"
    device_path = "/{tenant}/oauth2/v2.0/devicecode"
    revoke_path = None
    client_auth = ("basic", "post", "none")
    token_prefix = "eyJ0eXAi."
    refresh_prefix = "0.AXoA"
    home_tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    other_tenant = "4d9c1b2e-0f7a-4c55-9a8e-3b6f2d1c0e9f"
    #: Verified domains of the tenants this replica knows.
    domains = {"contoso.onmicrosoft.com": home_tenant, "fabrikam.onmicrosoft.com": other_tenant}
    oid = "00000000-0000-0000-66f3-3332eca7ea81"
    user = {"id": oid, "displayName": "Megan Bowen", "userPrincipalName": "meganb@contoso.example"}

    def reset(self) -> None:
        super().reset()
        self.tenants: list[str] = []
        self.interaction_required = False
        #: (error, AADSTS code, description) the next refresh is refused with.
        self.refresh_error: tuple[str, int, str] | None = None
        self.decline_devices = False

    def routes(self) -> list[Route]:
        return [
            Route("/{tenant}/v2.0/.well-known/openid-configuration", self.discovery, methods=["GET"]),
            *super().routes(),
            Route("/v1.0/me", self.me, methods=["GET"]),
        ]

    def aad_error(self, error: str, code: int, text: str, status: int = 400) -> JSONResponse:
        return JSONResponse(
            {
                "error": error,
                "error_description": f"AADSTS{code}: {text}\r\nTrace ID: 0000aaaa-11bb\r\nCorrelation ID: aaaa0000",
                "error_codes": [code],
                "timestamp": "2026-12-01 12:00:00Z",
                "trace_id": "0000aaaa-11bb",
                "correlation_id": "aaaa0000",
            },
            status_code=status,
        )

    async def discovery(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        if tenant in ("common", "organizations", "consumers"):
            tid = "{tenantid}" if tenant != "consumers" else "9188040d-6c67-4c5b-b112-36a304b66dad"
        elif tenant in self.domains.values():
            tid = tenant
        elif tenant in self.domains:
            tid = self.domains[tenant]
        else:
            return self.aad_error("invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
        root = f"{self.url}/{tid if tid != '{tenantid}' else tenant}/oauth2/v2.0"
        return JSONResponse(
            {
                "issuer": f"{self.url}/{tid}/v2.0",
                "authorization_endpoint": f"{root}/authorize",
                "token_endpoint": f"{root}/token",
                "device_authorization_endpoint": f"{root}/devicecode",
                "userinfo_endpoint": f"{self.url}/oidc/userinfo",
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
            }
        )

    def issues_refresh(self, grant: Grant) -> bool:
        return "offline_access" in grant.scopes

    async def authorize(self, request: Request) -> Response:
        self.tenants.append(request.path_params["tenant"])
        return await super().authorize(request)

    async def token(self, request: Request) -> Response:
        self.tenants.append(request.path_params["tenant"])
        if self.interaction_required:
            return self.aad_error(
                "interaction_required",
                50076,
                "Due to a configuration change made by your administrator, or because you moved to a new "
                "location, you must use multi-factor authentication to access the app.",
            )
        body = dict(await request.form())
        if body.get("grant_type") == "refresh_token" and self.refresh_error is not None:
            error, code, text = self.refresh_error
            return self.aad_error(error, code, text)
        if self.decline_devices and body.get("grant_type") == "urn:ietf:params:oauth:grant-type:device_code":
            return JSONResponse(
                {
                    "error": "authorization_declined",
                    "error_description": "The end user denied the authorization request.",
                },
                400,
            )
        return await super().token(request)

    def token_answer(self, grant: Grant, access: str, refresh: str | None) -> dict[str, Any]:
        answer = super().token_answer(grant, access, refresh)
        if "openid" in grant.scopes:
            answer["id_token"] = _jwt(
                {
                    "iss": f"{self.url}/{self.home_tenant}/v2.0",
                    "aud": self.client_id,
                    "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
                    "oid": self.oid,
                    "tid": self.home_tenant,
                    "name": "Megan Bowen",
                    "preferred_username": "meganb@contoso.example",
                }
            )
        return answer

    async def me(self, request: Request) -> Response:
        grant = self.bearer(request)
        if grant is None or "User.Read" not in grant.scopes:
            return JSONResponse({"error": {"code": "InvalidAuthenticationToken", "message": "no"}}, status_code=401)
        return JSONResponse(self.user)


# -- Slack ------------------------------------------------------------------------------------


class SlackReplica(OAuthReplica):
    """Slack OAuth v2: HTTP 200 with ``ok: false`` on every failure; bot token at the top level,
    user token under ``authed_user``; comma-separated ``scope`` / ``user_scope``; 12 h tokens
    with refresh only when token rotation is on."""

    expires_in = 43200
    team = {"id": "T9TK3CUKW", "name": "Slack Softball Team"}
    #: The app's Redirect URLs (OAuth & Permissions): https only, as Slack requires.
    redirect_urls = ("https://app.example.com/slack/oauth",)

    def reset(self) -> None:
        super().reset()
        self.rotation = True
        #: Seconds of a rate limit the next Web API calls meet (``None``: not limited).
        self.rate_limited: float | None = None

    def routes(self) -> list[Route]:
        return [
            Route("/oauth/v2/authorize", self.authorize, methods=["GET"]),
            Route("/api/oauth.v2.access", self.access_method, methods=["POST"]),
            Route("/api/auth.test", self.auth_test, methods=["POST", "GET"]),
            Route("/api/auth.revoke", self.auth_revoke, methods=["POST", "GET"]),
        ]

    def fail(self, error: str) -> JSONResponse:
        return JSONResponse({"ok": False, "error": error})

    def check_authorize(self, params: dict[str, str]) -> str | None:
        for key in ("scope", "user_scope"):
            if " " in params.get(key, ""):
                return "invalid_scope"  # Slack wants commas
        if params.get("client_id") != self.client_id:
            return "invalid_client"
        if params.get("redirect_uri") not in self.redirect_urls:
            return "redirect_uri_mismatch"  # not a registered (https) Redirect URL: an error page, no redirect
        if params.get("code_challenge") and params.get("code_challenge_method") != "S256":
            return "invalid_request"
        return None

    def limited(self) -> JSONResponse | None:
        if self.rate_limited is None:
            return None
        return JSONResponse(
            {"ok": False, "error": "ratelimited"},
            status_code=429,
            headers={"Retry-After": str(int(self.rate_limited))},
        )

    def mint_kind(self, grant: Grant, kind: str) -> dict[str, Any]:
        self.token_prefix, self.refresh_prefix = ("xoxp-", "xoxe-1-") if kind == "user" else ("xoxb-", "xoxe-1-")
        access, refresh = self.mint(Grant(grant.client_id, grant.scopes, extra={"kind": kind}), refresh=self.rotation)
        data: dict[str, Any] = {"access_token": access, "token_type": kind}
        if refresh:
            data.update(refresh_token=refresh, expires_in=self.expires_in)
        return data

    async def access_method(self, request: Request) -> Response:
        body = await read_body(request)
        self.token_requests.append({"body": body, "headers": dict(request.headers)})
        if (limited := self.limited()) is not None:
            return limited
        if self.authenticate(request, body):
            return self.fail("invalid_client_id" if body.get("client_id") != self.client_id else "bad_client_secret")
        if body.get("grant_type") == "refresh_token":
            old = self.refresh.get(str(body.get("refresh_token", "")))
            if old is None or not self.rotation:
                return self.fail("invalid_refresh_token")
            kind = old.extra["kind"]
            del self.refresh[str(body["refresh_token"])]
            answer = {"ok": True, **self.mint_kind(old, kind), "scope": ",".join(old.scopes), "team": self.team}
            return JSONResponse(answer)
        redeemed = self.redeem(body)
        if isinstance(redeemed, str):
            return self.fail("invalid_code" if redeemed != "redirect_uri_mismatch" else "bad_redirect_uri")
        params = redeemed.extra["params"]
        bot_scopes = tuple(s for s in params.get("scope", "").split(",") if s)
        user_scopes = tuple(s for s in params.get("user_scope", "").split(",") if s)
        answer: dict[str, Any] = {"ok": True, "app_id": "A0KRD7HC3", "team": self.team, "enterprise": None}
        answer["authed_user"] = {"id": "U1234"}
        if bot_scopes:
            answer.update(self.mint_kind(Grant(self.client_id, bot_scopes), "bot"))
            answer.update(scope=",".join(bot_scopes), bot_user_id="U0KRQLJ9H")
        if user_scopes:
            answer["authed_user"].update(self.mint_kind(Grant(self.client_id, user_scopes), "user"))
            answer["authed_user"]["scope"] = ",".join(user_scopes)
        return JSONResponse(answer)

    async def auth_test(self, request: Request) -> Response:
        grant = self.bearer(request)
        if grant is None:
            return self.fail("invalid_auth")
        user, user_id = ("alice", "U1234") if grant.extra["kind"] == "user" else ("softball-bot", "U0KRQLJ9H")
        return JSONResponse(
            {
                "ok": True,
                "url": "https://softball.slack.com/",
                "team": self.team["name"],
                "user": user,
                "team_id": self.team["id"],
                "user_id": user_id,
            }
        )

    async def auth_revoke(self, request: Request) -> Response:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer ") or not self.revoke_token(header[7:]):
            return self.fail("invalid_auth")
        return JSONResponse({"ok": True, "revoked": True})


# -- Notion -----------------------------------------------------------------------------------


class NotionReplica(OAuthReplica):
    """Notion: ``owner=user``; the token endpoint wants Basic auth, a JSON body and a
    ``Notion-Version`` header; identity in the token answer; ``legacy`` tokens never expire and
    have no refresh token."""

    client_auth = ("basic",)
    token_prefix = "ntn_"
    refresh_prefix = "nrt_"

    def reset(self) -> None:
        super().reset()
        self.legacy = False
        #: The next token request fails schema validation (Notion's documented 400 validation_error).
        self.validation_error = False

    def routes(self) -> list[Route]:
        return [
            Route("/v1/oauth/authorize", self.authorize, methods=["GET"]),
            Route("/v1/oauth/token", self.token, methods=["POST"]),
            Route("/v1/oauth/revoke", self.revoke, methods=["POST"]),
        ]

    def check_authorize(self, params: dict[str, str]) -> str | None:
        if params.get("owner") != "user":
            return "invalid_request"
        return super().check_authorize(params)

    def api_error(self, status: int, code: str, message: str) -> JSONResponse:
        return JSONResponse({"object": "error", "status": status, "code": code, "message": message}, status)

    async def _checked_json(self, request: Request) -> dict[str, Any] | Response:
        if not request.headers.get("notion-version"):
            return self.api_error(400, "missing_version", "Notion-Version header failed validation")
        if not request.headers.get("content-type", "").startswith("application/json"):
            return self.api_error(400, "invalid_request", "body must be JSON")
        body = await read_body(request)
        if self.authenticate(request, body):
            return self.api_error(401, "unauthorized", "API token is invalid.")
        return body

    def answer(self, access: str, refresh: str | None) -> dict[str, Any]:
        owner: dict[str, Any] = (
            {"workspace": True}
            if self.legacy
            else {
                "type": "user",
                "user": {
                    "object": "user",
                    "id": "c2f20311-9e54-4d11-8c79-7398424ae41e",
                    "name": "Ada Lovelace",
                    "type": "person",
                    "person": {"email": "ada@example.com"},
                },
            }
        )
        data: dict[str, Any] = {
            "access_token": access,
            "token_type": "bearer",
            "bot_id": "b3414d65-9122-4b1f-a8c2-3d6c4e8d4f7d",
            "workspace_name": "Acme",
            "workspace_icon": None,
            "workspace_id": "1e4b7c3a-52a9-4bd2-9d6e-9e1f0c1e6a5b",
            "owner": owner,
            "duplicated_template_id": None,
            "request_id": secrets.token_hex(8),
        }
        if refresh:
            data["refresh_token"] = refresh
        return data

    async def token(self, request: Request) -> Response:
        body = await self._checked_json(request)
        if isinstance(body, Response):
            return body
        self.token_requests.append({"body": body, "headers": dict(request.headers)})
        if self.validation_error:
            return self.api_error(
                400, "validation_error", "body failed validation: body.redirect_uri should be a valid uri."
            )
        if body.get("grant_type") == "refresh_token":
            used = self.use_refresh(str(body.get("refresh_token", "")))
            if isinstance(used, str):
                return JSONResponse({"error": "invalid_grant", "error_description": "Invalid refresh token."}, 400)
            _, access, refresh = used
            return JSONResponse(self.answer(access, refresh))
        redeemed = self.redeem(body)
        if isinstance(redeemed, str):
            return JSONResponse({"error": "invalid_grant", "error_description": "Invalid code."}, 400)
        access, refresh = self.mint(redeemed, refresh=not self.legacy)
        return JSONResponse(self.answer(access, refresh))

    async def revoke(self, request: Request) -> Response:
        body = await self._checked_json(request)
        if isinstance(body, Response):
            return body
        if not self.revoke_token(str(body.get("token", ""))):
            return self.api_error(400, "validation_error", "token is not valid")
        return JSONResponse({})


# -- Linear -----------------------------------------------------------------------------------


class LinearReplica(StandardReplica):
    """Linear: comma-separated scopes, form body with the client secret in it, 24 h tokens with
    rotating refresh tokens, GraphQL ``viewer``, revocation with the token as bearer."""

    authorize_path = "/oauth/authorize"
    token_path = "/oauth/token"
    revoke_path = "/oauth/revoke"
    client_auth = ("post",)
    expires_in = 86399
    token_prefix = "lin_oauth_"

    def routes(self) -> list[Route]:
        return [*super().routes(), Route("/graphql", self.graphql, methods=["POST"])]

    def check_authorize(self, params: dict[str, str]) -> str | None:
        if " " in params.get("scope", ""):
            return "invalid_scope"
        return super().check_authorize(params)

    async def revoke(self, request: Request) -> Response:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer ") or not self.revoke_token(header[7:]):
            return JSONResponse({"error": "invalid_token"}, status_code=400)
        return Response(status_code=200)

    async def graphql(self, request: Request) -> Response:
        if self.bearer(request) is None:
            return JSONResponse(
                {
                    "errors": [
                        {
                            "message": "Authentication required, not authenticated",
                            "extensions": {"type": "authentication error"},
                        }
                    ]
                },
                status_code=400,
            )
        query = (await request.json()).get("query", "")
        if "viewer" not in query:
            return JSONResponse({"errors": [{"message": "unknown query"}]}, status_code=400)
        return JSONResponse(
            {"data": {"viewer": {"id": "2f8d5c1e-lin-user", "name": "Grace Hopper", "email": "grace@example.com"}}}
        )


# -- Discord ----------------------------------------------------------------------------------


class DiscordReplica(StandardReplica):
    """Discord: RFC 6749 with PKCE, RFC 7009 revocation. The documented redirect carries
    ``code`` and ``state`` only (no RFC 9207 ``iss``). Rate limits answer HTTP 429 with a
    ``Retry-After`` header and ``{"message", "retry_after", "global"}`` (``rate_limited``)."""

    authorize_path = "/api/oauth2/authorize"
    token_path = "/api/oauth2/token"
    revoke_path = "/api/oauth2/token/revoke"
    client_auth = ("basic", "post", "none")
    send_iss = False
    expires_in = 604800

    def reset(self) -> None:
        super().reset()
        #: Seconds of a rate limit the next token requests meet (``None``: not limited).
        self.rate_limited: float | None = None

    async def token(self, request: Request) -> Response:
        if self.rate_limited is not None:
            self.token_requests.append({"body": await read_body(request), "headers": dict(request.headers)})
            return JSONResponse(
                {"message": "You are being rate limited.", "retry_after": self.rate_limited, "global": False},
                status_code=429,
                headers={"Retry-After": str(int(self.rate_limited) + 1), "X-RateLimit-Scope": "user"},
            )
        return await super().token(request)

    def routes(self) -> list[Route]:
        return [*super().routes(), Route("/api/users/@me", self.me, methods=["GET"])]

    async def me(self, request: Request) -> Response:
        if self.bearer(request) is None:
            return JSONResponse({"message": "401: Unauthorized", "code": 0}, status_code=401)
        return JSONResponse(
            {
                "id": "80351110224678912",
                "username": "nelly",
                "global_name": "Nelly",
                "discriminator": "0",
                "avatar": None,
            }
        )


# -- Cloudflare -------------------------------------------------------------------------------


class CloudflareReplica(StandardReplica):
    """Cloudflare: refresh token only with ``offline_access``; ``/oauth2/userinfo`` answers
    ``sub`` alone; ``/client/v4/user`` (needs ``user-details.read``) has the name and e-mail."""

    authorize_path = "/oauth2/auth"
    token_path = "/oauth2/token"
    revoke_path = "/oauth2/revoke"
    client_auth = ("basic",)

    def routes(self) -> list[Route]:
        return [
            *super().routes(),
            Route("/oauth2/userinfo", self.userinfo, methods=["GET"]),
            Route("/client/v4/user", self.user, methods=["GET"]),
        ]

    def issues_refresh(self, grant: Grant) -> bool:
        return "offline_access" in grant.scopes

    async def userinfo(self, request: Request) -> Response:
        if self.bearer(request) is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        return JSONResponse({"sub": "7c5dae5552338874e5053f2534d2767a"})

    async def user(self, request: Request) -> Response:
        grant = self.bearer(request)
        if grant is None or "user-details.read" not in grant.scopes:
            return JSONResponse(
                {
                    "success": False,
                    "errors": [{"code": 9109, "message": "Unauthorized to access requested resource"}],
                    "messages": [],
                    "result": None,
                },
                status_code=403,
            )
        return JSONResponse(
            {
                "success": True,
                "errors": [],
                "messages": [],
                "result": {
                    "id": "7c5dae5552338874e5053f2534d2767a",
                    "email": "ada@example.com",
                    "first_name": "Ada",
                    "last_name": "Lovelace",
                },
            }
        )
