"""Names and URIs map back to exactly one upstream; filters are validated and applied as
documented, whatever a configuration holds."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpconnect._config import NameFilter, load_config
from mcpconnect._gateway import Namespace
from mcpconnect.errors import ConfigError

server_names = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=20)
plain_server_names = st.from_regex(r"[a-z0-9][a-z0-9.-]{0,15}", fullmatch=True)
upstream_names = st.text(min_size=1, max_size=40)


@given(servers=st.lists(server_names, min_size=1, max_size=6, unique=True), data=st.data())
def test_every_uri_maps_back_to_its_server_and_uri(servers, data):
    names = Namespace(servers)
    server = data.draw(st.sampled_from(servers))
    uri = data.draw(st.text(min_size=1, max_size=60))
    mapped = names.uri(server, uri)
    assert mapped.startswith("mcpconnect://") and "{" not in mapped[: len(mapped) - len(uri)]
    assert names.split_uri(mapped) == (server, uri)


@given(servers=st.lists(plain_server_names, min_size=1, max_size=6, unique=True), data=st.data())
def test_every_name_maps_back_to_its_server_and_name(servers, data):
    names = Namespace(servers)
    server = data.draw(st.sampled_from(servers))
    name = data.draw(upstream_names)
    assert names.split(names.name(server, name)) == (server, name)


@given(servers=st.lists(plain_server_names, min_size=1, max_size=4, unique=True), junk=st.text(max_size=40))
def test_a_name_of_no_server_is_no_target(servers, junk):
    names = Namespace(servers)
    target = names.split(junk)
    assert target is None or (target[0] in servers and junk == f"{target[0]}__{target[1]}")
    uri_target = names.split_uri(junk)
    assert uri_target is None or uri_target[0] in servers


def test_the_longest_server_name_wins_and_authorities_may_be_lowercased():
    names = Namespace(["a", "a__b", "Notes"])
    assert names.split("a__b__tool") == ("a__b", "tool")
    assert names.split("a__tool") == ("a", "tool")
    assert names.split("a__") is None and names.split("tool") is None
    assert names.split_uri("mcpconnect://notes/file:///x") == ("Notes", "file:///x")
    assert names.split_uri("MCPCONNECT://Notes/file:///x") == ("Notes", "file:///x")
    assert names.split_uri("mcpconnect://Notes/") is None


def test_without_prefix_there_is_one_server_and_names_pass_unchanged():
    names = Namespace(["only"], prefix=False)
    assert names.name("only", "a__b") == "a__b" and names.split("a__b") == ("only", "a__b")
    assert names.uri("only", "mem://x") == "mem://x" and names.split_uri("mem://x") == ("only", "mem://x")
    with pytest.raises(ValueError, match="exactly one server"):
        Namespace(["a", "b"], prefix=False)


def test_filter_semantics():
    assert NameFilter().allows("anything")
    assert not NameFilter(allow=[]).allows("anything")
    deny_wins = NameFilter(allow=["read_*"], deny=["read_secret*"])
    assert deny_wins.allows("read_file") and not deny_wins.allows("read_secrets") and not deny_wins.allows("write")
    assert not NameFilter(allow=["Read"]).allows("read")  # case-sensitive
    assert NameFilter(allow=["[!x]*"]).allows("abc") and not NameFilter(allow=["[!x]*"]).allows("xyz")


@given(name=upstream_names, allow=st.none() | st.lists(st.text(min_size=1, max_size=8)), deny=st.lists(upstream_names))
def test_a_denied_name_is_never_allowed(name, allow, deny):
    allow = None if allow is None else [p for p in allow if p.strip()]
    deny = [p for p in deny if p.strip()]
    nf = NameFilter(allow=allow, deny=[*deny, name] if name.strip() else deny)
    if name.strip() and not any(c in name for c in "*?["):
        assert not nf.allows(name)


def load(tmp_path, text):
    path = tmp_path / "mcpconnect.toml"
    path.write_text('[servers.notes]\ncommand = "python"\n' + text)
    return load_config(path, use_user_file=False)


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ('[servers.notes.tools]\nallow = "echo"\n', "servers.notes.tools.allow", "valid list"),
        ('[servers.notes.tools]\nallow = [""]\n', "servers.notes.tools.allow", "cannot be empty"),
        ("[servers.notes.prompts]\ndeny = [3]\n", "servers.notes.prompts.deny.0", "valid string"),
        ('[servers.notes.resources]\nalow = ["x"]\n', "servers.notes.resources.alow", "unknown key 'alow'"),
        ('tools = "echo"\n', "servers.notes.tools", "NameFilter"),
        ('protocol = "2025-06-18"\n', "servers.notes.protocol", "protocol must be 'auto'"),
    ],
)
def test_bad_filters_name_the_server_and_key(tmp_path, text, key, words):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert key in str(caught.value) and words in str(caught.value)
    assert str(tmp_path / "mcpconnect.toml") in str(caught.value)


toml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@given(value=toml_values)
def test_whatever_a_filter_holds_the_answer_is_a_filter_or_a_config_error(tmp_path_factory, value):
    folder = tmp_path_factory.mktemp("filters")
    doc = {"servers": {"notes": {"command": "python", "tools": {"allow": value}}}}
    import tomli_w

    try:
        text = tomli_w.dumps(doc)
    except (TypeError, ValueError):
        return  # not representable in TOML (None)
    (folder / "mcpconnect.toml").write_text(text)
    problem = None
    try:
        loaded = load_config(folder / "mcpconnect.toml", use_user_file=False)
    except ConfigError as exc:
        problem = str(exc)
    if problem is not None:
        assert "servers.notes.tools.allow" in problem
        return
    assert isinstance(loaded.config.servers["notes"].tools, NameFilter)
    assert tomllib.loads(text)["servers"]["notes"]["tools"]["allow"] == loaded.config.servers["notes"].tools.allow
