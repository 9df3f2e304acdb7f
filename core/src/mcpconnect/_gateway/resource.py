"""The gateway as an OAuth protected resource (the MCP authorization spec, server side).

:class:`ResourceGuard` wraps the gateway's ASGI app when ``[gateway] authorization_server`` is set:

* ``GET /.well-known/oauth-protected-resource`` (and the same path suffixed with ``/mcp``) answers
  the RFC 9728 metadata: the resource URI, the authorization server, the scopes it needs.
* Every other request (``/healthz`` excepted) needs ``Authorization: Bearer TOKEN``: a JWT access
  token of that authorization server (signature by a key of its JWKS, asymmetric algorithms only;
  ``iss``, ``aud`` = the resource URI, ``exp``/``nbf``, ``sub``) or, with
  ``[gateway.introspection]``, a token the issuer's RFC 7662 endpoint calls active. A static client
  key of ``[gateway] api_keys_env`` is admitted too.
* Without a usable token: 401 with ``WWW-Authenticate: Bearer resource_metadata="..."`` (and
  ``error="invalid_token"`` when one was sent); without the scopes: 403 ``insufficient_scope``.

The admitted :class:`User` is put in the ASGI scope's ``state`` under :data:`USER_STATE_KEY`; the
MCP handlers read it from their request context (:func:`user_of_request`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio
import httpx
import jwt

from mcpconnect.errors import ConfigError

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from mcpconnect._config import GatewayConfig

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "MAX_TOKEN_BYTES",
    "METADATA_PATH",
    "USER_STATE_KEY",
    "ResourceGuard",
    "TokenVerifier",
    "User",
    "introspection_credentials",
    "user_of_request",
]

log = logging.getLogger("mcpconnect.gateway")

METADATA_PATH = "/.well-known/oauth-protected-resource"
#: Where the admitted user is kept in ``scope["state"]``.
USER_STATE_KEY = "mcpconnect.user"
#: Longer bearer tokens are refused before any parsing.
MAX_TOKEN_BYTES = 8192
#: Seconds of clock skew tolerated on ``exp``/``nbf``/``iat``.
LEEWAY = 30
#: A token signed by a key the cached JWKS does not hold refetches it at most this often (seconds).
JWKS_REFETCH_INTERVAL = 30.0
#: How long a fetched JWKS is used before it is fetched again anyway (seconds).
JWKS_MAX_AGE = 3600.0
#: Signature algorithms accepted: public-key ones only (no ``none``, no HMAC with a public key).
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"}
)
#: Static client keys are users of this issuer.
API_KEY_ISSUER = "mcpconnect:api-key"
#: Seconds a request to the authorization server may take.
HTTP_TIMEOUT = 10.0
#: Seconds an active introspection answer is reused (never past the token's ``exp``); a revoked
#: token is refused at most this long after its revocation.
INTROSPECTION_CACHE_SECONDS = 60.0
#: Introspection answers kept at most (the oldest are dropped first).
INTROSPECTION_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class User:
    """Who a request comes from: the token's issuer and subject, and the scopes it grants."""

    issuer: str
    subject: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    client_id: str = ""

    @property
    def key(self) -> str:
        """A stable key for this user across issuers (``issuer`` and ``sub`` together)."""
        return f"{self.issuer}#{self.subject}"


def user_of_request(request: Any) -> User | None:
    """The user a (Starlette) request was admitted as, or ``None`` (no guard, stdio)."""
    scope = getattr(request, "scope", None)
    if not isinstance(scope, dict):
        return None
    state = scope.get("state")
    user = state.get(USER_STATE_KEY) if isinstance(state, dict) else None
    return user if isinstance(user, User) else None


class InvalidToken(Exception):
    """The bearer token is not one this gateway accepts (the message is for the log, not the client)."""


class Unavailable(Exception):
    """The authorization server cannot be asked now (down, misconfigured): 503, not the token's fault."""


