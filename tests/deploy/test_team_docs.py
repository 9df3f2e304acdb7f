"""docs/team.md: every TOML snippet on the page is a configuration mcpconnect loads and validates
(the loader, then the checks of ``mcpconnect config validate``: plugins, store, providers,
secrets), and the URLs the page tells users and operators to register are the ones the gateway
uses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mcpconnect._config import LoadedConfig, check_config, load_config
from mcpconnect._gateway.peruser import CALLBACK_PATH, check_per_user, connect_url
from mcpconnect._plugins import PluginHost

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "team.md"
TEXT = PAGE.read_text(encoding="utf-8")
BLOCKS = re.findall(r"```toml\n(.*?)```", TEXT, re.S)
STORE_URLS = {"redis": "redis://127.0.0.1:6379/0", "postgres": "postgresql://postgres@127.0.0.1:5432/test"}


def environment(block: str) -> dict[str, str]:
    """The variables a replica is given (the page's Secrets list): every ``*_env`` the snippet
    names, and the store's URL."""
    names = re.findall(r'_env = "([A-Za-z_][A-Za-z0-9_]*)"', block)
    environ = {name: "a-value-of-sixteen-characters-or-more" for name in names}
    backend = re.search(r'^backend = "(\w+)"', block, re.M)
    if backend and backend.group(1) in STORE_URLS:
        environ["MCPCONNECT_STORAGE__URL"] = STORE_URLS[backend.group(1)]
    return environ


def load(block: str, folder: Path) -> LoadedConfig:
    path = folder / "mcpconnect.toml"
    path.write_text(block, encoding="utf-8")
    return load_config(path, environ=environment(block), cwd=folder, use_user_file=False)


def test_the_page_has_the_team_configuration_and_the_postgres_variant() -> None:
    assert len(BLOCKS) >= 2, BLOCKS
    assert any('tokens = "per_user"' in block for block in BLOCKS)
    assert any('backend = "postgres"' in block for block in BLOCKS)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_each_toml_snippet_loads_and_passes_config_validate(index: int, tmp_path: Path) -> None:
    block = BLOCKS[index]
    loaded = load(block, tmp_path)
    errors, _warnings = check_config(loaded, PluginHost(), environ=environment(block))
    assert not errors, f"docs/team.md, TOML snippet {index + 1}:\n{block}\n" + "\n".join(map(str, errors))


def test_the_team_configuration_is_a_protected_gateway_on_a_shared_store(tmp_path: Path) -> None:
    block = next(block for block in BLOCKS if "[gateway]" in block)
    config = load(block, tmp_path).config
    assert config.storage.backend in {"redis", "postgres"}  # every replica reads the same tokens
    assert config.gateway.public_url and config.gateway.authorization_server
    tokens = {name: server.tokens for name, server in config.servers.items()}
    assert set(tokens.values()) == {"per_user", "shared"}, tokens
    check_per_user(config, list(config.servers), "http")  # serve would start with it
    # The links and the callback the page tells users to open and operators to register:
    for name, kind in tokens.items():
        if kind == "per_user":
            assert connect_url(config, name) in TEXT
    assert config.gateway.public_url.rstrip("/") + CALLBACK_PATH in TEXT
    assert config.gateway.resource is not None and config.gateway.resource in TEXT
