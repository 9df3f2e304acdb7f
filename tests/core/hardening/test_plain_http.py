"""Every credential-bearing request: https, or loopback, or the server's allow_insecure_http.

One test per way a credential reaches a request: an API token (``token_env``, ``token_file``,
inline ``token``), a secret header, a key in the URL, an OAuth provider's token, and a provider's
own URL keys (``api_url``, ``base_url``) and the requests a provider plugin builds from them.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import Recorder, run

SECRET = "s3cret-credential-0123456789"

CREDENTIALS: dict[str, tuple[str, str]] = {
    # name: (the [servers.x] lines, the key the error must name)
    "token_env": ('auth = "token"\ntoken_env = "HARDENING_TOKEN"', "token_env"),
    "token_file": ('auth = "token"\ntoken_file = "{token_file}"', "token_file"),
    "inline token": (f'auth = "token"\ntoken = "{SECRET}"', "token"),
    "secret header": (f'headers = {{ "X-Api-Key" = "{SECRET}" }}', "headers.X-Api-Key"),
    "authorization header from env": (
        'headers = { Authorization = "Bearer ${HARDENING_TOKEN}" }',
        "headers.Authorization",
    ),
    "key in the url query": ("", "url"),
}


def project(tmp_path: Path, recorder: Recorder, credential: str, *, allow: bool) -> Path:
    lines, _key = CREDENTIALS[credential]
    token_file = tmp_path / "token"
    token_file.write_text(SECRET)
    token_file.chmod(0o600)
    url = f"{recorder.url}/mcp" + (f"?api_key={SECRET}" if credential == "key in the url query" else "")
    path = tmp_path / "mcpconnect.toml"
    path.write_text(
        '[storage]\nbackend = "memory"\n[servers.remote]\ntransport = "streamable-http"\n'
        f'url = "{url}"\ntimeout = 10\n{lines.replace("{token_file}", str(token_file))}\n'
        + ("allow_insecure_http = true\n" if allow else "")
    )
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("credential", sorted(CREDENTIALS))
def test_credential_is_never_sent_over_plain_http(
    credential: str,
    plain_http: Recorder,
    tmp_path: Path,
    mcpconnect_isolated: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HARDENING_TOKEN", SECRET)
    code, out, err = run(
        capsys, "--config", str(project(tmp_path, plain_http, credential, allow=False)), "check", "--json"
    )
    assert code == 1, err
    error = json.loads(out)["servers"][0]["error"]
    assert "server 'remote'" in error and "plain http://" in error
    assert "allow_insecure_http = true in [servers.remote]" in error
    assert CREDENTIALS[credential][1] in error  # names what would have been exposed
    assert SECRET not in out + err
    assert plain_http.requests == []  # nothing reached the network


@pytest.mark.parametrize("credential", sorted(CREDENTIALS))
def test_allow_insecure_http_is_the_explicit_escape(
    credential: str,
    plain_http: Recorder,
    tmp_path: Path,
    mcpconnect_isolated: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HARDENING_TOKEN", SECRET)
    code, out, err = run(
        capsys, "--config", str(project(tmp_path, plain_http, credential, allow=True)), "check", "--json"
    )
    assert code == 1  # the listener is no MCP server
    assert plain_http.requests, "with allow_insecure_http the request is sent"
    sent = json.dumps(plain_http.requests)
    assert SECRET in sent  # the credential went where the user allowed it
    assert SECRET not in out + err  # and never into our output


def test_a_server_without_credentials_may_use_plain_http(
    plain_http: Recorder, tmp_path: Path, mcpconnect_isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mcpconnect.toml"
    path.write_text(
        f'[storage]\nbackend = "memory"\n[servers.open]\ntransport = "streamable-http"\nurl = "{plain_http.url}/mcp"\n'
        'headers = { "X-Trace" = "abc" }\ntimeout = 10\n'
    )
    code, out, _ = run(capsys, "--config", str(path), "check", "--json")
    assert code == 1 and plain_http.requests  # refused by the listener, not by us
    assert "plain http://" not in out


def test_oauth_server_over_plain_http_is_refused(
    plain_http: Recorder, tmp_path: Path, mcpconnect_isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mcpconnect.toml"
    path.write_text(
        '[storage]\nbackend = "memory"\n[providers.gh]\ntype = "github"\nclient_id = "cid"\n'
        f'[servers.remote]\ntransport = "streamable-http"\nurl = "{plain_http.url}/mcp"\nauth = "provider:gh"\n'
    )
    code, out, _ = run(capsys, "--config", str(path), "check", "remote", "--json")
    assert code == 1 and "plain http://" in json.loads(out)["servers"][0]["error"]
    assert plain_http.requests == []


# -- a provider's own URLs ---------------------------------------------------------------------


def _manager(providers: dict[str, Any]) -> Any:
    from mcpconnect._runtime import Runtime
    from mcpconnect.auth import token_manager

    return token_manager(Runtime.build({"storage": {"backend": "memory"}, "providers": providers}))


@pytest.mark.parametrize("key", ["api_url", "base_url"])
async def test_a_plain_http_provider_url_key_is_refused(key: str, plain_http: Recorder) -> None:
    """Cloudflare's user API is built from api_url: it carries the bearer token like userinfo."""
    manager = _manager({"cf": {"type": "cloudflare", "client_id": "cid", key: f"{plain_http.url}/client/v4"}})
    provider = manager.provider("cf")
    async with manager.http(provider) as http:
        with pytest.raises(Exception) as info:
            await provider.endpoints(http)
    message = str(info.value)
    assert "provider 'cf'" in message and key in message and "plain http://" in message
    assert "allow_insecure_http = true in [providers.cf]" in message
    assert plain_http.requests == []


