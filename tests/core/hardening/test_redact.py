"""The one redaction module (hypothesis): a secret in a URL's password, a secret query
parameter, a secret-named assignment or key, in any case, never survives."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mcpconnect.redact import is_secret_name, redact_text, redact_value, secret_values

secret = st.text(
    alphabet=st.characters(blacklist_categories=["Cs", "Cc", "Zs"], blacklist_characters="/?#&;\"'=@"),
    min_size=6,
    max_size=30,
)
names = st.sampled_from(
    [
        "api_key",
        "API_KEY",
        "Api-Key",
        "token",
        "ACCESS_TOKEN",
        "password",
        "Passwd",
        "client_secret",
        "X-Auth",
        "Signature",
        "sig",
        "SESSION_ID",
    ]
)


def case(name: str, flips: list[bool]) -> str:
    return "".join(c.upper() if f else c.lower() for c, f in zip(name, flips + [False] * len(name), strict=False))


@given(secret, st.sampled_from(["postgresql", "redis", "https", "amqp"]), st.sampled_from(["", " tail", "/db", "?x=1"]))
def test_a_url_password_never_survives(value: str, scheme: str, tail: str) -> None:
    text = f"connect {scheme}://user:{value}@host.example:1234{tail}"
    assert value not in redact_text(text)
    assert value in secret_values({"URL": text})


@given(secret, names, st.lists(st.booleans(), max_size=20))
def test_secret_query_parameters_and_assignments_never_survive(value: str, name: str, flips: list[bool]) -> None:
    name = case(name, flips)
    assert is_secret_name(name)
    assert value not in redact_text(f"https://h.example/p?x=1&{name}={value}&y=2")
    assert value not in redact_text(f"{name}={value} other=1")
    assert value not in redact_text(f'--{name}="{value}"')
    assert redact_value(name, value) == "***"


@given(st.text(max_size=40))
def test_text_without_secrets_is_left_alone(text: str) -> None:
    if "=" not in text and "://" not in text:
        assert redact_text(text) == text


def test_names_that_are_places_or_modes_are_not_secret() -> None:
    for name in ("token_env", "client_secret_file", "auth", "token_to_env", "HOME", "url", "key_env"):
        assert not is_secret_name(name), name
    assert redact_value("GITHUB_TOKEN", "${GITHUB_TOKEN}") == "${GITHUB_TOKEN}"
    assert redact_value("PASSWORD", "pre-${X}") == "***"