class TokenVerifier:
    """Validate bearer tokens of one issuer for one audience (JWT or introspection)."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        introspection_client: tuple[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self._introspection_client = introspection_client
        self._transport = transport
        self._metadata: dict[str, Any] | None = None
        self._keys: dict[str, tuple[dict[str, Any], jwt.PyJWK]] = {}
        self._unnamed: list[tuple[dict[str, Any], jwt.PyJWK]] = []
        self._jwks_fetched = 0.0
        self._jwks_error: str | None = None
        self._lock = anyio.Lock()
        #: SHA-256 of a token -> (the user, monotonic time until which the answer holds).
        self._introspected: dict[bytes, tuple[User, float]] = {}

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=HTTP_TIMEOUT, transport=self._transport, follow_redirects=False)

    async def metadata(self) -> dict[str, Any]:
        """The issuer's RFC 8414 metadata (OpenID discovery as a fallback), fetched once."""
        if self._metadata is not None:
            return self._metadata
        parts = urlsplit(self.issuer)
        origin = f"{parts.scheme}://{parts.netloc}"
        path = parts.path.rstrip("/")
        urls = [
            f"{origin}/.well-known/oauth-authorization-server{path}",
            f"{origin}/.well-known/openid-configuration{path}",
            f"{self.issuer.rstrip('/')}/.well-known/openid-configuration",
        ]
        async with self._client() as client:
            for url in dict.fromkeys(urls):
                try:
                    response = await client.get(url)
                except httpx.HTTPError as exc:
                    raise Unavailable(f"authorization server metadata unreachable: {exc}") from None
                if response.status_code != 200:
                    continue
                try:
                    data = response.json()
                except ValueError:
                    continue
                if isinstance(data, dict) and data.get("issuer") == self.issuer:
                    self._metadata = data
                    return data
        raise Unavailable(f"no authorization server metadata naming issuer {self.issuer}")

    async def verify(self, token: str) -> User:
        """The user ``token`` stands for; :class:`InvalidToken` when it is not acceptable."""
        if self._introspection_client is not None:
            return await self._introspect(token)
        return await self._verify_jwt(token)

    # -- JWT access tokens -------------------------------------------------------------------------

    async def _verify_jwt(self, token: str) -> User:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"not a JWT: {exc}") from None
        alg = header.get("alg")
        if alg not in ASYMMETRIC_ALGORITHMS:
            raise InvalidToken(f"algorithm {alg!r} is not accepted")
        key = await self._key(header.get("kid"), alg)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        return _user(self.issuer, claims)

    async def _key(self, kid: Any, alg: str) -> jwt.PyJWK:
        found = self._find(kid, alg)
        stale = time.monotonic() - self._jwks_fetched > JWKS_MAX_AGE
        if found is None or stale:
            async with self._lock:
                found = self._find(kid, alg)
                since = time.monotonic() - self._jwks_fetched
                if (found is None and since >= JWKS_REFETCH_INTERVAL) or since > JWKS_MAX_AGE:
                    await self._fetch_jwks()
                    found = self._find(kid, alg)
                elif found is None and self._jwks_error is not None:
                    # The last fetch failed less than 30 s ago: still the issuer's fault, not the token's.
                    raise Unavailable(self._jwks_error)
        if found is None:
            raise InvalidToken(f"no key {kid!r} in the issuer's JWKS")
        return found

    def _find(self, kid: Any, alg: str) -> jwt.PyJWK | None:
        if isinstance(kid, str):
            named = self._keys.get(kid)
            return named[1] if named is not None and _fits(named[0], alg) else None
        # No kid: only a JWKS with exactly one key usable for ``alg`` names it unambiguously.
        candidates = [key for entry, key in [*self._keys.values(), *self._unnamed] if _fits(entry, alg)]
        return candidates[0] if len(candidates) == 1 else None

    async def _fetch_jwks(self) -> None:
        self._jwks_fetched = time.monotonic()
        try:
            await self._read_jwks()
        except Unavailable as exc:
            self._jwks_error = str(exc)
            raise
        self._jwks_error = None

    async def _read_jwks(self) -> None:
        metadata = await self.metadata()
        uri = metadata.get("jwks_uri")
        if not isinstance(uri, str):
            raise Unavailable("the issuer's metadata has no jwks_uri")
        async with self._client() as client:
            try:
                response = await client.get(uri)
                response.raise_for_status()
                data = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise Unavailable(f"JWKS unreadable: {exc}") from None
        keys: dict[str, tuple[dict[str, Any], jwt.PyJWK]] = {}
        unnamed: list[tuple[dict[str, Any], jwt.PyJWK]] = []
        for entry in data.get("keys", []) if isinstance(data, dict) else []:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or entry.get("kty") == "oct":
                continue
            try:
                key = jwt.PyJWK(entry)
            except jwt.PyJWTError:
                continue  # a key type or curve this installation cannot use
            if isinstance(entry.get("kid"), str):
                keys[entry["kid"]] = (entry, key)
            else:
                unnamed.append((entry, key))
        self._keys, self._unnamed = keys, unnamed

    # -- RFC 7662 introspection --------------------------------------------------------------------

    async def _introspect(self, token: str) -> User:
        digest = hashlib.sha256(token.encode()).digest()  # the cache holds no token
        cached = self._introspected.get(digest)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        user, exp = await self._ask_introspection(token)
        ttl = INTROSPECTION_CACHE_SECONDS if exp is None else min(INTROSPECTION_CACHE_SECONDS, exp - time.time())
        if ttl > 0:
            if len(self._introspected) >= INTROSPECTION_CACHE_SIZE:
                now = time.monotonic()
                self._introspected = {k: v for k, v in self._introspected.items() if v[1] > now}
                while len(self._introspected) >= INTROSPECTION_CACHE_SIZE:
                    del self._introspected[next(iter(self._introspected))]
            self._introspected[digest] = (user, time.monotonic() + ttl)
        return user

    async def _ask_introspection(self, token: str) -> tuple[User, float | None]:
        assert self._introspection_client is not None
        metadata = await self.metadata()
        endpoint = metadata.get("introspection_endpoint")
        if not isinstance(endpoint, str):
            raise Unavailable("the issuer's metadata has no introspection_endpoint")
        client_id, secret = self._introspection_client
        async with self._client() as client:
            try:
                response = await client.post(
                    endpoint,
                    data={"token": token, "token_type_hint": "access_token"},
                    auth=(client_id, secret),
                    headers={"accept": "application/json"},
                )
                data = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise Unavailable(f"introspection failed: {exc}") from None
        if response.status_code >= 500 or response.status_code in (401, 403):
            # The issuer is down, or refuses the gateway's own credentials: not the client's fault.
            raise Unavailable(f"introspection answered HTTP {response.status_code}")
        if response.status_code != 200 or not isinstance(data, dict):
            raise InvalidToken(f"introspection answered HTTP {response.status_code}")
        if data.get("active") is not True:
            raise InvalidToken("the token is not active")
        if data.get("iss", self.issuer) != self.issuer:
            raise InvalidToken("the token is of another issuer")
        audience = data.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
        if self.audience not in audiences:
            raise InvalidToken("the token is not for this resource")
        now = time.time()
        if isinstance(data.get("exp"), int | float) and data["exp"] + LEEWAY < now:
            raise InvalidToken("the token has expired")
        if isinstance(data.get("nbf"), int | float) and data["nbf"] - LEEWAY > now:
            raise InvalidToken("the token is not yet valid")
        if not isinstance(data.get("sub"), str) or not data["sub"]:
            raise InvalidToken("the token names no subject")
        exp = data.get("exp")
        return _user(self.issuer, data), float(exp) if isinstance(exp, int | float) else None


