"""Whole flows at DEBUG: no access token, refresh token, ID token, client secret, code, PKCE verifier
or device code in any log record (of any logger), exception message or repr."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from mcpconnect_oidc_server import CONFIDENTIAL_SECRET

from mcpconnect._serverauth import OAuthBearerAuth
from mcpconnect.auth import NeedsLoginError, TokenManager
from mcpconnect.auth import _flows as flows
from mcpconnect.auth._headless import deliver_callback, follow_authorization

pytestmark = pytest.mark.node


async def test_no_secret_in_any_record_message_or_repr(oidc_server, make_runtime, caplog, monkeypatch):
    secrets: list[str] = [CONFIDENTIAL_SECRET]
    texts: list[str] = []

    real_pkce = flows.pkce_pair

    def spy_pkce() -> tuple[str, str]:
        verifier, challenge = real_pkce()
        secrets.append(verifier)
        return verifier, challenge

    monkeypatch.setattr(flows, "pkce_pair", spy_pkce)

    async def browser(url: str) -> None:
        callback = await follow_authorization(url, deliver=False)
        secrets.append(dict(p.split("=", 1) for p in callback.url.split("?", 1)[1].split("&"))["code"])
        await deliver_callback(callback.url)

    def keep(token) -> None:
        for field in (token.access_token, token.refresh_token, token.id_token):
            if field is not None:
                secrets.append(field.get_secret_value())
        texts.extend([repr(token), str(token), str(token.model_dump()), str(token.summary())])

    cfg = {
        "type": "oidc",
        "issuer": oidc_server.issuer,
        "client_id": "confidential",
        "client_secret": CONFIDENTIAL_SECRET,
    }
    runtime = make_runtime({"local": cfg})
    manager = TokenManager(runtime, backoff=0.0, retries=2)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("httpx").setLevel(logging.DEBUG)
        logging.getLogger("httpcore").setLevel(logging.DEBUG)
        token = await manager.login("local", on_url=browser)
        keep(token)
        texts.append(repr(manager.provider("local")))

        # Refresh (rotation), then the 401 path through the server auth.
        keep(await manager.refresh("local"))
        stored = await manager.store.get("local", "alice")
        from pydantic import SecretStr

        broken = stored.token.model_copy(update={"access_token": SecretStr("rejected-access-token-value-000")})
        await manager.store.put(broken, expected_version=stored.version)
        auth = OAuthBearerAuth(manager, "local", "alice")
        async with httpx.AsyncClient(auth=auth) as http:
            assert (await http.get(f"{oidc_server.issuer}/me")).status_code == 200
        keep((await manager.store.get("local", "alice")).token)
        texts.append(repr(auth))

        # Transient failures with retries, then invalid_grant on a stale copy.
        current = await manager.store.get("local", "alice")
        expired = current.token.model_copy(update={"expires_at": datetime.now(UTC) - timedelta(seconds=5)})
        await manager.store.put(expired, expected_version=current.version)
        oidc_server.set(failToken=2)
        try:
            await manager.get_token("local")
        except Exception as exc:  # the test wants the message, whatever the class
            texts.append(str(exc))
        oidc_server.set(failToken=0)
        keep(await manager.get_token("local"))
        stale = token.model_copy(update={"expires_at": datetime.now(UTC) - timedelta(seconds=5)})
        latest = await manager.store.get("local", "alice")
        await manager.store.put(stale, expected_version=latest.version)
        with pytest.raises(NeedsLoginError) as info:
            await manager.get_token("local")
        texts.append(str(info.value))

        # Device flow and client credentials.
        shown = []

        async def approve(seconds: float) -> None:
            oidc_server.approve_device(shown[0].user_code)

        def show(auth) -> None:
            shown.append(auth)
            secrets.append(auth.device_code)
            texts.append(repr(auth))

        keep(await manager.login("local", method="device", on_device_code=show, device_sleep=approve))
        keep(await manager.login("local", method="client_credentials"))

        result = await manager.logout("local", "alice")
        texts.append(repr(result))

    records = caplog.records
    assert any(r.levelno == logging.DEBUG for r in records)  # DEBUG really was on
    assert any(r.name.startswith("httpx") for r in records)
    for record in records:
        texts.append(record.getMessage())
        if record.exc_info:
            texts.append(logging.Formatter().formatException(record.exc_info))
    everything = "\n".join(texts)
    assert len(set(secrets)) >= 12
    leaked = [s[:6] + "…" for s in set(secrets) if s in everything]
    assert leaked == []
