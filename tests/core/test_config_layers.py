"""Layered configuration: defaults < user file < project file < .env < environment < --set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mcpconnect._config import load_config, user_config_path


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "project"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def test_defaults_alone(cwd: Path) -> None:
    loaded = load_config()
    assert loaded.config.storage.backend == "sqlite"
    assert loaded.config.servers == {}
    assert loaded.source_of("storage", "backend") == "default"
    assert loaded.files == []


def test_each_layer_overrides_the_one_below(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = write(
        user_config_path(),
        '[storage]\nbackend = "file"\n[servers.a]\ncommand = "user-cmd"\n[servers.b]\nurl = "https://b.example"\n',
    )
    project = write(cwd / "mcpconnect.toml", '[servers.a]\ncommand = "project-cmd"\nargs = ["x"]\n')
    write(cwd / ".env", "MCPCONNECT_SERVERS__A__TIMEOUT=7\nMCPCONNECT_REFRESH_MARGIN=60\n")
    monkeypatch.setenv("MCPCONNECT_REFRESH_MARGIN", "90")
    loaded = load_config(overrides={"servers": {"b": {"timeout": 3}}})
    cfg = loaded.config
    assert cfg.storage.backend == "file"
    assert cfg.servers["a"].command == "project-cmd"
    assert cfg.servers["a"].args == ["x"]
    assert cfg.servers["a"].timeout == 7
    assert cfg.refresh_margin == 90
    assert cfg.servers["b"].url == "https://b.example" and cfg.servers["b"].timeout == 3
    assert loaded.source_of("storage", "backend") == str(user)
    assert loaded.source_of("servers", "a", "command") == str(project)
    assert loaded.source_of("servers", "a", "timeout") == ".env MCPCONNECT_SERVERS__A__TIMEOUT"
    assert loaded.source_of("refresh_margin") == "env MCPCONNECT_REFRESH_MARGIN"
    assert loaded.source_of("servers", "b", "timeout") == "--set"
    assert loaded.files == [user, project]


def test_explicit_file_beats_env_variable_beats_working_directory(
    cwd: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(cwd / "mcpconnect.toml", '[storage]\nbackend = "cwd"\n')
    via_env = write(tmp_path / "env.toml", '[storage]\nbackend = "envfile"\n')
    explicit = write(tmp_path / "explicit.toml", '[storage]\nbackend = "explicit"\n')
    assert load_config().config.storage.backend == "cwd"
    monkeypatch.setenv("MCPCONNECT_CONFIG", str(via_env))
    assert load_config().config.storage.backend == "envfile"
    assert load_config(explicit).config.storage.backend == "explicit"


def test_storage_options_pass_through(cwd: Path) -> None:
    write(cwd / "mcpconnect.toml", '[storage]\nbackend = "redis"\nurl = "redis://127.0.0.1:6379/0"\n')
    storage = load_config().config.storage
    assert storage.options() == {"url": "redis://127.0.0.1:6379/0"}


def test_transport_defaults_from_command_or_url(cwd: Path) -> None:
    write(cwd / "mcpconnect.toml", '[servers.local]\ncommand = "x"\n[servers.remote]\nurl = "https://r"\n')
    servers = load_config().config.servers
    assert servers["local"].transport_name == "stdio"
    assert servers["remote"].transport_name == "auto"


def test_inline_secret_in_a_world_readable_file_warns(cwd: Path) -> None:
    path = write(
        cwd / "mcpconnect.toml",
        '[providers.gh]\ntype = "github"\nclient_id = "abc"\nclient_secret = "s3cr3t-value-123"\n',
        mode=0o644,
    )
    loaded = load_config()
    assert len(loaded.warnings) == 1
    warning = loaded.warnings[0]
    assert str(path) in warning and "providers.gh.client_secret" in warning and "chmod 600" in warning
    assert "s3cr3t-value-123" not in warning
    path.chmod(0o600)
    assert load_config().warnings == []


def test_env_references_in_env_and_headers_expand_only_when_used(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(
        cwd / "mcpconnect.toml",
        '[servers.s]\nurl = "https://s"\nheaders = { "X-Key" = "${S_KEY}", "X-Mode" = "${S_MODE:-fast}" }\n',
    )
    server = load_config().config.servers["s"]
    assert server.headers["X-Key"] == "${S_KEY}"  # kept as a reference
    monkeypatch.setenv("S_KEY", "value-1")
    assert server.resolved_headers("s") == {"X-Key": "value-1", "X-Mode": "fast"}


def test_client_secret_from_env_and_file(tmp_path: Path) -> None:
    from mcpconnect._config import ProviderConfig

    secret_file = write(tmp_path / "secret", "from-file\n")
    by_file = ProviderConfig(type="github", client_secret_file=secret_file)
    assert by_file.resolve_client_secret("gh") == "from-file"
    by_env = ProviderConfig(type="github", client_secret_env="GH_SECRET")
    assert by_env.resolve_client_secret("gh", {"GH_SECRET": "from-env"}) == "from-env"
    assert os.environ.get("GH_SECRET") is None