async def test_every_request_a_provider_plugin_sends_is_checked(plain_http: Recorder) -> None:
    """A URL a plugin builds itself (here, get_json to a user API) meets the same rule."""
    from mcpconnect.errors import AuthError

    manager = _manager({"o": {"type": "oauth2", "client_id": "cid", "token_url": "https://example.com/token"}})
    provider = manager.provider("o")
    async with manager.http(provider) as http:
        with pytest.raises(AuthError, match="plain http://"):
            await provider.get_json(http, f"{plain_http.url}/user", SECRET, what="user API")
    assert plain_http.requests == []

    allowed = _manager(
        {"o": {"type": "oauth2", "client_id": "cid", "token_url": "https://e/t", "allow_insecure_http": True}}
    )
    provider = allowed.provider("o")
    async with allowed.http(provider) as http:
        with pytest.raises(AuthError):  # the listener answers 401
            await provider.get_json(http, f"{plain_http.url}/user", SECRET, what="user API")
    assert plain_http.requests and plain_http.requests[0]["authorization"] == f"Bearer {SECRET}"


def test_the_check_table_shows_the_key_to_set(
    plain_http: Recorder,
    tmp_path: Path,
    mcpconnect_isolated: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """'[servers.remote]' is text, not a rich markup tag that vanishes from the table."""
    monkeypatch.setenv("HARDENING_TOKEN", SECRET)
    monkeypatch.setenv("COLUMNS", "400")
    path = project(tmp_path, plain_http, "token_env", allow=False)
    code, out, _ = run(capsys, "--config", str(path), "check")
    assert code == 1 and "set allow_insecure_http = true in [servers.remote]" in out


async def test_each_request_is_checked_not_only_the_configured_url(plain_http: Recorder) -> None:
    """A server configured on loopback whose client is sent elsewhere (a redirect followed, an
    endpoint the server names) must not carry the credential to plain http on another host."""
    from mcpconnect._config.model import ServerConfig
    from mcpconnect._serverauth import BearerAuth, require_secure_url
    from mcpconnect.errors import AuthError
    from mcpconnect.transport import TransportContext
    from mcpconnect.transport._http import httpx_client, sdk_http_client

    server = ServerConfig(url="http://127.0.0.1:9/mcp", auth="token", token=SECRET)
    for auth in (BearerAuth(SECRET), None):  # the bridged client and the plain one
        headers = {} if auth else {"Authorization": f"Bearer {SECRET}"}
        config = server.model_copy(update={"headers": headers})
        # The rule the core hands every transport (servers/connection.py builds the same context).
        check = functools.partial(require_secure_url, "remote", config)
        context = TransportContext(name="remote", auth=auth, check_url=check)
        async with httpx_client("remote", config, context) as client:
            with pytest.raises(AuthError, match="plain http://"):
                await client.get(f"{plain_http.url}/elsewhere")
            async with sdk_http_client(client) as sdk_client:
                with pytest.raises(Exception, match="plain http://"):
                    await sdk_client.post(f"{plain_http.url}/elsewhere", content=b"{}")
    assert plain_http.requests == []
