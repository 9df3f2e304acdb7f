"""``[servers.NAME] tokens = "shared" | "per_user"``: shared by default, per_user only with a provider
login; errors name the key and the CLI exits 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpconnect._cli import main
from mcpconnect._config import load_config
from mcpconnect.errors import ConfigError

PROVIDER = '[providers.gh]\ntype = "oidc"\nissuer = "https://as.example.test"\nclient_id = "x"\n'


def project(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mcpconnect.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


def exit_code(*argv: str) -> int:
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    return int(info.value.code or 0)


def test_shared_is_the_default(tmp_path: Path) -> None:
    loaded = load_config(project(tmp_path, '[servers.a]\nurl = "https://a.example.test/mcp"\n'))
    assert loaded.config.servers["a"].tokens == "shared"


def test_per_user_with_a_provider_login(tmp_path: Path) -> None:
    text = PROVIDER + '[servers.a]\nurl = "https://a.example.test/mcp"\nauth = "provider:gh"\ntokens = "per_user"\n'
    assert load_config(project(tmp_path, text)).config.servers["a"].tokens == "per_user"


@pytest.mark.parametrize("auth", ["none", "mcp", "token"])
def test_per_user_without_a_provider_names_the_key(tmp_path: Path, auth: str) -> None:
    extra = 'token_env = "T"\n' if auth == "token" else ""
    text = f'[servers.a]\nurl = "https://a.example.test/mcp"\nauth = "{auth}"\n{extra}tokens = "per_user"\n'
    with pytest.raises(ConfigError) as info:
        load_config(project(tmp_path, text))
    assert info.value.key == "servers.a.tokens"
    assert 'needs auth = "provider:NAME"' in str(info.value) and f"'{auth}'" in str(info.value)


def test_an_unknown_value_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(project(tmp_path, '[servers.a]\nurl = "https://a.example.test/mcp"\ntokens = "mine"\n'))
    assert info.value.key == "servers.a.tokens" and "per_user" in str(info.value)


def test_the_cli_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    project(tmp_path, '[servers.a]\nurl = "https://a.example.test/mcp"\ntokens = "per_user"\n')
    assert exit_code("config", "validate") == 2
    assert "servers.a.tokens" in capsys.readouterr().err
