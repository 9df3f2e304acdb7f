"""The CLI skeleton: plugins list, config show/validate/import, exit codes, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mcpconnect._cli import main

from .fakedist import STORE_MODULE, FakeSite


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    import mcpconnect

    code, out, _ = run(capsys, "--version")
    assert code == 0 and mcpconnect.__version__ in out


def test_plugins_list_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plugins", "list", "--json")
    assert code == 0
    rows = json.loads(out)
    assert isinstance(rows, list) and rows
    for row in rows:
        assert {"name", "kind", "distribution", "version", "status"} <= set(row)
    memory = next(r for r in rows if r["name"] == "memory")
    assert memory["kind"] == "store" and memory["distribution"] == "mcpconnect" and memory["status"] == "ok"


def test_plugins_list_reports_a_broken_plugin_and_still_lists_the_rest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = FakeSite(tmp_path / "site", monkeypatch)
    site.module("explodes_on_import", "raise RuntimeError('kaboom at import')\n")
    site.dist("mcpconnect-store-explodes", "0.1", {"mcpconnect.store": {"explodes": "explodes_on_import"}})
    site.module("fine_store", STORE_MODULE.format(cls="Fine", name="fine"))
    site.dist("mcpconnect-store-fine", "0.1", {"mcpconnect.store": {"fine": "fine_store"}})
    code, out, err = run(capsys, "plugins", "list", "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["explodes"]["status"] == "error" and "kaboom at import" in rows["explodes"]["error"]
    assert rows["fine"]["status"] == "ok"
    assert "mcpconnect-store-explodes" in err and "Traceback" not in err


def test_a_command_that_needs_a_broken_plugin_exits_2_with_one_clear_line(
    capsys: pytest.CaptureFixture[str], project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = FakeSite(project / "site", monkeypatch)
    site.module("explodes_on_import2", "raise RuntimeError('kaboom at import')\n")
    site.dist("mcpconnect-store-explodes2", "0.1", {"mcpconnect.store": {"explodes2": "explodes_on_import2"}})
    write(project / "mcpconnect.toml", '[storage]\nbackend = "explodes2"\n')
    code, _, err = run(capsys, "config", "validate")
    assert code == 2
    assert "storage.backend" in err and "mcpconnect-store-explodes2" in err and "kaboom at import" in err
    assert "MCPCONNECT_DISABLE_PLUGINS" in err and "Traceback" not in err


def test_config_show_redacts_and_names_sources(
    capsys: pytest.CaptureFixture[str], project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        project / "mcpconnect.toml",
        '[storage]\nbackend = "memory"\n'
        '[providers.gh]\ntype = "github"\nclient_id = "id-1"\nclient_secret = "inline-secret-value-xyz"\n'
        '[servers.docs]\nurl = "https://user:hunter2pass@docs.example/mcp"\n'
        'headers = { Authorization = "Bearer literal-token-abcdef" }\n'
        '[servers.local]\ncommand = "srv"\nenv = { API_KEY = "key-literal-0987", MODE = "fast" }\n',
    )
    monkeypatch.setenv("MCPCONNECT_SERVERS__LOCAL__TIMEOUT", "12")
    code, out, _ = run(capsys, "config", "show", "--json")
    assert code == 0
    for secret in ("inline-secret-value-xyz", "hunter2pass", "literal-token-abcdef", "key-literal-0987"):
        assert secret not in out
    shown = json.loads(out)
    assert shown["config"]["servers"]["local"]["env"]["MODE"] == "fast"
    assert shown["config"]["servers"]["local"]["timeout"] == 12.0
    assert shown["sources"]["servers.local.timeout"] == "env MCPCONNECT_SERVERS__LOCAL__TIMEOUT"
    assert shown["sources"]["servers.docs.url"].endswith("mcpconnect.toml")
    assert shown["sources"]["refresh_margin"] == "default"
    code, table, _ = run(capsys, "config", "show")
    assert code == 0 and "inline-secret-value-xyz" not in table and "servers.local.timeout" in table


def test_config_show_quotes_keys_that_are_not_bare(
    capsys: pytest.CaptureFixture[str], project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server named "my.notes" is `servers."my.notes"`: the key shown is one --set accepts.
    write(project / "mcpconnect.toml", '[storage]\nbackend = "memory"\n[servers."my.notes"]\ncommand = "srv"\n')
    code, out, _ = run(capsys, "config", "show", "--json")
    assert code == 0
    sources = json.loads(out)["sources"]
    assert 'servers."my.notes".command' in sources and "servers.my.notes.command" not in sources
    code, out, _ = run(capsys, "--set", 'servers."my.notes".timeout=7', "config", "show", "--json")
    assert code == 0 and json.loads(out)["sources"]['servers."my.notes".timeout'] == "--set"
    monkeypatch.setenv("COLUMNS", "200")
    code, table, _ = run(capsys, "config", "show")
    assert code == 0 and 'servers."my.notes".command' in table


def test_set_flag_is_the_top_layer(
    capsys: pytest.CaptureFixture[str], project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / "mcpconnect.toml", '[storage]\nbackend = "sqlite"\n')
    monkeypatch.setenv("MCPCONNECT_STORAGE__BACKEND", "file")
    code, out, _ = run(capsys, "--set", "storage.backend=memory", "config", "show", "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["config"]["storage"]["backend"] == "memory" and shown["sources"]["storage.backend"] == "--set"


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[servers.a\n", "not valid TOML"),
        ('[servers.a]\ntransport = "stdio"\n', 'needs command = "..."'),
        ('[servers.a]\ntransport = "streamable-http"\n', 'needs url = "https://..."'),
        (
            '[storage]\nbackend = "memory"\n[servers.a]\ncommand = "x"\ntransport = "nope"\n',
            "no transport named 'nope'",
        ),
        ('[storage]\nbackend = "memory"\n[providers.p]\ntype = "nope"\n', "no auth provider named 'nope'"),
        (
            '[storage]\nbackend = "memory"\n[providers.p]\ntype = "nope"\nclient_secret_file = "/nonexistent/s"\n',
            "/nonexistent/s does not exist",
        ),
    ],
)
def test_bad_config_exits_2_naming_the_file(
    capsys: pytest.CaptureFixture[str], project: Path, toml: str, expected: str
) -> None:
    path = write(project / "mcpconnect.toml", toml)
    code, _, err = run(capsys, "config", "validate")
    assert code == 2
    assert expected in err and str(path) in err
    assert "Traceback" not in err


def test_debug_shows_the_traceback(capsys: pytest.CaptureFixture[str], project: Path) -> None:
    write(project / "mcpconnect.toml", "[servers.a\n")
    code, _, err = run(capsys, "--debug", "config", "validate")
    assert code == 2 and "Traceback" in err


def test_validate_ok(capsys: pytest.CaptureFixture[str], project: Path) -> None:
    write(project / "mcpconnect.toml", '[storage]\nbackend = "memory"\n')
    code, out, _ = run(capsys, "config", "validate", "--json")
    assert code == 0 and json.loads(out)["ok"] is True


def test_config_import_writes_toml_atomically_and_privately(
    capsys: pytest.CaptureFixture[str], project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOME_TOKEN", "x" * 24)
    src = project / "claude.json"
    src.write_text(json.dumps({"mcpServers": {"a": {"command": "srv", "env": {"T": "${SOME_TOKEN}"}}}}))
    out_file = project / "imported.toml"
    code, _, err = run(capsys, "config", "import", str(src), "-o", str(out_file))
    assert code == 0 and "wrote 1 server to" in err and "servers" not in err
    assert out_file.stat().st_mode & 0o777 == 0o600
    assert "x" * 24 not in out_file.read_text()
    code, _, err = run(capsys, "config", "import", str(src), "-o", str(out_file))
    assert code == 2 and "--force" in err
    code, out, _ = run(capsys, "--config", str(out_file), "config", "show", "--json")
    assert code == 0 and json.loads(out)["config"]["servers"]["a"]["command"] == "srv"


def test_config_import_of_malformed_json_exits_2(capsys: pytest.CaptureFixture[str], project: Path) -> None:
    src = project / "broken.json"
    src.write_text("{nope")
    code, _, err = run(capsys, "config", "import", str(src))
    assert code == 2 and str(src) in err and "not valid JSON" in err and "Traceback" not in err


def test_config_import_of_unresolved_variable_warns_and_keeps_the_reference(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    src = project / "c.json"
    src.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "a": {"url": "https://${UNSET_HOST_VAR}/mcp"},
                    "my server": {"command": "one"},
                    "my-server": {"command": "two"},
                }
            }
        )
    )
    out_file = project / "out.toml"
    code, _, err = run(capsys, "config", "import", str(src), "-o", str(out_file))
    assert code == 0, err
    assert "warning: " in err and "${UNSET_HOST_VAR} is not set now" in err and "mcpServers.a.url" in err
    assert "'my server' and 'my-server' both map to [servers.my-server]" in err
    assert "wrote 3 servers" in err
    assert f"wrote 3 servers to {out_file}: a, my-server, my-server-2" in err  # the names written
    import tomllib

    servers = tomllib.loads(out_file.read_text())["servers"]
    assert servers["a"]["url"] == "https://${UNSET_HOST_VAR}/mcp"
    assert {servers["my-server"]["command"], servers["my-server-2"]["command"]} == {"one", "two"}


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "config", "show", "--bogus")
    assert code == 2 and "--bogus" in err


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).with_name("mcpconnect")
    result = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0 and "plugins" in result.stdout and "config" in result.stdout


def test_config_show_redacts_store_passwords_but_not_where_secrets_live(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    write(
        project / "mcpconnect.toml",
        '[storage]\nbackend = "postgres"\nurl = "postgresql://app:pg-pass-123@db/tokens"\npassword = "pw-456789"\n'
        'key_env = "MCPCONNECT_KEY"\n'
        '[servers.a]\nurl = "https://a"\nauth = "token"\ntoken_env = "A_TOKEN"\n',
    )
    code, out, _ = run(capsys, "config", "show", "--json")
    assert code == 0
    assert "pg-pass-123" not in out and "pw-456789" not in out
    shown = json.loads(out)["config"]
    assert shown["storage"]["key_env"] == "MCPCONNECT_KEY"
    assert shown["servers"]["a"]["token_env"] == "A_TOKEN"
    assert shown["storage"]["url"] == "postgresql://app:***@db/tokens"


AUTHOR_MISTAKES = """
from mcpconnect import hookimpl

