"""What a provider says beside the token is kept on the Token, secrets left out."""

from __future__ import annotations

from mcpconnect.auth._manager import _public_fields


def test_public_fields_keep_workspace_and_team_but_no_secret() -> None:
    slack = {
        "ok": True,
        "app_id": "A0KRD7HC3",
        "team": {"name": "Slack Softball Team", "id": "T9TK3CUKW"},
        "authed_user": {"id": "U1234", "scope": "chat:write", "access_token": "xoxp-1234", "token_type": "user"},
        "bot_user_id": "U0KRQLJ9H",
        "incoming_webhook": {"url": "https://hooks.slack.com/TXXX"},
        "enterprise": None,
    }
    kept = _public_fields(slack)
    assert kept["team"] == {"name": "Slack Softball Team", "id": "T9TK3CUKW"}
    assert kept["authed_user"] == {"id": "U1234", "scope": "chat:write"}
    assert "xoxp-1234" not in repr(kept)
    notion = {
        "workspace_id": "w-1",
        "workspace_name": "Acme",
        "owner": {"user": {"id": "u-1", "name": "Ada"}},
        "duplicated_template_id": None,
        "refresh_token": "nrt-secret",
    }
    kept = _public_fields(notion)
    assert kept["workspace_name"] == "Acme" and kept["owner"]["user"]["name"] == "Ada"
    assert "nrt-secret" not in repr(kept)
