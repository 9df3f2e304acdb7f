"""Errors give TOML table headers a user can paste: ``table_name`` quotes what is not a bare key."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpconnect._config import ServerConfig
from mcpconnect._config.model import table_name
from mcpconnect._serverauth import require_secure_url
from mcpconnect.errors import AuthError


@given(name=st.text(min_size=1, max_size=30), sub=st.sampled_from([(), ("options",), ("env",)]))
def test_a_table_name_parses_back_to_the_same_keys(name: str, sub: tuple[str, ...]) -> None:
    header = table_name("servers", name, *sub)
    parsed = tomllib.loads(f'{header}\nurl = "x"\n')
    node = parsed["servers"][name]
    for key in sub:
        node = node[key]
    assert node == {"url": "x"}


def test_bare_keys_stay_bare() -> None:
    assert table_name("servers", "my-server_1", "options") == "[servers.my-server_1.options]"
    assert table_name("servers", "10.0.0.2") == '[servers."10.0.0.2"]'


def test_the_plain_http_error_names_a_table_that_can_be_pasted() -> None:
    server = ServerConfig(url="http://10.9.9.9/mcp", auth="token", token_env="T")
    with pytest.raises(AuthError) as info:
        require_secure_url("10.9.9.9", server)
    assert 'set allow_insecure_http = true in [servers."10.9.9.9"]' in str(info.value)