def needs_sdk(**options):
    import an_sdk_this_store_forgot_to_declare
    return None

def provider_with_a_wrong_signature(config):
    return None

def tcp_transport(name, server, context):
    from contextlib import nullcontext
    return nullcontext()

@hookimpl
def register_token_stores(register):
    register("forgetful", needs_sdk)

@hookimpl
def register_auth_providers(register):
    register("crooked", provider_with_a_wrong_signature)

@hookimpl
def register_transports(register):
    register("tcp", tcp_transport, requires="url")
"""


@pytest.fixture
def author_mistakes(project: Path, monkeypatch: pytest.MonkeyPatch) -> FakeSite:
    site = FakeSite(project / "site", monkeypatch)
    site.module("author_mistakes", AUTHOR_MISTAKES)
    site.dist(
        "mcpconnect-mistakes",
        "0.2",
        {
            "mcpconnect.store": {"forgetful": "author_mistakes"},
            "mcpconnect.auth": {"crooked": "author_mistakes"},
            "mcpconnect.transport": {"tcp": "author_mistakes"},
        },
    )
    return site


def test_validate_builds_the_store_the_configuration_names(
    capsys: pytest.CaptureFixture[str], project: Path, author_mistakes: FakeSite
) -> None:
    write(project / "mcpconnect.toml", '[storage]\nbackend = "forgetful"\n')
    code, out, err = run(capsys, "config", "validate")
    assert code == 2 and "ok:" not in out
    assert "storage.backend" in err and "token store plugin 'forgetful' (mcpconnect-mistakes 0.2)" in err
    assert "needs the Python module 'an_sdk_this_store_forgot_to_declare'" in err
    assert "unexpected" not in err and "Traceback" not in err


def test_validate_builds_each_provider(
    capsys: pytest.CaptureFixture[str], project: Path, author_mistakes: FakeSite
) -> None:
    write(project / "mcpconnect.toml", '[storage]\nbackend = "memory"\n[providers.work]\ntype = "crooked"\n')
    code, _, err = run(capsys, "config", "validate")
    assert code == 2
    assert "providers.work.type" in err and "auth provider plugin 'crooked' (mcpconnect-mistakes 0.2)" in err
    assert "provider_with_a_wrong_signature(config) cannot be called as factory(name, config)" in err


def test_a_url_transport_configured_with_a_command_is_not_told_to_use_https(
    capsys: pytest.CaptureFixture[str], project: Path, author_mistakes: FakeSite
) -> None:
    write(
        project / "mcpconnect.toml",
        '[storage]\nbackend = "memory"\n[servers.box]\ntransport = "tcp"\ncommand = "tcp-server"\n',
    )
    code, _, err = run(capsys, "config", "validate")
    assert code == 2
    assert "servers.box.url" in err
    assert 'the tcp transport connects to a URL, it starts no process: set url = "..."' in err
    assert "https" not in err
    write(project / "mcpconnect.toml", '[storage]\nbackend = "memory"\n[servers.box]\ntransport = "tcp"\n')
    code, _, err = run(capsys, "config", "validate")
    assert code == 2 and 'a tcp server needs command = "..." or url = "..."' in err and "https" not in err
    write(
        project / "mcpconnect.toml",
        '[storage]\nbackend = "memory"\n[servers.box]\ntransport = "tcp"\nurl = "tcp://127.0.0.1:7000"\n',
    )
    code, out, err = run(capsys, "config", "validate")
    assert code == 0, err
    assert out.startswith("ok: 1 servers")


def test_validate_fails_on_a_wrong_entry_point_group_and_on_a_name_mismatch(
    capsys: pytest.CaptureFixture[str], project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = FakeSite(project / "site", monkeypatch)
    site.module("misgrouped_store", STORE_MODULE.format(cls="Misgrouped", name="misgrouped"))
    site.dist("mcpconnect-store-misgrouped", "0.1", {"mcpconnect.stores": {"misgrouped": "misgrouped_store"}})
    site.module("renamed_store", STORE_MODULE.format(cls="Renamed", name="renamed-inside"))
    site.dist("mcpconnect-store-renamed", "0.1", {"mcpconnect.store": {"renamed": "renamed_store"}})
    write(project / "mcpconnect.toml", '[storage]\nbackend = "misgrouped"\n')
    code, out, err = run(capsys, "config", "validate")
    assert code == 2 and "ok:" not in out
    assert "mcpconnect-store-misgrouped 0.1 declares 'misgrouped' in the entry-point group 'mcpconnect.stores'" in err
    write(project / "mcpconnect.toml", '[storage]\nbackend = "renamed"\n')
    code, out, err = run(capsys, "config", "validate")
    assert code == 2 and "ok:" not in out
    assert "registered the token store 'renamed-inside', but its entry point is named 'renamed'" in err
    assert "mcpconnect-store-renamed 0.1" in err and "Traceback" not in err
