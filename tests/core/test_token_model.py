"""The token model: absolute expiry, redaction everywhere but the store's serialization."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from mcpconnect.tokens import Token, redact

SECRET = "gho_16C7e42F292c6912E7710c838347Ae178B4a"
REFRESH = "ghr_1B4a2e77838347a7E420ce178F2E7c6912E1"


def make(**kw: object) -> Token:
    base: dict[str, object] = {
        "provider": "github",
        "account": "583231",
        "access_token": SecretStr(SECRET),
        "refresh_token": SecretStr(REFRESH),
        "expires_at": datetime.now(UTC) + timedelta(hours=8),
        "scopes": ("repo", "read:org"),
    }
    base.update(kw)
    return Token.model_validate(base)


def test_repr_str_and_default_dumps_hide_secrets() -> None:
    token = make()
    for text in (repr(token), str(token), token.model_dump_json(), json.dumps(token.summary())):
        assert SECRET not in text and REFRESH not in text


def test_store_serialization_round_trips_the_secrets() -> None:
    token = make()
    back = Token.from_json(token.to_json())
    assert back == token
    assert back.access_token.get_secret_value() == SECRET
    assert back.refresh_token is not None and back.refresh_token.get_secret_value() == REFRESH


def test_expiry_is_absolute_and_survives_a_round_trip() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    token = make(expires_at=now + timedelta(minutes=10))
    back = Token.from_json(token.to_json())
    assert back.expires_in(now) == timedelta(minutes=10)
    assert not back.is_expiring(timedelta(minutes=5), now)
    assert back.is_expiring(timedelta(minutes=10), now)
    assert back.is_expiring(now=now + timedelta(hours=1))


def test_a_token_without_expiry_never_expires() -> None:
    token = make(expires_at=None)
    assert token.expires_in() is None and not token.is_expiring(timedelta(days=3650))


def test_refreshable() -> None:
    assert make().refreshable
    assert not make(refresh_token=None).refreshable
    assert not make(refresh_expires_at=datetime.now(UTC) - timedelta(seconds=1)).refreshable


def test_summary_is_safe_for_cli_tables() -> None:
    summary = make().summary()
    assert summary["access_token"] == redact(SECRET)
    assert summary["state"] == "valid" and summary["refreshable"] is True
    assert summary["scopes"] == ["repo", "read:org"]
    assert make(needs_login=True).summary()["state"] == "needs login"


def test_redact_shows_at_most_four_characters_at_each_end() -> None:
    assert redact(SECRET) == "gho_…8B4a"
    assert redact("short") == "…"
    assert redact(None) == "-"
