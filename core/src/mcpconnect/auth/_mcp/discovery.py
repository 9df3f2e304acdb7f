"""Discovery for MCP authorization: from a server's 401 to its authorization server's metadata.

Order (MCP authorization, RFC 9728, RFC 8414, and the 2025-03-26 fallbacks):

1. ``resource_metadata`` from the ``WWW-Authenticate`` challenge, else the path-inserted then the
   root ``/.well-known/oauth-protected-resource`` of the server;
2. the authorization server's metadata: RFC 8414 path-inserted, then OpenID Connect
   path-inserted, then OpenID Connect path-appended;
3. without protected resource metadata (2025-03-26 servers): the server's origin is the
   authorization server, its metadata at the origin, else the default endpoints
   ``/authorize``, ``/token`` and ``/register``.

Every document is checked before use: resource metadata must name this server (or a parent of
its URL on the same origin), and authorization server metadata must name the issuer it was
fetched for, so a hostile or mixed-up server cannot send the login or the token elsewhere.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from mcpconnect._redact import safe_url
from mcpconnect.auth._errors import TransientAuthError
from mcpconnect.auth._provider import check_secure_url, oauth_request
from mcpconnect.errors import AuthError

__all__ = [
    "AuthServerMetadata",
    "Challenge",
    "ResourceMetadata",
    "canonical_resource",
    "discover_authorization",
    "fetch_auth_server_metadata",
    "parse_challenge",
    "same_origin",
]

log = logging.getLogger("mcpconnect.auth")

_PARAM = re.compile(r'([A-Za-z0-9_\-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


@dataclass(frozen=True)
class Challenge:
    """A parsed ``WWW-Authenticate`` challenge (RFC 6750 3, RFC 9728 5.1, RFC 9449 7.1)."""

    scheme: str = "Bearer"
    params: dict[str, str] = field(default_factory=dict)

    @property
    def error(self) -> str | None:
        return self.params.get("error")

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(self.params.get("scope", "").split())

    @property
    def resource_metadata(self) -> str | None:
        return self.params.get("resource_metadata")


def parse_challenge(header: str | None) -> Challenge:
    """The first challenge of a ``WWW-Authenticate`` header (``Bearer`` or ``DPoP``); the
    parameters of every challenge are merged, the first value of each winning."""
    if not header:
        return Challenge()
    scheme = header.strip().split(" ", 1)[0].split(",", 1)[0] or "Bearer"
    params: dict[str, str] = {}
    for match in _PARAM.finditer(header):
        key = match.group(1).lower()
        value = match.group(2) if match.group(2) is not None else match.group(3)
        params.setdefault(key, value.replace('\\"', '"'))
    return Challenge(scheme=scheme, params=params)


def canonical_resource(url: str) -> str:
    """The server's canonical URI (RFC 8707, MCP): lowercase scheme and host, no fragment,
    no query, no trailing slash (except the root)."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    netloc = parts.netloc.lower()
    return urlunsplit((parts.scheme.lower(), netloc, path, "", ""))


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def same_origin(a: str, b: str) -> bool:
    """Whether two URLs share scheme, host and port."""
    pa, pb = urlsplit(a), urlsplit(b)
    return (
        pa.scheme.lower() == pb.scheme.lower()
        and (pa.hostname or "").lower() == (pb.hostname or "").lower()
        and (pa.port or _default_port(pa.scheme)) == (pb.port or _default_port(pb.scheme))
    )


def _default_port(scheme: str) -> int:
    return 443 if scheme.lower() == "https" else 80


@dataclass(frozen=True)
class ResourceMetadata:
    """RFC 9728 protected resource metadata (the parts a client uses)."""

    resource: str
    authorization_servers: tuple[str, ...]
    scopes_supported: tuple[str, ...] | None = None
    url: str | None = None


@dataclass(frozen=True)
class AuthServerMetadata:
    """RFC 8414 authorization server metadata, checked against the issuer it was fetched for."""

    issuer: str
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    registration_endpoint: str | None = None
    revocation_endpoint: str | None = None
    scopes_supported: tuple[str, ...] | None = None
    token_endpoint_auth_methods_supported: tuple[str, ...] | None = None
    grant_types_supported: tuple[str, ...] | None = None
    code_challenge_methods_supported: tuple[str, ...] | None = None
    iss_parameter_supported: bool = False
    client_id_metadata_document_supported: bool = False
    dpop_signing_alg_values_supported: tuple[str, ...] | None = None
    #: Whether this came from a document (``False``: 2025-03-26 default endpoints).
    from_document: bool = True
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Discovery:
    """What discovery found for one server."""

    resource: str
    auth_server: AuthServerMetadata
    resource_metadata: ResourceMetadata | None
    challenge: Challenge


