"""Configuration: the model, layered loading, plugin-aware checks and import of other formats."""

from mcpconnect._config.checks import check_config
from mcpconnect._config.loader import LoadedConfig, load_config, project_config_path, user_config_path
from mcpconnect._config.model import (
    Config,
    GatewayConfig,
    NameFilter,
    ProviderConfig,
    ServerConfig,
    StorageConfig,
    expand_vars,
)

__all__ = [
    "Config",
    "GatewayConfig",
    "LoadedConfig",
    "NameFilter",
    "ProviderConfig",
    "ServerConfig",
    "StorageConfig",
    "check_config",
    "expand_vars",
    "load_config",
    "project_config_path",
    "user_config_path",
]