def _fits(entry: dict[str, Any], alg: str) -> bool:
    """Whether the JWK ``entry`` can verify ``alg`` (its own ``alg`` when it names one, else its type)."""
    if entry.get("alg"):
        return bool(entry["alg"] == alg)
    kty = entry.get("kty")
    if kty == "RSA":
        return alg[:2] in ("RS", "PS")
    if kty == "EC":
        return alg.startswith("ES")
    return kty == "OKP" and alg in ("EdDSA", "Ed25519")


def _user(issuer: str, claims: dict[str, Any]) -> User:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("the token names no subject")
    raw = claims.get("scope", claims.get("scp", ""))
    scopes = (
        raw.split() if isinstance(raw, str) else [s for s in raw if isinstance(s, str)] if isinstance(raw, list) else []
    )
    client = claims.get("client_id", claims.get("azp", ""))
    return User(
        issuer=issuer, subject=subject, scopes=frozenset(scopes), client_id=client if isinstance(client, str) else ""
    )


class ResourceGuard:
    """ASGI middleware: RFC 9728 metadata, bearer token checks, the user in ``scope["state"]``."""

    def __init__(
        self,
        app: ASGIApp,
        config: GatewayConfig,
        *,
        keys: list[str] | None = None,
        public_paths: tuple[str, ...] = ("/healthz",),
        verifier: TokenVerifier | None = None,
        environ: dict[str, str] | os._Environ[str] | None = None,
    ) -> None:
        if not config.authorization_server or not config.resource:
            raise ConfigError(
                "the gateway as a protected resource needs [gateway] authorization_server and public_url",
                key="gateway.authorization_server",
            )
        self.app = app
        self.resource = config.resource
        self.authorization_server = config.authorization_server
        self.required_scopes = list(config.required_scopes)
        self.public_paths = public_paths
        self._keys = [k.encode() for k in keys or []]
        resource_path = urlsplit(self.resource).path
        self.metadata_paths = {METADATA_PATH, METADATA_PATH + resource_path}
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(self.resource))
        self.metadata_url = origin + METADATA_PATH + resource_path
        self.verifier = verifier or TokenVerifier(
            config.authorization_server,
            config.audience or self.resource,
            introspection_client=introspection_credentials(config, os.environ if environ is None else environ),
        )

    def metadata(self) -> dict[str, Any]:
        """The RFC 9728 protected resource metadata document."""
        document: dict[str, Any] = {
            "resource": self.resource,
            "authorization_servers": [self.authorization_server],
            "bearer_methods_supported": ["header"],
            "resource_name": "mcpconnect gateway",
        }
        if self.required_scopes:
            document["scopes_supported"] = self.required_scopes
        return document

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path in self.metadata_paths:
            if scope.get("method") in ("GET", "HEAD"):
                await _send_json(send, 200, self.metadata(), [(b"cache-control", b"public, max-age=300")])
            else:
                await _send_json(send, 405, {"error": "method_not_allowed"}, [(b"allow", b"GET, HEAD")])
            return
        if path in self.public_paths:
            await self.app(scope, receive, send)
            return
        token = _bearer(scope)
        if token is None:
            await self._challenge(send, 401, None, "send an access token as Authorization: Bearer TOKEN")
            return
        if len(token) > MAX_TOKEN_BYTES:
            await self._challenge(send, 401, "invalid_token", f"the token is longer than {MAX_TOKEN_BYTES} bytes")
            return
        user = self._api_key_user(token)
        if user is None:
            try:
                user = await self.verifier.verify(token.decode("ascii"))
            except (InvalidToken, UnicodeDecodeError) as exc:
                log.info("gateway: bearer token refused: %s", exc)
                await self._challenge(send, 401, "invalid_token", "the access token is not valid for this gateway")
                return
            except Unavailable as exc:
                log.warning("gateway: cannot check bearer tokens: %s", exc)
                body = {
                    "error": "temporarily_unavailable",
                    "error_description": "the gateway cannot reach its authorization server; try again later",
                }
                await _send_json(send, 503, body, [(b"retry-after", b"5")])
                return
            missing = [s for s in self.required_scopes if s not in user.scopes]
            if missing:
                await self._challenge(
                    send, 403, "insufficient_scope", f"the token lacks scope {' '.join(missing)}", scope=True
                )
                return
        state = scope.setdefault("state", {})
        state[USER_STATE_KEY] = user
        scope["user"], scope["auth"] = _sdk_principal(user, self.resource)
        await self.app(scope, receive, send)

    def _api_key_user(self, token: bytes) -> User | None:
        # Every key compared, in constant time, so timing says nothing about which one is close.
        matched: bytes | None = None
        for key in self._keys:
            if hmac.compare_digest(key, token):
                matched = key
        if matched is None:
            return None
        # A stable, non-secret name for the key: the start of its SHA-256.
        return User(API_KEY_ISSUER, "key-" + hashlib.sha256(matched).hexdigest()[:16], frozenset(), "api-key")

    async def _challenge(
        self, send: Send, status: int, error: str | None, description: str, *, scope: bool = False
    ) -> None:
        params = [f'resource_metadata="{self.metadata_url}"']
        if error:
            params.append(f'error="{error}"')
            params.append(f'error_description="{description}"')
        if scope or (status == 401 and self.required_scopes):
            params.append(f'scope="{" ".join(self.required_scopes)}"')
        body = {"error": error or "unauthorized", "error_description": description}
        await _send_json(send, status, body, [(b"www-authenticate", ("Bearer " + ", ".join(params)).encode())])