def _tuple(value: Any) -> tuple[str, ...] | None:
    return tuple(str(v) for v in value) if isinstance(value, list) else None


async def _get_json(http: httpx.AsyncClient, url: str, *, who: str, what: str) -> dict[str, Any] | None:
    """GET ``url``; the JSON object, ``None`` on 404/405/400-ish "not here" answers."""
    headers = {"Accept": "application/json", "MCP-Protocol-Version": "2025-11-25"}
    response = await oauth_request(http, "GET", url, owner=who, what=what, provider=who, headers=headers)
    if response.status_code >= 500:
        raise TransientAuthError(
            f"{who}: the {what} at {safe_url(url)} failed (HTTP {response.status_code}); try again later", provider=who
        )
    if response.status_code != 200:
        return None
    try:
        data = json.loads(response.content)
    except ValueError:
        raise AuthError(f"{who}: the {what} at {safe_url(url)} is not JSON; the server is misconfigured") from None
    if not isinstance(data, dict):
        raise AuthError(f"{who}: the {what} at {safe_url(url)} is not a JSON object; the server is misconfigured")
    return data


def resource_metadata_urls(server_url: str, challenge: Challenge) -> list[str]:
    """Where to look for the protected resource metadata, in order."""
    if challenge.resource_metadata:
        return [challenge.resource_metadata]
    parts = urlsplit(server_url)
    path = parts.path.rstrip("/")
    base = f"{parts.scheme}://{parts.netloc}/.well-known/oauth-protected-resource"
    return [base + path, base] if path else [base]


def auth_server_metadata_urls(issuer: str) -> list[str]:
    """RFC 8414 3.1 path-inserted, then OpenID Connect path-inserted and path-appended."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    root = f"{parts.scheme}://{parts.netloc}"
    if not path:
        return [f"{root}/.well-known/oauth-authorization-server", f"{root}/.well-known/openid-configuration"]
    return [
        f"{root}/.well-known/oauth-authorization-server{path}",
        f"{root}/.well-known/openid-configuration{path}",
        f"{root}{path}/.well-known/openid-configuration",
    ]


def resource_allowed(advertised: str, server_url: str) -> bool:
    """Whether the resource named in metadata is this server: the same origin, and its path
    this server's path or a parent of it (a server may protect a whole origin)."""
    if not same_origin(advertised, server_url):
        return False
    want = urlsplit(canonical_resource(server_url)).path.rstrip("/") + "/"
    have = urlsplit(canonical_resource(advertised)).path.rstrip("/") + "/"
    return want.startswith(have)


async def fetch_resource_metadata(
    http: httpx.AsyncClient, server_url: str, challenge: Challenge, *, who: str
) -> ResourceMetadata | None:
    """The server's protected resource metadata, checked; ``None`` when it publishes none."""
    for url in resource_metadata_urls(server_url, challenge):
        if not same_origin(url, server_url):
            raise AuthError(
                f"{who}: the server's 401 points its resource metadata at another origin ({safe_url(url)}); "
                "refusing to follow it (possible phishing); check the server's url"
            )
        data = await _get_json(http, url, who=who, what="protected resource metadata")
        if data is None:
            continue
        resource = data.get("resource")
        servers = data.get("authorization_servers")
        if not isinstance(resource, str) or not resource_allowed(resource, server_url):
            raise AuthError(
                f"{who}: the protected resource metadata names resource {str(resource)[:100]!r}, not this server "
                f"({canonical_resource(server_url)}); refusing to log in (a token for it could be replayed elsewhere)"
            )
        if not isinstance(servers, list) or not servers or not all(isinstance(s, str) for s in servers):
            raise AuthError(f"{who}: the protected resource metadata lists no authorization_servers")
        return ResourceMetadata(
            resource=resource,
            authorization_servers=tuple(servers),
            scopes_supported=_tuple(data.get("scopes_supported")),
            url=url,
        )
    return None


