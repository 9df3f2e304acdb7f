"""Bad configuration: one clear message naming the file, the key path and what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpconnect._config import check_config, load_config
from mcpconnect._plugins import PluginHost
from mcpconnect.errors import ConfigError


def project(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mcpconnect.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


def load_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value


def check_errors(path: Path, host: PluginHost | None = None) -> list[str]:
    errors, _ = check_config(load_config(path), host or PluginHost())
    return [str(e) for e in errors]


def test_malformed_toml_names_the_file_and_position(tmp_path: Path) -> None:
    path = project(tmp_path, "[servers.a\ncommand = 1\n")
    err = load_error(path)
    assert str(path) in str(err) and "not valid TOML" in str(err) and "line 1" in str(err)


def test_missing_explicit_file(tmp_path: Path) -> None:
    err = load_error(tmp_path / "nope.toml")
    assert "nope.toml" in str(err) and "does not exist" in str(err)


def test_stdio_server_without_command(tmp_path: Path) -> None:
    path = project(tmp_path, '[servers.local]\ntransport = "stdio"\nargs = ["x"]\n')
    err = load_error(path)
    assert err.source == str(path) and err.key == "servers.local"
    assert 'needs command = "..."' in str(err)


def test_remote_server_without_url(tmp_path: Path) -> None:
    path = project(tmp_path, '[servers.remote]\ntransport = "sse"\n')
    err = load_error(path)
    assert err.key == "servers.remote" and 'needs url = "https://..."' in str(err)


def test_server_with_neither(tmp_path: Path) -> None:
    err = load_error(project(tmp_path, "[servers.empty]\ntimeout = 5\n"))
    assert "needs command" in str(err) and "or url" in str(err)


def test_unknown_key_is_named(tmp_path: Path) -> None:
    err = load_error(project(tmp_path, '[servers.a]\ncommand = "x"\ncomand = "typo"\n'))
    assert err.key == "servers.a.comand" and "unknown key 'comand'" in str(err)


def test_bad_auth_mode(tmp_path: Path) -> None:
    err = load_error(project(tmp_path, '[servers.a]\nurl = "https://a"\nauth = "oauth"\n'))
    assert err.key == "servers.a.auth" and "'provider:NAME'" in str(err)


def test_provider_without_type(tmp_path: Path) -> None:
    err = load_error(project(tmp_path, '[providers.gh]\nclient_id = "x"\n'))
    assert err.key == "providers.gh.type" and "'type' is required" in str(err)


def test_error_names_the_layer_that_set_the_bad_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = project(tmp_path, '[servers.a]\ncommand = "x"\n')
    monkeypatch.setenv("MCPCONNECT_SERVERS__A__TIMEOUT", "-1")
    err = load_error(path)
    assert err.source == "env MCPCONNECT_SERVERS__A__TIMEOUT" and err.key == "servers.a.timeout"


def test_unknown_transport_lists_installed_ones(tmp_path: Path) -> None:
    path = project(
        tmp_path, '[storage]\nbackend = "memory"\n[servers.a]\ncommand = "x"\ntransport = "carrier-pigeon"\n'
    )
    (message,) = check_errors(path)
    assert str(path) in message and "servers.a.transport" in message
    assert "no transport named 'carrier-pigeon'" in message
    assert "stdio" in message and "pip install" not in message  # no package invented from a name


def test_unknown_provider_type(tmp_path: Path) -> None:
    path = project(tmp_path, '[storage]\nbackend = "memory"\n[providers.x]\ntype = "myspace"\n')
    (message,) = check_errors(path)
    assert "providers.x.type" in message and "no auth provider named 'myspace'" in message


def test_unknown_storage_backend(tmp_path: Path) -> None:
    path = project(tmp_path, '[storage]\nbackend = "floppy"\n')
    (message,) = check_errors(path)
    assert "storage.backend" in message and "no token store named 'floppy'" in message


def test_secret_file_that_does_not_exist(tmp_path: Path, mcpconnect_host: PluginHost) -> None:
    from mcpconnect.storage import _memory as memory

    mcpconnect_host.register_plugin(memory, kind="store")
    missing = tmp_path / "missing-secret"
    path = project(
        tmp_path,
        f'[storage]\nbackend = "memory"\n[servers.a]\nurl = "https://a"\nauth = "token"\ntoken_file = "{missing}"\n',
    )
    messages = check_errors(path, mcpconnect_host)
    (message,) = [m for m in messages if "token_file" in m]
    assert "servers.a.token_file" in message and str(missing) in message and "does not exist" in message


def test_secret_file_that_cannot_be_read(tmp_path: Path) -> None:
    import os

    if os.geteuid() == 0:
        # root reads any file; a directory in its place cannot be read as a file by anyone.
        unreadable = tmp_path / "secret-dir"
        unreadable.mkdir()
    else:  # pragma: no cover - CI runs as root
        unreadable = tmp_path / "secret"
        unreadable.write_text("x")
        unreadable.chmod(0)
    from mcpconnect._config import ProviderConfig

    with pytest.raises(ConfigError) as info:
        ProviderConfig(type="github", client_secret_file=unreadable).resolve_client_secret("gh")
    assert str(unreadable) in str(info.value) and "cannot be read" in str(info.value)
    assert info.value.key == "providers.gh.client_secret_file"


def test_provider_referenced_by_a_server_must_exist(tmp_path: Path) -> None:
    path = project(tmp_path, '[storage]\nbackend = "memory"\n[servers.a]\nurl = "https://a"\nauth = "provider:gh"\n')
    messages = check_errors(path)
    assert any("uses provider 'gh', which is not configured" in m for m in messages)


def test_two_client_secret_sources_conflict(tmp_path: Path) -> None:
    err = load_error(
        project(tmp_path, '[providers.gh]\ntype = "github"\nclient_secret_env = "A"\nclient_secret_file = "b"\n')
    )
    assert "client_secret_env and client_secret_file" in str(err)


def test_validate_finds_a_credential_bound_for_plain_http_to_another_machine(tmp_path: Path) -> None:
    path = project(
        tmp_path,
        '[storage]\nbackend = "memory"\n'
        '[servers.remote]\nurl = "http://10.0.0.5:8080/mcp"\nauth = "token"\ntoken = "abc"\n'
        '[servers.open]\nurl = "http://10.0.0.6:8080/mcp"\n'  # no credential: nothing to expose
        '[servers.trusted]\nurl = "http://10.0.0.7/mcp"\nauth = "token"\ntoken = "abc"\nallow_insecure_http = true\n'
        '[servers.local]\nurl = "http://127.0.0.1:9/mcp"\nauth = "token"\ntoken = "abc"\n',
    )
    (message,) = check_errors(path)
    assert str(path) in message and "servers.remote.url" in message
    assert "plain http://" in message and "allow_insecure_http" in message and "abc" not in message
