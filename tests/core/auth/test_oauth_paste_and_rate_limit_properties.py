"""Property-based tests of two inputs others control: the URL a user pastes back (``--paste``),
and the rate-limit headers and bodies a provider sends."""

from __future__ import annotations

import math
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpconnect.auth._flows import redirect_params
from mcpconnect.auth._provider import retry_after
from mcpconnect.errors import AuthError

REDIRECT = "https://app.example.com/slack/oauth"
KEYS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)


@given(pasted=st.text(max_size=300))
def test_any_paste_is_params_or_a_clear_error(pasted: str) -> None:
    try:
        params = redirect_params(pasted, REDIRECT, who="provider 'slack'", again="run it again")
    except AuthError as exc:
        message = str(exc)
    else:
        assert isinstance(params, dict) and params
        return
    assert message.startswith("provider 'slack': ") and "run it again" in message


@given(params=st.dictionaries(KEYS, st.text(max_size=30), min_size=1, max_size=6))
def test_a_redirect_to_the_configured_uri_gives_back_its_parameters(params: dict[str, str]) -> None:
    assert redirect_params(f"{REDIRECT}?{urlencode(params)}", REDIRECT, who="p", again="a") == params


@given(
    host=st.sampled_from(["evil.example", "app.example.com.evil.example", "APP.example.com:444", "127.0.0.1"]),
    scheme=st.sampled_from(["http", "https", "javascript", "file"]),
)
def test_another_place_is_refused(host: str, scheme: str) -> None:
    url = f"{scheme}://{host}/slack/oauth?code=c&state=s"
    with pytest.raises(AuthError, match="not the redirect URI"):
        redirect_params(url, REDIRECT, who="p", again="a")


@given(
    header=st.one_of(st.none(), st.text(max_size=40), st.floats().map(str), st.integers(-(10**9), 10**12).map(str)),
    body=st.one_of(st.none(), st.floats(allow_nan=True), st.integers(), st.text(max_size=10)),
    remaining=st.sampled_from([None, "0", "12"]),
    reset=st.one_of(st.none(), st.text(max_size=12), st.integers(0, 2**40).map(str)),
)
def test_retry_after_is_none_or_a_sane_wait(header, body, remaining, reset) -> None:
    headers = {
        k: v
        for k, v in {"retry-after": header, "x-ratelimit-remaining": remaining, "x-ratelimit-reset": reset}.items()
        if v is not None
    }
    try:
        response = httpx.Response(429, headers=headers)
    except (ValueError, UnicodeEncodeError):
        return  # not a header httpx would ever have received
    wait = retry_after(response, {"retry_after": body} if body is not None else None)
    assert wait is None or (math.isfinite(wait) and 0 <= wait <= 24 * 3600)
