"""The configuration's shape: ``[storage]``, ``[providers.NAME]``, ``[servers.NAME]``.

Only what can be checked without plugins is checked here (shapes, required keys, one of
``command``/``url``). Names that plugins provide (transports, provider types, store backends) are
checked against the installed plugins by :func:`mcpconnect._config.check_plugins`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator

from mcpconnect._config.variables import expand_vars
from mcpconnect.errors import ConfigError

__all__ = [
    "Config",
    "GatewayConfig",
    "IntrospectionConfig",
    "NameFilter",
    "ProviderConfig",
    "ServerConfig",
    "StorageConfig",
    "dotted_key",
    "expand_vars",
    "table_name",
]


class _Redacted(BaseModel):
    """``repr()`` and ``str()`` show no secret: secret-named values, ``env``/``headers`` values and
    URL passwords are masked (see :mod:`mcpconnect._redact`)."""

    def __repr_args__(self) -> Any:
        from mcpconnect._redact import redact_nested

        for key, value in super().__repr_args__():
            if isinstance(value, BaseModel):
                yield key, value
            elif key in ("env", "headers") and isinstance(value, dict):
                # Any env or header value may be a credential; show which are set, not what.
                yield key, {k: redact_nested(k, v) if _ONLY_REFS.fullmatch(v) else "***" for k, v in value.items()}
            else:
                yield key, redact_nested(key or "", value)


_ONLY_REFS = re.compile(r"(\$\{[^}]*\})+")


class _Section(_Redacted):
    # inf and nan are no durations: a timeout or margin of inf validated, then crashed later.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


class StorageConfig(_Redacted):
    """``[storage]``: which backend keeps tokens, plus that backend's own options."""

    model_config = ConfigDict(extra="allow")

    backend: str = "sqlite"

    def options(self) -> dict[str, Any]:
        """The backend's options: every key of ``[storage]`` but ``backend``."""
        return dict(self.model_extra or {})


class ProviderConfig(_Section):
    """``[providers.NAME]``: an OAuth provider and this application's client registration there."""

    type: str
    client_id: str | None = None
    client_secret: SecretStr | None = Field(default=None, description="inline; prefer _env or _file")
    client_secret_env: str | None = None
    client_secret_file: Path | None = None
    scopes: list[str] | None = None
    issuer: str | None = None
    base_url: str | None = None
    api_url: str | None = None
    authorize_url: str | None = None
    token_url: str | None = None
    revoke_url: str | None = None
    device_url: str | None = None
    userinfo_url: str | None = None
    tenant: str | None = None
    #: The https redirect URI registered with the provider, for ``mcpconnect login --paste``.
    redirect_uri: str | None = None
    allow_insecure_http: bool = False
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_secret_source(self) -> ProviderConfig:
        given = [k for k in ("client_secret", "client_secret_env", "client_secret_file") if getattr(self, k)]
        if len(given) > 1:
            raise ValueError(f"give the client secret one way, not {' and '.join(given)}")
        return self

    def resolve_client_secret(self, name: str, environ: dict[str, str] | None = None) -> str | None:
        """The client secret, read from where the configuration says, or ``None`` if none is set.

        Raises :class:`ConfigError` naming the provider and the file or variable when it cannot
        be read.
        """
        env = os.environ if environ is None else environ
        if self.client_secret is not None:
            return self.client_secret.get_secret_value()
        if self.client_secret_env:
            value = env.get(self.client_secret_env)
            if not value:
                raise ConfigError(
                    f"provider '{name}': client_secret_env names {self.client_secret_env}, which is not "
                    f"set; export {self.client_secret_env}",
                    key=f"providers.{name}.client_secret_env",
                )
            return value
        if self.client_secret_file:
            return read_secret_file(self.client_secret_file, f"providers.{name}.client_secret_file")
        return None