def _metadata_from(data: dict[str, Any], issuer: str, *, from_document: bool = True) -> AuthServerMetadata:
    return AuthServerMetadata(
        issuer=str(data.get("issuer", issuer)),
        authorization_endpoint=data.get("authorization_endpoint"),
        token_endpoint=data.get("token_endpoint"),
        registration_endpoint=data.get("registration_endpoint"),
        revocation_endpoint=data.get("revocation_endpoint"),
        scopes_supported=_tuple(data.get("scopes_supported")),
        token_endpoint_auth_methods_supported=_tuple(data.get("token_endpoint_auth_methods_supported")),
        grant_types_supported=_tuple(data.get("grant_types_supported")),
        code_challenge_methods_supported=_tuple(data.get("code_challenge_methods_supported")),
        iss_parameter_supported=data.get("authorization_response_iss_parameter_supported") is True,
        client_id_metadata_document_supported=data.get("client_id_metadata_document_supported") is True,
        dpop_signing_alg_values_supported=_tuple(data.get("dpop_signing_alg_values_supported")),
        from_document=from_document,
        raw=data,
    )


async def fetch_auth_server_metadata(
    http: httpx.AsyncClient, issuer: str, *, who: str, legacy: bool = False
) -> AuthServerMetadata | None:
    """The metadata of authorization server ``issuer``, its ``issuer`` checked (RFC 8414 3.3);
    ``None`` when it publishes none. ``legacy``: only the 2025-03-26 location (the origin)."""
    urls = [f"{origin(issuer)}/.well-known/oauth-authorization-server"] if legacy else auth_server_metadata_urls(issuer)
    for url in urls:
        data = await _get_json(http, url, who=who, what="authorization server metadata")
        if data is None:
            continue
        named = data.get("issuer")
        if not isinstance(named, str) or named.rstrip("/") != issuer.rstrip("/"):
            raise AuthError(
                f"{who}: the authorization server metadata at {safe_url(url)} names issuer {str(named)[:100]!r}, not "
                f"{issuer!r} where it was fetched (RFC 8414 3.3); refusing to use it (possible mix-up attack)"
            )
        for key in ("authorization_endpoint", "token_endpoint", "registration_endpoint", "revocation_endpoint"):
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                raise AuthError(f"{who}: the authorization server metadata has a malformed {key}")
        return _metadata_from(data, issuer)
    return None


def default_endpoints(server_url: str) -> AuthServerMetadata:
    """2025-03-26: no metadata at all; the default endpoints at the server's origin."""
    base = origin(server_url)
    return AuthServerMetadata(
        issuer=base,
        authorization_endpoint=f"{base}/authorize",
        token_endpoint=f"{base}/token",
        registration_endpoint=f"{base}/register",
        from_document=False,
    )


async def discover_authorization(
    http: httpx.AsyncClient,
    server_url: str,
    challenge: Challenge,
    *,
    who: str,
    allow_insecure: bool = False,
    how: str = "",
) -> Discovery:
    """Run discovery for the server at ``server_url`` after it answered ``challenge``."""
    prm = await fetch_resource_metadata(http, server_url, challenge, who=who)
    if prm is not None:
        issuer = prm.authorization_servers[0]
        check_secure_url(issuer, what="authorization server", owner=who, allow_insecure=allow_insecure, how=how)
        metadata = await fetch_auth_server_metadata(http, issuer, who=who)
        if metadata is None:
            raise AuthError(
                f"{who}: the authorization server {issuer} publishes no metadata (.well-known/oauth-authorization-"
                "server or openid-configuration); it cannot be used for MCP authorization"
            )
        resource = prm.resource
    else:
        log.debug("%s: no protected resource metadata; trying the 2025-03-26 fallbacks", who)
        metadata = await fetch_auth_server_metadata(http, origin(server_url), who=who, legacy=True)
        if metadata is None:
            metadata = default_endpoints(server_url)
        resource = canonical_resource(server_url)
    for what, url in (
        ("authorization endpoint", metadata.authorization_endpoint),
        ("token endpoint", metadata.token_endpoint),
        ("registration endpoint", metadata.registration_endpoint),
    ):
        if url:
            check_secure_url(url, what=what, owner=who, allow_insecure=allow_insecure, how=how)
    return Discovery(resource=resource, auth_server=metadata, resource_metadata=prm, challenge=challenge)