def _sdk_principal(user: User, resource: str) -> tuple[Any, Any]:
    """``scope["user"]``/``scope["auth"]`` as the SDK's bearer middleware sets them: its streamable
    HTTP session manager then serves a session only to the principal (client, issuer, subject) that
    opened it."""
    from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
    from mcp.server.auth.provider import AccessToken
    from starlette.authentication import AuthCredentials

    scopes = sorted(user.scopes)
    # The raw token stays out of it: nothing downstream needs it, and reprs must not show it.
    access = AccessToken(
        token="",
        client_id=user.client_id,
        scopes=scopes,
        subject=user.subject,
        claims={"iss": user.issuer},
        resource=resource,
    )
    return AuthenticatedUser(access), AuthCredentials(scopes)


def introspection_credentials(config: GatewayConfig, environ: Any) -> tuple[str, str] | None:
    """The gateway's client id and secret for introspection; ConfigError when a variable is unset."""
    options = config.introspection
    if options is None:
        return None
    values = []
    for name, key in ((options.client_id_env, "client_id_env"), (options.client_secret_env, "client_secret_env")):
        value = environ.get(name, "")
        if not value:
            raise ConfigError(
                f"[gateway.introspection] {key} names {name}, which is not set or empty; export {name}=...",
                key=f"gateway.introspection.{key}",
            )
        values.append(value)
    return values[0], values[1]


def _bearer(scope: Scope) -> bytes | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            token = token.strip()
            return token if scheme.lower() == b"bearer" and token else None
    return None


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
