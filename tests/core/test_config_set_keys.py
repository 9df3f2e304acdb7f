"""``--set KEY=VALUE``: KEY is a TOML dotted key, so a server whose name is not a bare key can be
set by quoting its part, exactly as ``table_name`` writes it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpconnect._cli import main
from mcpconnect._cli.app import App
from mcpconnect._config.loader import set_path, split_key
from mcpconnect._config.model import table_name
from mcpconnect.errors import ConfigError


def key_of(*parts: str) -> str:
    """The dotted key of ``table_name``'s header (its text between the brackets)."""
    return table_name(*parts)[1:-1]


@given(name=st.text(min_size=1, max_size=30), value=st.booleans() | st.integers() | st.text(max_size=10))
def test_any_server_name_round_trips_through_set(name: str, value: Any) -> None:
    key = key_of("servers", name, "enabled")
    assert split_key(key) == ["servers", name, "enabled"]
    data: dict[str, Any] = {}
    set_path(data, key, value)
    assert data == {"servers": {name: {"enabled": value}}}


@given(name=st.text(min_size=1, max_size=30), value=st.booleans() | st.integers())
def test_any_server_name_round_trips_through_the_command_line(name: str, value: Any) -> None:
    key = key_of("servers", name, "timeout")
    assert App(overrides=(f"{key}={json.dumps(value)}",)).override_dict() == {"servers": {name: {"timeout": value}}}


def test_quoted_parts_keep_dots_and_equals_signs() -> None:
    app = App(overrides=('servers."my.notes".enabled=false', 'servers."a=b".args=["x=y"]', "storage . backend=file"))
    assert app.override_dict() == {
        "servers": {"my.notes": {"enabled": False}, "a=b": {"args": ["x=y"]}},
        "storage": {"backend": "file"},
    }


@pytest.mark.parametrize("key", ['servers."my.notes.enabled', "servers..x", "a = 1\nb", "[servers]", " ", 'a."b'])
def test_a_key_that_is_not_one_dotted_key_says_how_to_quote(key: str) -> None:
    with pytest.raises(ConfigError, match=r'not a key path; .*--set servers\."my\.notes"\.enabled=false'):
        set_path({}, key, 1)


def test_set_disables_a_server_with_a_dot_in_its_name(
    mcpconnect_isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (mcpconnect_isolated / "mcpconnect.toml").write_text(
        f'[storage]\nbackend = "memory"\n\n[servers."my.notes"]\ncommand = {json.dumps(sys.executable)}\n'
        f"\n[servers.other]\ncommand = {json.dumps(sys.executable)}\n"
    )
    with pytest.raises(SystemExit) as info:
        main(["--set", 'servers."my.notes".enabled=false', "--set", "servers.other.enabled=false", "check"])
    _out, err = capsys.readouterr()
    assert info.value.code == 2
    assert "unknown key" not in err
    assert "no servers are configured" in err  # both are disabled: the override reached "my.notes"
