"""Login flows against a real authorization server (oidc-provider): code + PKCE, device,
client credentials, and hostile callbacks that must fail clearly and change nothing stored."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from mcpconnect_oidc_server import CONFIDENTIAL_SECRET, POST_SECRET

from mcpconnect.auth import NeedsLoginError, OAuthError, TokenManager, TransientAuthError
from mcpconnect.auth._flows import AuthorizationAttempt
from mcpconnect.auth._headless import deliver_callback, follow_authorization
from mcpconnect.errors import AuthError

pytestmark = pytest.mark.node


def public(server) -> dict:
    return {"type": "oidc", "issuer": server.issuer, "client_id": "public-cli"}


def confidential(server) -> dict:
    return {"type": "oidc", "issuer": server.issuer, "client_id": "confidential", "client_secret": CONFIDENTIAL_SECRET}


def explicit_post(server) -> dict:
    """The generic oauth2 provider, every endpoint written out, client_secret_post."""
    i = server.issuer
    return {
        "type": "oauth2",
        "authorize_url": f"{i}/auth",
        "token_url": f"{i}/token",
        "revoke_url": f"{i}/token/revocation",
        "device_url": f"{i}/device/auth",
        "userinfo_url": f"{i}/me",
        "issuer": i,
        "client_id": "post-client",
        "client_secret": POST_SECRET,
        "scopes": ["openid", "profile"],
        "options": {"token_endpoint_auth": "post"},
    }


async def snapshot(manager: TokenManager) -> list[tuple[str, str, int, str]]:
    return [
        (s.token.provider, s.token.account, s.version, s.token.access_token.get_secret_value())
        for s in await manager.store.list()
    ]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- authorization code + PKCE ------------------------------------------------------------------


async def test_login_with_code_and_pkce_stores_a_working_token(oidc_server, make_runtime):
    runtime = make_runtime({"local": public(oidc_server)})
    manager = TokenManager(runtime)
    urls: list[str] = []

    async def browser(url: str) -> None:
        urls.append(url)
        callback = await follow_authorization(url)
        assert callback.status == 200 and "Logged in" in callback.body

    token = await manager.login("local", on_url=browser)

    query = parse_qs(urlsplit(urls[0]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"][0].startswith("http://127.0.0.1:")
    assert token.account == "alice" and token.account_name == "Alice Example"
    assert token.refresh_token is not None and token.issuer == oidc_server.issuer
    assert token.expires_at is not None and token.expires_at > datetime.now(UTC) + timedelta(minutes=50)
    stored = await manager.store.get("local", "alice")
    assert stored is not None and stored.token.access_token == token.access_token
    info = oidc_server.introspect(token.access_token.get_secret_value())
    assert info["active"] is True and info["sub"] == "alice"


async def test_each_attempt_gets_a_fresh_verifier_and_state(oidc_server, make_runtime):
    manager = TokenManager(make_runtime({"local": public(oidc_server)}))
    urls: list[str] = []

    async def browser(url: str) -> None:
        urls.append(url)
        await follow_authorization(url)

    await manager.login("local", on_url=browser)
    await manager.login("local", on_url=browser)
    first, second = (parse_qs(urlsplit(u).query) for u in urls)
    assert first["code_challenge"] != second["code_challenge"]
    assert first["state"] != second["state"]
    assert first["redirect_uri"] != second["redirect_uri"]  # a new ephemeral port each time


async def test_confidential_client_basic_auth_and_explicit_endpoints_post_auth(oidc_server, make_runtime):
    manager = TokenManager(make_runtime({"conf": confidential(oidc_server), "post": explicit_post(oidc_server)}))
    conf = await manager.login("conf", on_url=follow_authorization)
    post = await manager.login("post", on_url=follow_authorization)
    assert conf.account == post.account == "alice"
    assert set(post.scopes) == {"openid", "profile"}
    assert manager.provider("conf").client_auth_method() == "basic"
    assert manager.provider("post").client_auth_method() == "post"


async def test_login_hint_picks_the_account_and_accounts_are_kept_apart(oidc_server, make_runtime):
    cfg = public(oidc_server) | {"options": {"authorize_params": {"login_hint": "bob"}}}
    manager = TokenManager(make_runtime({"local": public(oidc_server), "bobs": cfg}))
    await manager.login("local", on_url=follow_authorization)
    bob = await manager.login("bobs", on_url=follow_authorization)
    assert bob.account == "bob" and bob.account_name == "Bob Example"
    assert [(s.token.provider, s.token.account) for s in await manager.store.list()] == [
        ("bobs", "bob"),
        ("local", "alice"),
    ]


# -- hostile and broken callbacks -----------------------------------------------------------------


def tamper(**changes: str | None):
    """A 'browser' that sends the listener a crafted callback instead of following the flow."""

    async def browser(url: str) -> None:
        query = parse_qs(urlsplit(url).query)
        redirect_uri = query["redirect_uri"][0]
        params = {"state": query["state"][0], "code": "forged-code-value-123456", "iss": changes.pop("_iss", None)}
        params.update(changes)
        sent = {k: v for k, v in params.items() if v is not None}
        callback = await deliver_callback(f"{redirect_uri}?{urlencode(sent)}")
        assert callback.status == 400 and "Login failed" in callback.body
        assert "forged-code-value-123456" not in callback.body

    return browser


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"state": None}, "has no state parameter"),
        ({"state": "not-the-state-of-this-login"}, "state does not match"),
        ({"_iss": "https://evil.example.test"}, "mix-up"),
        ({"error": "access_denied", "error_description": "no", "code": None}, "refused the login: access_denied"),
        ({"code": None}, "carries no authorization code"),
    ],
    ids=["state-missing", "state-wrong", "iss-wrong", "access-denied", "no-code"],
)
async def test_hostile_callbacks_fail_clearly_and_change_nothing(oidc_server, make_runtime, changes, expected):
    manager = TokenManager(make_runtime({"local": public(oidc_server)}))
    await manager.login("local", on_url=follow_authorization)
    before = await snapshot(manager)
    changes = dict(changes)
    if "_iss" not in changes:
        changes["_iss"] = oidc_server.issuer
    with pytest.raises(AuthError, match=expected) as info:
        await manager.login("local", on_url=tamper(**changes))
    assert "provider 'local'" in str(info.value) and "mcpconnect login local" in str(info.value)
    assert await snapshot(manager) == before


async def test_missing_iss_is_refused_when_the_server_promises_it(oidc_server, make_runtime):
    manager = TokenManager(make_runtime({"local": public(oidc_server)}))
    endpoints = await manager.provider("local").endpoints(manager.http())
    assert endpoints.iss_parameter_supported  # oidc-provider implements RFC 9207
    with pytest.raises(AuthError, match="issuer \\(iss\\) is missing"):
        await manager.login("local", on_url=tamper(_iss=None))
    assert await snapshot(manager) == []


async def test_access_denied_by_the_server(oidc_server, make_runtime):
    manager = TokenManager(make_runtime({"local": public(oidc_server)}))
    oidc_server.set(deny=1)
    with pytest.raises(OAuthError, match="access_denied") as info:
        await manager.login("local", on_url=follow_authorization)
    assert info.value.error == "access_denied"
    assert await snapshot(manager) == []


async def test_replayed_callback_is_refused(oidc_server, make_runtime):
    manager = TokenManager(make_runtime({"local": public(oidc_server)}))
    statuses: list[int] = []
    urls: list[str] = []

    async def browser(url: str) -> None:
        callback = await follow_authorization(url, deliver=False)
        urls.append(callback.url)
        statuses.append((await deliver_callback(callback.url)).status)
        try:
            statuses.append((await deliver_callback(callback.url)).status)
        except OSError:
            statuses.append(-1)  # the listener had already closed: the replay cannot land

    token = await manager.login("local", on_url=browser)
    # The flow may finish (and stop the browser task) before the replay is answered; if the replay
    # was answered, it was refused. Either way only one code was exchanged (checked below).
    assert statuses[0] == 200
    assert statuses[1:] in ([], [400], [-1])
    assert oidc_server.stats()["tokenRequests"] == 1
    stored = await manager.store.get("local", token.account)
    assert stored is not None and stored.version == 1
    # After the flow the listener is gone: a later replay has nowhere to land.
    with pytest.raises(OSError):
        await deliver_callback(urls[0])
    assert (await manager.store.get("local", token.account)).version == 1


def test_attempt_state_is_one_time_and_expires():
    attempt = AuthorizationAttempt(provider="p", redirect_uri="http://127.0.0.1:1/callback", expires_at=100.0)
    good = {"state": attempt.state, "code": "a-code-value-0123"}
    assert attempt.check(good, now=50.0) is None and attempt.code == "a-code-value-0123"
    assert "already used" in (attempt.check(good, now=50.0) or "")
    late = AuthorizationAttempt(provider="p", redirect_uri="http://127.0.0.1:1/callback", expires_at=100.0)
    assert "expired" in (late.check({"state": late.state, "code": "x" * 10}, now=101.0) or "")
    assert "verifier" not in repr(late) and late.state not in repr(late)


# -- device flow ------------------------------------------------------------------------------------


async def test_device_flow_honours_pending_and_slow_down(oidc_server, make_runtime):
    manager = TokenManager(make_runtime({"conf": confidential(oidc_server)}))
    shown = []
    waits: list[float] = []

    def show(auth) -> None:
        shown.append(auth)

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 1:
            oidc_server.set(slowDown=1)  # the first poll is told to slow down
        if len(waits) == 3:
            assert oidc_server.approve_device(shown[0].user_code)  # approved after one pending poll

    token = await manager.login("conf", method="device", on_device_code=show, device_sleep=sleep)
    assert token.account == "alice" and token.refresh_token is not None
    assert shown[0].verification_uri.startswith(oidc_server.issuer)
    # interval 1 s, slow_down adds 5 s, authorization_pending keeps the interval.
    assert waits == [1.0, 6.0, 6.0]


async def test_device_flow_denied(oidc_server, make_runtime):
    manager = TokenManager(make_runtime({"conf": confidential(oidc_server)}))
    shown = []

    async def sleep(seconds: float) -> None:
        oidc_server.deny_device(shown[0].user_code)

    with pytest.raises(OAuthError, match="device login was denied"):
        await manager.login("conf", method="device", on_device_code=shown.append, device_sleep=sleep)
    assert await snapshot(manager) == []


async def test_device_flow_expires(oidc_server, make_runtime):
    from mcpconnect.auth import _flows as flows

    manager = TokenManager(make_runtime({"conf": confidential(oidc_server)}))
    provider = manager.provider("conf")
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds * 1000  # the clock runs fast: the code expires after one poll

    async with manager.http() as http:
        with pytest.raises(AuthError, match="device code expired"):
            await flows.device_flow(
                provider, http, scopes=("openid",), on_code=lambda a: None, sleep=sleep, clock=lambda: now[0]
            )


# -- client credentials -------------------------------------------------------------------------------


async def test_client_credentials_basic_and_post(oidc_server, make_runtime):
    manager = TokenManager(make_runtime({"conf": confidential(oidc_server), "post": explicit_post(oidc_server)}))
    conf = await manager.login("conf", method="client_credentials", scopes=["api:read"])
    post = await manager.login("post", method="client_credentials", scopes=["api:read"])
    assert conf.account == "confidential" and post.account == "post-client"
    assert conf.refresh_token is None and conf.expires_at is not None
    info = oidc_server.introspect(conf.access_token.get_secret_value())
    assert info["active"] is True and info["client_id"] == "confidential"
    # Without --scope, the user scopes of the oidc type (openid...) are not asked for.
    plain = await manager.login("conf", method="client_credentials")
    assert plain.scopes == () and oidc_server.introspect(plain.access_token.get_secret_value())["active"]


async def test_client_credentials_with_a_wrong_secret_is_a_clear_error(oidc_server, make_runtime):
    cfg = confidential(oidc_server) | {"client_secret": "wrong-secret-value-000000000"}
    manager = TokenManager(make_runtime({"conf": cfg}))
    with pytest.raises(OAuthError, match=r"invalid_client.*check client_id and the client secret") as info:
        await manager.login("conf", method="client_credentials")
    assert "wrong-secret-value" not in str(info.value)
    assert not isinstance(info.value, NeedsLoginError)  # a login would not help: the client is wrong


# -- broken servers ------------------------------------------------------------------------------------


async def test_server_down_is_transient_and_clear(make_runtime):
    issuer = f"http://127.0.0.1:{closed_port()}"
    manager = TokenManager(make_runtime({"down": {"type": "oidc", "issuer": issuer, "client_id": "x"}}))
    with pytest.raises(TransientAuthError, match="cannot reach the issuer"):
        await manager.login("down", on_url=follow_authorization)


@pytest.mark.parametrize("skew", [-600, 600])
async def test_clock_skew_of_minutes_does_not_break_login_or_expiry(oidc_server, make_runtime, skew):
    manager = TokenManager(make_runtime({"local": public(oidc_server)}))
    oidc_server.set(skew=skew)
    token = await manager.login("local", on_url=follow_authorization)
    # Expiry is computed from expires_in on the local clock, not from the server's clock.
    left = token.expires_in()
    assert left is not None and timedelta(minutes=59) < left <= timedelta(minutes=60)
    refreshed = await manager.refresh("local")
    assert refreshed.access_token != token.access_token
    assert (await manager.get_token("local")).access_token == refreshed.access_token


async def test_listener_ignores_other_paths_and_methods_and_closes_after():
    import asyncio

    from mcpconnect.auth._loopback import LoopbackListener

    seen: list[dict[str, str]] = []

    def on_callback(params: dict[str, str]) -> None:
        seen.append(params)

    async with LoopbackListener(on_callback) as listener:
        base = f"http://127.0.0.1:{listener.port}"
        assert listener.redirect_uri == f"{base}/callback"
        assert (await deliver_callback(f"{base}/favicon.ico")).status == 404
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(b"POST /callback HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        assert b" 405 " in (await reader.read()).split(b"\r\n", 1)[0]
        writer.close()
        assert seen == []  # none of these ended the wait
        page = await deliver_callback(f"{base}/callback?code=secret-code-value-99&state=s")
        assert page.status == 200 and "secret-code-value-99" not in page.body
        assert await listener.wait() is None and seen == [{"code": "secret-code-value-99", "state": "s"}]
        assert (await deliver_callback(f"{base}/callback?code=again")).status == 400
    with pytest.raises(OSError):
        await deliver_callback(f"{base}/callback?code=late")


async def test_concurrent_logins_do_not_share_state(oidc_server, make_runtime):
    import asyncio

    manager = TokenManager(make_runtime({"local": public(oidc_server)}))
    urls: list[str] = []

    async def browser(url: str) -> None:
        urls.append(url)
        await follow_authorization(url)

    a, b = await asyncio.gather(manager.login("local", on_url=browser), manager.login("local", on_url=browser))
    assert a.account == b.account == "alice" and a.access_token != b.access_token
    states = {parse_qs(urlsplit(u).query)["state"][0] for u in urls}
    assert len(states) == 2
