"""MCP authorization for one server: what to do on a 401 or a 403, and the ``httpx.Auth``.

:class:`MCPAuthorizer` keeps the server's token (in the token store, under the server's name),
and on a challenge runs discovery, registers this client if needed, and logs in (or refreshes).
:class:`MCPAuth` is the ``httpx.Auth`` a remote transport attaches: it sends the token (Bearer
or DPoP) to the server's origin only, and answers a 401 (login or refresh, then one retry), a
DPoP nonce challenge (retry with the nonce), and a 403 ``insufficient_scope`` (step-up with the
union of the scopes, at most 3 authorizations in a row).

Settings come from ``[servers.NAME.options]``::

    client_id = "..."              # a pre-registered client (else CIMD, else RFC 7591)
    client_secret_env = "VAR"      # or client_secret_file; or provider = "NAME" to reuse one
    client_metadata_url = "https://..."  # this client's Client ID Metadata Document, if hosted
    grant = "authorization_code"   # or "client_credentials", "jwt_bearer"
    private_key_file = "key.pem"   # private_key_jwt client authentication
    assertion_env = "VAR"          # jwt_bearer: the assertion (or assertion_file)
    idp_token_endpoint = "https://..."  # jwt_bearer, SEP-990: get the assertion (an ID-JAG) from
    idp_client_id = "..."          #   the enterprise IdP by token exchange (RFC 8693) of the
    id_token_env = "VAR"           #   user's ID token (or id_token_file); idp_client_secret_env
    scopes = ["..."]               # override the scopes discovery would pick
    headless_login = true          # demos and tests: follow the authorization URL without a person
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from mcpconnect._config.model import expand_vars, read_secret_file, table_name
from mcpconnect._logs import register_secret
from mcpconnect._redact import safe_url
from mcpconnect.auth._errors import NeedsLoginError, OAuthError
from mcpconnect.auth._flows import UrlHandler
from mcpconnect.auth._manager import LogoutResult, TokenManager, register_token, secret_of, token_manager
from mcpconnect.auth._mcp.discovery import (
    Challenge,
    Discovery,
    canonical_resource,
    default_endpoints,
    discover_authorization,
    fetch_auth_server_metadata,
    parse_challenge,
    resource_allowed,
    same_origin,
)
from mcpconnect.auth._mcp.dpop import DPoPKey
from mcpconnect.auth._mcp.provider import (
    JWT_BEARER,
    ClientRegistration,
    MCPProvider,
    choose_auth_method,
    register_dynamically,
)
from mcpconnect.auth._provider import Identity, check_secure_url
from mcpconnect.errors import AuthError, ConfigError

if TYPE_CHECKING:
    from mcpconnect._config.model import ServerConfig
    from mcpconnect._runtime import Runtime
    from mcpconnect.tokens import Token

__all__ = ["MAX_AUTHORIZATIONS", "MCPAuth", "MCPAuthorizer", "mcp_server_auth"]

log = logging.getLogger("mcpconnect.auth")

#: Authorizations (login, refresh or step-up) one request may cause before giving up.
MAX_AUTHORIZATIONS = 3
_DPOP_KEY = "dpop-key:"


@dataclass(frozen=True)
class _Settings:
    client_id: str | None
    client_secret: str | None
    client_metadata_url: str | None
    grant: str
    private_key_pem: str | None
    signing_alg: str | None
    assertion: str | None
    idp_token_endpoint: str | None
    idp_client_id: str | None
    idp_client_secret: str | None
    id_token: str | None
    scopes: tuple[str, ...] | None
    headless: bool

    def __repr__(self) -> str:
        return f"_Settings(client_id={self.client_id!r}, grant={self.grant!r})"


def _settings(name: str, server: ServerConfig, runtime: Runtime) -> _Settings:
    opts = dict(server.options)
    key = f"servers.{name}.options"

    def secret(base: str) -> str | None:
        if opts.get(base):
            value = str(opts[base])
        elif opts.get(f"{base}_env"):
            var = str(opts[f"{base}_env"])
            value = expand_vars(f"${{{var}}}", where=f"{key}.{base}_env")
        elif opts.get(f"{base}_file"):
            value = read_secret_file(Path(str(opts[f"{base}_file"])), f"{key}.{base}_file")
        else:
            return None
        register_secret(value)
        return value

    client_id = opts.get("client_id")
    client_secret = secret("client_secret")
    if opts.get("provider"):
        ref = str(opts["provider"])
        provider = runtime.config.providers.get(ref)
        if provider is None:
            raise ConfigError(
                f"server '{name}': options.provider names [providers.{ref}], which is not configured; add it or fix "
                "the name",
                key=f"{key}.provider",
            )
        client_id = client_id or provider.client_id
        client_secret = client_secret or provider.resolve_client_secret(ref)
        register_secret(client_secret)
    private_key = opts.get("private_key_pem") or None
    if private_key is None and opts.get("private_key_file"):
        path = Path(str(opts["private_key_file"])).expanduser()
        try:
            private_key = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"server '{name}': cannot read private_key_file {path} ({exc.strerror}); check the path",
                key=f"{key}.private_key_file",
            ) from None
    grant = str(opts.get("grant") or "authorization_code")
    if grant not in ("authorization_code", "client_credentials", "jwt_bearer"):
        raise ConfigError(
            f"server '{name}': options.grant must be authorization_code, client_credentials or jwt_bearer, not "
            f"{grant!r}",
            key=f"{key}.grant",
        )
    scopes = opts.get("scopes")
    return _Settings(
        client_id=str(client_id) if client_id else None,
        client_secret=client_secret,
        client_metadata_url=str(opts["client_metadata_url"]) if opts.get("client_metadata_url") else None,
        grant=grant,
        private_key_pem=str(private_key) if private_key else None,
        signing_alg=str(opts["signing_alg"]) if opts.get("signing_alg") else None,
        assertion=secret("assertion"),
        idp_token_endpoint=str(opts["idp_token_endpoint"]) if opts.get("idp_token_endpoint") else None,
        idp_client_id=str(opts["idp_client_id"]) if opts.get("idp_client_id") else None,
        idp_client_secret=secret("idp_client_secret"),
        id_token=secret("id_token"),
        scopes=tuple(str(s) for s in scopes) if isinstance(scopes, list) else None,
        headless=bool(opts.get("headless_login")),
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class MCPAuthorizer:
    """Tokens for MCP server ``name`` (``auth = "mcp"``), obtained as the server's challenges ask."""

    def __init__(
        self,
        name: str,
        server: ServerConfig,
        runtime: Runtime,
        *,
        on_url: UrlHandler | None = None,
        wait: float = 300.0,
    ) -> None:
        if not server.url:
            raise ConfigError(f'server \'{name}\': auth = "mcp" needs a remote server (url = "https://...")')
        self.name = name
        self.server = server
        self.url = expand_vars(server.url, where=f"servers.{name}.url")
        self.runtime = runtime
        self.manager: TokenManager = token_manager(runtime)
        self.settings = _settings(name, server, runtime)
        if on_url is None and self.settings.headless:
            from mcpconnect.auth._headless import follow_authorization

            async def headless(url: str) -> None:
                try:
                    await follow_authorization(url)
                except (RuntimeError, OSError) as exc:
                    raise AuthError(
                        f"server '{name}': the headless login did not complete ({exc}); remove headless_login from "
                        f"{table_name('servers', name, 'options')} and run 'mcpconnect login {name}' "
                        "to log in with a browser"
                    ) from None

            on_url = headless
        self.on_url = on_url
        self.wait = wait
        self.dpop: DPoPKey | None = None
        self._provider: MCPProvider | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"MCPAuthorizer(server={self.name!r})"

    @property
    def who(self) -> str:
        return f"server '{self.name}'"

    def _http(self) -> httpx.AsyncClient:
        return self.manager.http()

    # -- the token at hand -------------------------------------------------------------------------

    async def current(self) -> Token | None:
        """The stored token for this server, refreshed when expiring; ``None`` without one."""
        found = await self.manager.store.list(self.name)
        usable = [s for s in found if self._usable(s.token)]
        if not usable:
            return None
        latest = max(usable, key=lambda s: s.token.obtained_at)
        token = register_token(latest.token)
        if token.token_type.lower() == "dpop":
            await self._load_dpop(token.resource or canonical_resource(self.url))
        if not token.is_expiring(self.manager.margin_for(token)):
            return token
        if not token.refreshable:
            return None if token.is_expiring() else token
        try:
            await self._provider_for_refresh(token)
            return await self.manager.get_token(self.name, token.account)
        except (NeedsLoginError, AuthError) as exc:
            log.info("%s: cannot refresh the stored token (%s); a new login is needed", self.who, exc)
            return None

    def _usable(self, token: Token) -> bool:
        """Not marked for a new login, and bound to this server's resource: a token obtained for
        another resource (the server's url changed since the login) is never sent here."""
        if token.needs_login:
            return False
        if token.resource and not resource_allowed(token.resource, self.url):
            log.info(
                "%s: the stored token is for %s, not %s; a new login is needed", self.who, token.resource, self.url
            )
            return False
        return True

    async def _newer_than(self, token: Token | None) -> Token | None:
        """A valid stored token other than ``token``, if another request stored one."""
        found = [s.token for s in await self.manager.store.list(self.name) if self._usable(s.token)]
        if not found:
            return None
        latest = max(found, key=lambda t: t.obtained_at)
        if token is not None and latest.access_token.get_secret_value() == token.access_token.get_secret_value():
            return None
        if latest.is_expiring(self.manager.margin_for(latest)):
            return None
        return register_token(latest)

    async def _provider_for_refresh(self, token: Token) -> MCPProvider:
        """The provider of the stored token's issuer (metadata fetched again, registration from
        the store), for refreshing in a new process."""
        if self._provider is not None and self._provider.metadata.issuer == token.issuer:
            return self._provider
        if not token.issuer:
            raise NeedsLoginError(
                f"{self.who}: the stored token names no issuer; run 'mcpconnect login {self.name}'", provider=self.name
            )
        async with self._http() as http:
            metadata = await fetch_auth_server_metadata(http, token.issuer, who=self.who)
        if metadata is None and same_origin(token.issuer, self.url):
            metadata = default_endpoints(self.url)  # a 2025-03-26 server without metadata
        if metadata is None:
            raise NeedsLoginError(f"{self.who}: the authorization server {token.issuer} is gone", provider=self.name)
        registration = await self._stored_registration(metadata.issuer)
        if registration is None:
            raise NeedsLoginError(f"{self.who}: no client registration for {token.issuer}", provider=self.name)
        provider = self._make_provider(
            metadata, registration, token.resource or canonical_resource(self.url), token.scopes
        )
        return provider

    # -- challenges ----------------------------------------------------------------------------------

    async def on_unauthorized(self, challenge: Challenge, rejected: Token | None) -> Token:
        """The server answered 401: refresh the rejected token if the authorization server is
        unchanged, else register (if needed) and log in."""
        async with self._lock:
            newer = await self._newer_than(rejected)
            if newer is not None:
                return newer  # another request logged in or refreshed while this one waited
            async with self._http() as http:
                found = await self._discover_authorization(http, challenge)
            if rejected is not None and rejected.issuer == found.auth_server.issuer and rejected.refreshable:
                self._make_provider(found.auth_server, await self._registration(found), found.resource, rejected.scopes)
                try:
                    return await self.manager.refresh_rejected(self.name, rejected)
                except (NeedsLoginError, OAuthError) as exc:
                    log.info("%s: refresh failed (%s); logging in again", self.who, exc)
            if rejected is not None and rejected.issuer and rejected.issuer != found.auth_server.issuer:
                log.info(
                    "%s moved from %s to %s; registering again", self.who, rejected.issuer, found.auth_server.issuer
                )
            return await self._login(found, self._scopes(found, challenge))

    async def step_up(self, challenge: Challenge, current: Token | None) -> Token:
        """The server answered 403 ``insufficient_scope``: log in again for the union of the
        scopes held and the scopes asked for."""
        async with self._lock:
            async with self._http() as http:
                found = await self._discover_authorization(http, challenge)
            held = tuple(current.scopes) if current is not None else ()
            wanted = tuple(dict.fromkeys((*held, *self._scopes(found, challenge))))
            newer = await self._newer_than(current)
            if newer is not None and set(wanted) <= set(newer.scopes):
                return newer  # another request stepped up to these scopes while this one waited
            return await self._login(found, wanted)

    async def login(self, *, scopes: tuple[str, ...] | None = None) -> Token:
        """Log in now (``mcpconnect login SERVER``): probe the server for its challenge first."""
        async with self._lock:
            async with self._http() as http:
                challenge = await self._probe(http)
                found = await self._discover_authorization(http, challenge)
            return await self._login(found, tuple(scopes) if scopes else self._scopes(found, challenge))

    async def logout(self, account: str | None = None) -> LogoutResult:
        """Revoke this server's token at its authorization server (when it offers revocation)
        and delete it locally, even when the authorization server cannot be reached."""
        stored = await self.manager.stored(self.name, account)
        try:
            await self._provider_for_refresh(stored.token)
        except AuthError as exc:
            log.info("%s: cannot reach the authorization server to revoke (%s)", self.who, exc)
        return await self.manager.logout(self.name, stored.token.account)

    async def _probe(self, http: httpx.AsyncClient) -> Challenge:
        """POST an ``initialize`` without a token: the server's 401 names its resource metadata."""
        body = {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "mcpconnect", "version": "0"},
            },
        }
        try:
            response = await http.post(self.url, json=body, headers={"Accept": "application/json, text/event-stream"})
        except httpx.HTTPError as exc:
            raise AuthError(
                f"{self.who}: cannot reach {safe_url(self.url)} ({type(exc).__name__}); check the url and the network"
            ) from None
        await response.aclose()
        return parse_challenge(response.headers.get("www-authenticate"))

    async def _discover_authorization(self, http: httpx.AsyncClient, challenge: Challenge) -> Discovery:
        return await discover_authorization(
            http,
            self.url,
            challenge,
            who=self.who,
            allow_insecure=self.server.allow_insecure_http,
            how=table_name("servers", self.name),
        )

    def _scopes(self, found: Discovery, challenge: Challenge) -> tuple[str, ...]:
        """From the challenge, else the resource's ``scopes_supported``, else none; plus
        ``offline_access`` when the authorization server lists it."""
        if self.settings.scopes is not None:
            scopes = self.settings.scopes
        elif challenge.scopes:
            scopes = challenge.scopes
        elif found.resource_metadata is not None and found.resource_metadata.scopes_supported:
            scopes = found.resource_metadata.scopes_supported
        else:
            scopes = ()
        supported = found.auth_server.scopes_supported or ()
        if (
            self.settings.grant == "authorization_code"
            and "offline_access" in supported
            and "offline_access" not in scopes
        ):
            scopes = (*scopes, "offline_access")
        return tuple(scopes)

    # -- registration --------------------------------------------------------------------------------

    async def _stored_registration(self, issuer: str) -> ClientRegistration | None:
        record = await self.manager.store.get_registration(issuer)
        return ClientRegistration.from_record(record) if record else None

    async def _registration(self, found: Discovery, scopes: tuple[str, ...] = ()) -> ClientRegistration:
        """This client at the discovered authorization server: pre-registered from the
        configuration, else a Client ID Metadata Document, else stored, else RFC 7591."""
        metadata = found.auth_server
        s = self.settings
        if s.client_id:
            method = choose_auth_method(metadata, has_secret=bool(s.client_secret), has_key=bool(s.private_key_pem))
            return ClientRegistration(metadata.issuer, s.client_id, s.client_secret, method, how="preregistered")
        if s.client_metadata_url and metadata.client_id_metadata_document_supported:
            return ClientRegistration(metadata.issuer, s.client_metadata_url, None, "none", how="cimd")
        stored = await self._stored_registration(metadata.issuer)
        if stored is not None and (s.grant != "authorization_code" or stored.redirect_uri):
            return stored
        how = (
            f"register a client with the authorization server {metadata.issuer} and set client_id (and "
            f"client_secret_env) in {table_name('servers', self.name, 'options')}"
        )
        if not metadata.registration_endpoint:
            raise AuthError(
                f"{self.who}: the authorization server {metadata.issuer} offers no dynamic client registration and "
                f"no Client ID Metadata Document; {how}"
            )
        if s.grant == "authorization_code":
            redirect: str | None = f"http://127.0.0.1:{_free_port()}/callback"
            grants: tuple[str, ...] = ("authorization_code", "refresh_token")
        else:
            redirect, grants = None, ("client_credentials",)
        supported = metadata.token_endpoint_auth_methods_supported or ("client_secret_basic",)
        method = "none" if "none" in supported else choose_auth_method(metadata, has_secret=True)
        async with self._http() as http:
            registration = await register_dynamically(
                http,
                metadata,
                who=self.who,
                how=how,
                redirect_uri=redirect,
                grant_types=grants,
                auth_method=method,
                scopes=scopes,
            )
        await self.manager.store.put_registration(metadata.issuer, registration.to_record())
        log.info("%s: registered client %s at %s", self.who, registration.client_id, metadata.issuer)
        return registration

    # -- login ---------------------------------------------------------------------------------------

    async def _load_dpop(self, resource: str) -> DPoPKey:
        if self.dpop is None:
            record = await self.manager.store.get_registration(_DPOP_KEY + resource)
            pem = record.get("pem") if record else None
            if isinstance(pem, str):
                try:
                    self.dpop = DPoPKey(pem.encode())
                except ValueError:
                    self.dpop = None
            if self.dpop is None:
                self.dpop = DPoPKey()
                await self.manager.store.put_registration(
                    _DPOP_KEY + resource, {"pem": self.dpop.private_pem().decode()}
                )
        return self.dpop

    def _make_provider(
        self, metadata: Any, registration: ClientRegistration, resource: str, scopes: tuple[str, ...]
    ) -> MCPProvider:
        provider = MCPProvider(
            self.name,
            metadata,
            registration,
            resource=resource,
            scopes=scopes,
            allow_insecure_http=self.server.allow_insecure_http,
            dpop=self.dpop,
            private_key_pem=self.settings.private_key_pem,
            signing_alg=self.settings.signing_alg,
        )
        self.manager.use_provider(provider)
        self._provider = provider
        return provider

    async def _login(self, found: Discovery, scopes: tuple[str, ...]) -> Token:
        metadata = found.auth_server
        if metadata.dpop_signing_alg_values_supported and "ES256" in metadata.dpop_signing_alg_values_supported:
            await self._load_dpop(found.resource)
        registration = await self._registration(found, scopes)
        provider = self._make_provider(metadata, registration, found.resource, scopes)
        grant = self.settings.grant
        if grant == "client_credentials":
            return await self.manager.login(self.name, method="client_credentials", scopes=scopes)
        if grant == "jwt_bearer":
            with self.runtime.host.observe("login", provider=self.name, grant="jwt_bearer"):
                return await self._jwt_bearer(provider, scopes)
        if self.on_url is None:
            raise NeedsLoginError(
                f"{self.who} needs a login (MCP authorization at {metadata.issuer}): run "
                f"'mcpconnect login {self.name}'",
                provider=self.name,
            )
        port = 0
        if registration.redirect_uri:
            from urllib.parse import urlsplit

            port = urlsplit(registration.redirect_uri).port or 0
        if (
            metadata.code_challenge_methods_supported is not None
            and "S256" not in metadata.code_challenge_methods_supported
        ):
            raise AuthError(
                f"{self.who}: the authorization server {metadata.issuer} does not support PKCE with S256, which MCP "
                "authorization requires; refusing to log in"
            )
        try:
            return await self.manager.login(
                self.name, method="browser", scopes=scopes, on_url=self.on_url, wait=self.wait, port=port
            )
        except OSError as exc:
            raise AuthError(
                f"{self.who}: cannot listen for the login redirect on {registration.redirect_uri} ({exc.strerror}); "
                "free that port or delete the stored registration with 'mcpconnect logout' and log in again"
            ) from None

    async def _identity_assertion(self, provider: MCPProvider, scopes: tuple[str, ...]) -> str:
        """SEP-990: exchange the user's ID token at the enterprise IdP (RFC 8693) for an identity
        assertion grant (ID-JAG) meant for this server's authorization server."""
        s = self.settings
        assert s.idp_token_endpoint is not None
        where = f"{table_name('servers', self.name, 'options')}"
        if not s.id_token or not s.idp_client_id:
            raise ConfigError(
                f"server '{self.name}': idp_token_endpoint needs idp_client_id and the ID token (id_token_env or "
                f"id_token_file) in {where}",
                key=f"servers.{self.name}.options.id_token_env",
            )
        url = check_secure_url(
            s.idp_token_endpoint,
            what="identity provider token endpoint",
            owner=self.who,
            allow_insecure=self.server.allow_insecure_http,
            how=where,
        )
        data = {
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": s.id_token,
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            "requested_token_type": "urn:ietf:params:oauth:token-type:id-jag",
            "audience": provider.metadata.issuer,
            "resource": provider.resource,
            "client_id": s.idp_client_id,
        }
        if scopes:
            data["scope"] = " ".join(scopes)
        auth = httpx.BasicAuth(s.idp_client_id, s.idp_client_secret) if s.idp_client_secret else None
        try:
            async with self._http() as http:
                response = await http.post(
                    url, data=data, auth=auth or httpx.USE_CLIENT_DEFAULT, headers={"Accept": "application/json"}
                )
        except httpx.HTTPError as exc:
            raise AuthError(
                f"{self.who}: cannot reach the identity provider's token endpoint ({type(exc).__name__}); try again"
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            error = body.get("error") if isinstance(body, dict) else None
            raise AuthError(
                f"{self.who}: the identity provider refused the token exchange (HTTP {response.status_code}"
                f"{', ' + str(error)[:60] if error else ''}); check id_token_env and idp_client_id in {where}"
            )
        assertion = str(body["access_token"])
        register_secret(assertion)
        return assertion

    async def _jwt_bearer(self, provider: MCPProvider, scopes: tuple[str, ...]) -> Token:
        assertion = self.settings.assertion
        if not assertion and self.settings.idp_token_endpoint:
            assertion = await self._identity_assertion(provider, scopes)
        if not assertion:
            raise ConfigError(
                f"server '{self.name}': grant = \"jwt_bearer\" needs an assertion; set assertion_env or assertion_file "
                f"(or idp_token_endpoint, to get one from an enterprise identity provider) in "
                f"{table_name('servers', self.name, 'options')}",
                key=f"servers.{self.name}.options.assertion_env",
            )
        if (
            provider.metadata.grant_types_supported is not None
            and JWT_BEARER not in provider.metadata.grant_types_supported
        ):
            log.info("%s: the authorization server does not list the jwt-bearer grant; trying anyway", self.who)
        async with self._http() as http:
            endpoints = await provider.endpoints(http)
            response = await provider.jwt_bearer(http, assertion, scopes)
        token = self.manager._token(
            provider, response, Identity(provider.client_id, "jwt bearer"), requested=scopes, issuer=endpoints.issuer
        )
        await self.manager.store.put(token)
        self.runtime.host.token_obtained(self.name, token.account, token)
        return token


class MCPAuth(httpx.Auth):
    """The ``httpx.Auth`` of a server with ``auth = "mcp"``."""

    requires_response_body = False

    def __init__(self, authorizer: MCPAuthorizer) -> None:
        self.authorizer = authorizer
        self.server_url = authorizer.url
        self._token: Token | None = None

    def __repr__(self) -> str:
        return f"MCPAuth(server={self.authorizer.name!r})"

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("MCPAuth needs an httpx.AsyncClient")
        yield request  # pragma: no cover - makes this a generator

    def _apply(self, request: httpx.Request, token: Token | None) -> None:
        request.headers.pop("Authorization", None)
        request.headers.pop("DPoP", None)
        if token is None:
            return
        value = secret_of(token)
        dpop = self.authorizer.dpop
        if token.token_type.lower() == "dpop" and dpop is not None:
            request.headers["Authorization"] = f"DPoP {value}"
            request.headers["DPoP"] = dpop.proof(request.method, str(request.url), access_token=value)
        else:
            request.headers["Authorization"] = f"Bearer {value}"

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if not same_origin(str(request.url), self.server_url):
            # A token is bound to its server: never send it anywhere else.
            yield request
            return
        authorizer = self.authorizer
        token = self._token
        if token is None or token.is_expiring(authorizer.manager.margin_for(token)):
            # The store is read once, then again only when the token nears its expiry.
            token = self._token = await authorizer.current()
        authorizations = 0
        fresh = False
        nonce_retried = False
        while True:
            self._apply(request, token)
            response = yield request
            dpop = authorizer.dpop
            new_nonce = dpop is not None and dpop.remember_nonce(str(request.url), response.headers)
            if response.status_code not in (401, 403):
                self._token = token
                return
            challenge = parse_challenge(response.headers.get("www-authenticate"))
            if response.status_code == 401 and challenge.error == "use_dpop_nonce" and new_nonce and not nonce_retried:
                nonce_retried = True  # RFC 9449 9: the resource server wants its nonce in the proof
                await response.aread()  # httpx reads it again after the retry is yielded
                continue
            if response.status_code == 403 and challenge.error != "insufficient_scope":
                return
            await response.aread()
            if authorizations >= MAX_AUTHORIZATIONS:
                what = "401 Unauthorized" if response.status_code == 401 else "403 insufficient_scope"
                raise AuthError(
                    f"server '{authorizer.name}' still answered {what} after {authorizations} authorizations; giving "
                    "up (check the scopes this account may have, and the server's authorization setup)"
                )
            if response.status_code == 401:
                if fresh and token is not None:
                    raise AuthError(
                        f"server '{authorizer.name}' rejected the token it had just been issued (401 again); giving up "
                        "(its authorization server and resource may be misconfigured)"
                    )
                token = await authorizer.on_unauthorized(challenge, token)
            else:
                token = await authorizer.step_up(challenge, token)
            authorizations += 1
            fresh = True
            nonce_retried = False


def mcp_server_auth(name: str, server: ServerConfig, runtime: Runtime, *, on_url: UrlHandler | None = None) -> MCPAuth:
    """The ``httpx.Auth`` for server ``name`` with ``auth = "mcp"``."""
    if server.url:
        check_secure_url(
            expand_vars(server.url, where=f"servers.{name}.url"),
            what="url",
            owner=f"server '{name}'",
            allow_insecure=server.allow_insecure_http,
            how=table_name("servers", name),
        )
    return MCPAuth(MCPAuthorizer(name, server, runtime, on_url=on_url))
