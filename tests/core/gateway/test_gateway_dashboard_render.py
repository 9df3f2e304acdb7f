"""The dashboard's fragments are built by string formatting: whatever a server, a provider or a
user controls (names, errors, account names, scopes) comes out as text, never as markup."""

from __future__ import annotations

from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from mcpconnect._gateway.dashboard import render_logins, render_pending, render_servers

hostile = st.one_of(
    st.sampled_from(["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "'&amp;<b>", "a\nb</td>"]),
    st.text(min_size=1),
)


class Parsed(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.data: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.data.append(data)


@given(name=hostile, error=hostile, transport=hostile)
def test_a_servers_values_stay_text(name: str, error: str, transport: str) -> None:
    row = {"name": name, "state": "failed", "ok": False, "transport": transport, "error": error}
    parsed = Parsed(render_servers([row]))
    assert [tag for tag, _ in parsed.tags] == ["tr"] + ["td"] * 7
    assert parsed.tags[0][1]["data-server"] == name
    assert parsed.tags[-1][1]["title"] == error  # the whole error in the title, the first line shown


@given(provider=hostile, account=hostile, account_name=hostile, scope=hostile)
def test_a_logins_values_stay_text(provider: str, account: str, account_name: str, scope: str) -> None:
    row = {
        "provider": provider,
        "account": account,
        "account_name": account_name,
        "scopes": [scope],
        "expires_at": None,
        "expires_in_seconds": 3599,
        "refreshable": True,
        "state": "valid",
    }
    parsed = Parsed(render_logins([(provider, "oidc")], [row]))
    tags = [tag for tag, _ in parsed.tags]
    assert tags == ["tr"] + ["td"] * 7 + ["button"] * 3
    buttons = [attrs for tag, attrs in parsed.tags if tag == "button"]
    assert [b["data-action"] for b in buttons] == ["login", "refresh", "logout"]
    assert all(b["data-provider"] == provider for b in buttons)
    assert [b.get("data-account") for b in buttons] == [None, account, account]
    assert "59m" in parsed.data


@given(provider=hostile, message=hostile)
def test_a_logins_outcome_and_link_stay_text(provider: str, message: str) -> None:
    done = {"provider": provider, "state": "failed", "url": None, "message": message}
    waiting = {"provider": provider, "state": "waiting", "url": f"https://login.example/auth?x={message}"}
    parsed = Parsed(render_pending([done, {**waiting, "message": ""}]))
    assert [tag for tag, _ in parsed.tags] == ["li", "li", "b", "a"]
    assert parsed.tags[-1][1]["href"] == waiting["url"]
    assert parsed.tags[-1][1]["target"] == "_blank"
