"""The one redaction module (hypothesis): a secret in a URL's password, a secret query
parameter, a secret-named assignment or key, in any case, never survives."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpconnect._redact import is_secret_name, redact_text, redact_value, safe_url, secret_values

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


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://[::1]:8080/x?token=abc123secret", "http://[::1]:8080/x"),
        ("https://user:pa55word@[2001:db8::1]/mcp#frag", "https://[2001:db8::1]/mcp"),
        ("http://[fe80::1%25eth0]:9/p?a=1", "http://[fe80::1%25eth0]:9/p"),
        ("https://app:p@ss@Host.Example:8443/a/b?api_key=k", "https://Host.Example:8443/a/b"),
        ("http://127.0.0.1", "http://127.0.0.1"),
        ("file:///home/me/notes.txt?x=1", "file:///home/me/notes.txt"),
        ("http://[::1/broken", "<unparseable URL>"),
    ],
)
def test_safe_url_keeps_the_host_and_drops_what_may_carry_a_secret(url: str, shown: str) -> None:
    assert safe_url(url) == shown


@given(
    st.sampled_from(["https", "http", "file", "redis"]),
    st.sampled_from(["host.example", "[::1]", "[2001:db8::7]", "10.0.0.1"]),
    st.sampled_from(["", ":1", ":65535"]),
    secret,
    secret,
)
def test_safe_url_never_shows_user_info_or_query(scheme: str, host: str, port: str, password: str, query: str) -> None:
    shown = safe_url(f"{scheme}://me:{password}@{host}{port}/p?token={query}#{query}")
    # A raw "[" in the password makes the URL unparseable: then nothing of it shows.
    assert shown in (f"{scheme}://{host}{port}/p", "<unparseable URL>")
    assert "?" not in shown and "#" not in shown and "@" not in shown


def test_one_url_redactor_serves_errors_transports_and_auth() -> None:
    import mcpconnect._servers.errors
    import mcpconnect.auth._provider
    import mcpconnect.errors
    import mcpconnect.transport._http

    for module in (mcpconnect.errors, mcpconnect._servers.errors, mcpconnect.transport._http):
        assert module.safe_url is safe_url
    assert not hasattr(mcpconnect.auth._provider, "_safe_url")


@given(st.lists(st.text(max_size=20), max_size=8))
def test_a_list_keeps_its_length_and_a_secret_flag_hides_what_follows(items: list[str]) -> None:
    from mcpconnect._redact import redact_nested

    shown = redact_nested("args", items)
    assert len(shown) == len(items)
    shown = redact_nested("args", [*items, "--token", "flag-value-0001"])
    assert shown[-2:] == ["--token", "***"]