def read_secret_file(path: Path, key: str) -> str:
    """The first line of a secret file; a clear error naming the file when it cannot be read."""
    path = path.expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"the secret file {path} does not exist; create it or fix the path", key=key) from None
    except OSError as exc:
        raise ConfigError(
            f"the secret file {path} cannot be read ({exc.strerror}); check its permissions", key=key
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(
            f"the secret file {path} is not UTF-8 text; write the secret into it as text", key=key
        ) from None
    except ValueError:  # a NUL byte in the path
        raise ConfigError(f"the path {str(path)!r} is not a valid file name; fix it", key=key) from None
    value = text.strip()
    if not value:
        raise ConfigError(f"the secret file {path} is empty; write the secret into it", key=key)
    return value


AuthMode = str  # "none" | "provider:NAME" | "mcp" | "token"


class NameFilter(_Section):
    """``[servers.NAME.tools]`` (and ``.prompts``, ``.resources``): which names ``serve`` exposes.

    Glob patterns (``fnmatch``, case-sensitive) on the server's own names (resource URIs for
    resources). A name is exposed when it matches ``allow`` (every name, when ``allow`` is not
    given) and matches no ``deny`` pattern.
    """

    allow: list[str] | None = None
    deny: list[str] = Field(default_factory=list)

    @field_validator("allow", "deny")
    @classmethod
    def _patterns(cls, value: list[str] | None) -> list[str] | None:
        for pattern in value or ():
            if not pattern.strip():
                raise ValueError('a pattern cannot be empty; write a name or a glob such as "read_*"')
        return value

    def allows(self, name: str) -> bool:
        """Whether ``name`` passes the filter."""
        from fnmatch import fnmatchcase

        if self.allow is not None and not any(fnmatchcase(name, p) for p in self.allow):
            return False
        return not any(fnmatchcase(name, p) for p in self.deny)


class ServerConfig(_Section):
    """``[servers.NAME]``: one MCP server, local (``command``) or remote (``url``)."""

    transport: str | None = Field(
        default=None, description="stdio | sse | streamable-http | auto; default from command/url"
    )
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: Path | None = None
    inherit_env: bool = True
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    auth: AuthMode = "none"
    tokens: Literal["shared", "per_user"] = Field(
        default="shared",
        description="shared: one login every gateway user shares; per_user: each user of a protected gateway "
        "connects their own (auth = provider:NAME only)",
    )
    token_env: str | None = None
    token_file: Path | None = None
    token: SecretStr | None = Field(default=None, description="inline; prefer token_env or token_file")
    token_to_env: str | None = Field(default=None, description="stdio: pass the token in this variable")
    timeout: float = Field(default=30.0, gt=0, le=86400, description="seconds; at most a day")
    protocol: str | None = Field(
        default=None, description="auto | legacy | 2026-07-28: how to connect (default: the caller's, auto)"
    )
    allow_insecure_http: bool = False
    enabled: bool = True
    options: dict[str, Any] = Field(default_factory=dict)
    tools: NameFilter = Field(default_factory=NameFilter)
    prompts: NameFilter = Field(default_factory=NameFilter)
    resources: NameFilter = Field(default_factory=NameFilter)

    @field_validator("protocol")
    @classmethod
    def _protocol(cls, value: str | None) -> str | None:
        from mcp_types.version import MODERN_PROTOCOL_VERSIONS

        if value is None or value in ("auto", "legacy") or value in MODERN_PROTOCOL_VERSIONS:
            return value
        modern = ", ".join(f"'{v}'" for v in MODERN_PROTOCOL_VERSIONS)
        raise ValueError(
            f"protocol must be 'auto' (2026-07-28 discovery, else the initialize handshake), 'legacy' "
            f"(the initialize handshake only) or {modern}, not {value!r}"
        )

    @field_validator("auth")
    @classmethod
    def _auth_mode(cls, value: str) -> str:
        if value in {"none", "mcp", "token"} or (value.startswith("provider:") and len(value) > len("provider:")):
            return value
        raise ValueError(f"auth must be 'none', 'mcp', 'token' or 'provider:NAME', not {value!r}")

    @field_validator("tokens")
    @classmethod
    def _per_user_needs_provider(cls, value: str, info: ValidationInfo) -> str:
        auth = info.data.get("auth")
        if auth is None:
            return value  # auth itself is wrong: that error is the one to fix first
        if value == "per_user" and not auth.startswith("provider:"):
            raise ValueError(
                f'tokens = "per_user" needs auth = "provider:NAME" (each user logs in to that provider), '
                f'not auth = {auth!r}; set auth, or tokens = "shared"'
            )
        return value

    @model_validator(mode="after")
    def _command_or_url(self) -> ServerConfig:
        if self.command and self.url:
            raise ValueError("give either command (a local stdio server) or url (a remote server), not both")
        if not self.command and not self.url:
            if self.transport == "stdio":
                raise ValueError('a stdio server needs command = "..." (the program to start)')
            if self.transport in {"sse", "streamable-http", "auto"}:
                raise ValueError(f'a {self.transport} server needs url = "https://..."')
            if self.transport is not None:
                # A plugin's transport: whether it starts a process or connects to a URL (and
                # which scheme) is the plugin's to say, once it is loaded.
                raise ValueError(
                    f'a {self.transport} server needs command = "..." or url = "..." (whichever the {self.transport} '
                    "transport takes)"
                )
            raise ValueError('needs command = "..." (a local stdio server) or url = "..." (a remote one)')
        if self.auth == "token" and not (self.token_env or self.token_file or self.token):
            raise ValueError('auth = "token" needs token_env = "VAR" or token_file = "PATH"')
        return self

    @property
    def transport_name(self) -> str:
        """The transport to use: as configured, else ``stdio`` for a command, ``auto`` for a URL."""
        if self.transport:
            return self.transport
        return "stdio" if self.command else "auto"

    @property
    def auth_provider(self) -> str | None:
        """``NAME`` of ``auth = "provider:NAME"``."""
        return self.auth.split(":", 1)[1] if self.auth.startswith("provider:") else None

    def resolved_env(self, name: str, environ: dict[str, str] | None = None) -> dict[str, str]:
        """The configured ``env``, ``${VAR}`` references expanded (they are never stored expanded)."""
        return {k: expand_vars(v, environ, where=f"servers.{name}.env.{k}") for k, v in self.env.items()}

    def resolved_headers(self, name: str, environ: dict[str, str] | None = None) -> dict[str, str]:
        """The configured ``headers``, ``${VAR}`` references expanded."""
        return {k: expand_vars(v, environ, where=f"servers.{name}.headers.{k}") for k, v in self.headers.items()}

    def resolve_token(self, name: str, environ: dict[str, str] | None = None) -> str | None:
        """The API token configured as a fallback, or ``None`` when none is available."""
        env = os.environ if environ is None else environ
        if self.token is not None:
            return self.token.get_secret_value()
        if self.token_env and env.get(self.token_env):
            return env[self.token_env]
        if self.token_file:
            return read_secret_file(self.token_file, f"servers.{name}.token_file")
        return None


class IntrospectionConfig(_Section):
    """``[gateway.introspection]``: RFC 7662 token introspection with this client's credentials."""

    client_id_env: str = Field(description="variable holding the gateway's client_id at the authorization server")
    client_secret_env: str = Field(description="variable holding that client's secret")

    @field_validator("client_id_env", "client_secret_env")
    @classmethod
    def _variable_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError(f"names an environment variable (e.g. GATEWAY_CLIENT_ID), not {value!r}")
        return value


def _web_url(value: str) -> str:
    """``value`` if it is an absolute https URL (http only on a loopback host), else ValueError."""
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an absolute http(s) URL")
    if parts.query or parts.fragment:
        raise ValueError(f"{value!r} must have no query or fragment")
    loopback = parts.hostname in ("localhost", "127.0.0.1", "::1") or parts.hostname.startswith("127.")
    if parts.scheme == "http" and not loopback:
        raise ValueError(f"{value!r} is plain http on a non-loopback host; use https")
    return value


class GatewayConfig(_Section):
    """``[gateway]``: how ``mcpconnect serve --transport http`` admits its clients."""

    api_keys_env: str | None = Field(
        default=None, description="variable holding the client keys (comma-separated bearer tokens)"
    )
    allowed_hosts: list[str] = Field(default_factory=list, description="extra Host values, e.g. mcp.example.com:8765")
    allowed_origins: list[str] = Field(default_factory=list, description="extra Origin values of browser clients")
    public_url: str | None = Field(
        default=None, description="the gateway's URL as its clients reach it, e.g. https://mcp.example.com"
    )
    authorization_server: str | None = Field(
        default=None, description="issuer URL of the authorization server whose access tokens the gateway accepts"
    )
    audience: str | None = Field(
        default=None, description="the 'aud' tokens must carry (default: public_url + /mcp, the resource URI)"
    )
    sign_in_provider: str | None = Field(
        default=None,
        description="the [providers.NAME] (an OpenID Connect client of authorization_server) with which a browser "
        "signs in at /connect before connecting a per-user upstream",
    )
    required_scopes: list[str] = Field(default_factory=list, description="scopes every token must carry")
    introspection: IntrospectionConfig | None = Field(
        default=None, description="check tokens at the issuer's introspection endpoint instead of as JWTs"
    )
    session_idle_timeout: float = Field(
        default=1800.0,
        gt=0,
        le=366 * 86400,
        description="seconds an HTTP client's session may stay idle (no request, no open stream) before it is closed",
    )

    @field_validator("api_keys_env")
    @classmethod
    def _variable_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError(f"api_keys_env names an environment variable (e.g. MCPCONNECT_KEYS), not {value!r}")
        return value

    @field_validator("public_url", "authorization_server", "audience")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return _web_url(value)

    @field_validator("required_scopes")
    @classmethod
    def _scope_tokens(cls, value: list[str]) -> list[str]:
        for scope in value:
            if not re.fullmatch(r"[\x21\x23-\x5b\x5d-\x7e]+", scope):
                raise ValueError(f"{scope!r} is not a scope (one word, no spaces or quotes)")
        return value

    @model_validator(mode="after")
    def _resource_needs_public_url(self) -> GatewayConfig:
        if self.authorization_server and not self.public_url:
            raise ValueError(
                "authorization_server needs public_url: the gateway's URL as clients reach it "
                "(its resource URI, public_url + /mcp, is the audience tokens must carry)"
            )
        if self.introspection and not self.authorization_server:
            raise ValueError("introspection needs authorization_server: the issuer whose endpoint checks tokens")
        return self

    @property
    def resource(self) -> str | None:
        """The gateway's resource URI (RFC 8707/9728): ``public_url`` + ``/mcp``."""
        return self.public_url.rstrip("/") + "/mcp" if self.public_url else None


class Config(_Section):
    """The whole configuration."""

    storage: StorageConfig = Field(default_factory=StorageConfig)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    servers: dict[str, ServerConfig] = Field(default_factory=dict)
    gateway: GatewayConfig = Field(default_factory=GatewayConfig)
    refresh_margin: float = Field(default=300.0, ge=0, le=366 * 86400, description="seconds before expiry to refresh")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"


def dotted_key(*parts: str) -> str:
    """A key path as a user types it in TOML or after ``--set``: parts that are not bare keys are
    quoted (``dotted_key("servers", "my.notes", "url")`` is ``servers."my.notes".url``)."""

    def quoted(part: str) -> str:
        if re.fullmatch(r"[A-Za-z0-9_-]+", part):
            return part
        escaped = "".join(
            f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else "\\" + c if c in '"\\' else c for c in part
        )
        return f'"{escaped}"'

    return ".".join(map(quoted, parts))


def table_name(*parts: str) -> str:
    """The TOML table header of a key path, as a user types it into mcpconnect.toml
    (``table_name("servers", "10.0.0.2")`` is ``[servers."10.0.0.2"]``), so that an error's advice
    can be pasted as it is."""
    return "[" + dotted_key(*parts) + "]"
