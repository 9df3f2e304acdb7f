"""No secret reaches any output channel a user sees: ``config show`` (table and JSON), the
``repr()`` and ``str()`` of every public object, a local server's stderr log, ``tokens list
--json``, and error messages.

One configuration holds a secret in every place one can hide: inline keys, ``env`` and
``headers`` values, a DATABASE_URL-style password, a key in a URL query string, names in any
case, store options. Every channel is scanned for every secret.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from mcpconnect._config import load_config

from .conftest import run

SECRETS = {
    "inline_token": "tok-inline-7f3a9b2c1d",
    "client_secret": "cs-inline-5e6f7a8b9c",
    "db_password": "dbpw-hunter2-0a1b",
    "query_key": "qk-0123abcd4567",
    "env_secret": "envsecret-89abcdef01",
    "header_secret": "hdr-secret-2468ace0",
    "upper_name": "UPPER-secret-13579bdf",
    "store_password": "redis-pw-97531eca",
    "option_secret": "opt-secret-1122aabb",
    "stdio_query": "stdio-q-5566ccdd",
    "arg_url_password": "argpw-77aa88bb",
    "arg_flag_value": "argtok-99cc00dd",
    "arg_header": "arghdr-sk-31ab42cd",
    "arg_header_eq": "arghdr-eq-53ef64ab",
}

CONFIG = f"""
[storage]
backend = "memory"

[providers.gh]
type = "github"
client_id = "public-client-id"
client_secret = "{SECRETS["client_secret"]}"
options = {{ api_key = "{SECRETS["option_secret"]}" }}

[servers.remote]
url = "https://mcp.example.com/mcp?api_key={SECRETS["query_key"]}&region=eu"
auth = "token"
token = "{SECRETS["inline_token"]}"
headers = {{ "X-Custom-Auth" = "{SECRETS["header_secret"]}", "X-PASSWORD" = "{SECRETS["upper_name"]}" }}

[servers.local]
command = "{sys.executable}"
args = ["postgresql://app:{SECRETS["arg_url_password"]}@db/app", "--api-key", "{SECRETS["arg_flag_value"]}", "-v",
        "--header", "Authorization:Bearer {SECRETS["arg_header"]}", "--header=X-Api-Key:{SECRETS["arg_header_eq"]}"]

[servers.local.env]
DATABASE_URL = "postgresql://app:{SECRETS["db_password"]}@db.internal:5432/app"
MY_SERVICE_TOKEN = "{SECRETS["env_secret"]}"
NOTE = "https://h/x?Signature={SECRETS["stdio_query"]}"
"""


def assert_clean(text: str, where: str) -> None:
    leaked = [name for name, value in SECRETS.items() if value in text]
    assert not leaked, f"{where} shows {leaked}: {text[:2000]}"


@pytest.fixture
def project(mcpconnect_isolated: Path) -> Path:
    path = mcpconnect_isolated / "mcpconnect.toml"
    path.write_text(CONFIG)
    path.chmod(0o600)
    return path


def test_config_show_table_and_json(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "config", "show")
    assert code == 0, err
    assert_clean(out + err, "config show")
    code, out, err = run(capsys, "config", "show", "--json")
    assert code == 0
    assert_clean(out + err, "config show --json")
    shown = json.loads(out)["config"]
    assert shown["servers"]["remote"]["url"] == "https://mcp.example.com/mcp?api_key=***&region=eu"
    assert shown["servers"]["remote"]["headers"]["X-PASSWORD"] == "***"  # upper case is matched
    assert shown["servers"]["local"]["env"]["NOTE"] == "https://h/x?Signature=***"
    # What is not secret still shows.
    assert shown["servers"]["local"]["env"]["DATABASE_URL"] == "postgresql://app:***@db.internal:5432/app"
    assert shown["servers"]["local"]["args"] == [
        "postgresql://app:***@db/app",
        "--api-key",
        "***",
        "-v",
        "--header",  # mcp-remote's headers: the scheme shows, the credential does not
        "Authorization:Bearer ***",
        "--header=X-Api-Key:***",
    ]


def test_a_store_password_in_options_is_hidden(mcpconnect_isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = mcpconnect_isolated / "mcpconnect.toml"
    path.write_text(
        f'[storage]\nbackend = "redis"\nurl = "redis://app:{SECRETS["store_password"]}@cache:6379/0"\n'
        f'Password = "{SECRETS["store_password"]}"\n'
    )
    code, out, err = run(capsys, "config", "show", "--json")
    assert code == 0
    assert_clean(out + err, "config show of [storage]")
    code, out, err = run(capsys, "--set", "storage.busy_timeout=1", "tokens", "list")
    assert_clean(out + err, "a store error")


def test_repr_and_str_of_every_public_object(project: Path) -> None:
    from mcpconnect._runtime import Runtime
    from mcpconnect._serverauth import BearerAuth
    from mcpconnect.auth import TokenResponse, token_manager
    from mcpconnect.auth._flows import AuthorizationAttempt
    from mcpconnect.storage import Record, TokenStore
    from mcpconnect.storage._memory import MemoryBackend
    from mcpconnect.storage._store import DamagedRecord, StoredToken
    from mcpconnect.tokens import Token
    from mcpconnect.transport import ServerLog, TransportContext

    loaded = load_config()
    runtime = Runtime.build(loaded)
    cfg = loaded.config
    attempt_code = SECRETS["query_key"]
    token = Token(provider="gh", account="1", access_token=SECRETS["inline_token"], refresh_token=SECRETS["env_secret"])
    objects: list[object] = [
        loaded,
        cfg,
        cfg.storage,
        runtime,
        token,
        token_manager(runtime),
        token_manager(runtime).provider("gh"),
        BearerAuth(SECRETS["inline_token"]),
        TokenStore(MemoryBackend()),
        ServerLog("local", path=Path(os.devnull)),
        TransportContext(
            name="local",
            auth=BearerAuth(SECRETS["inline_token"]),
            environ={"DATABASE_URL": f"postgres://a:{SECRETS['db_password']}@h/x"},
            secret_env={"T": SECRETS["env_secret"]},
        ),
        *cfg.servers.values(),
        *cfg.providers.values(),
        TokenResponse(SECRETS["inline_token"], refresh_token=SECRETS["env_secret"], id_token=SECRETS["query_key"]),
        StoredToken(token, 3),
        Record(SECRETS["inline_token"].encode(), 1),
        DamagedRecord("token", "gh/1", "it failed its integrity check", "memory"),
        AuthorizationAttempt(provider="gh", redirect_uri="http://127.0.0.1:1/callback", expires_at=0.0),
    ]
    objects[-1].code = attempt_code  # type: ignore[attr-defined]
    for obj in objects:
        assert_clean(repr(obj), f"repr({type(obj).__name__})")
        assert_clean(str(obj), f"str({type(obj).__name__})")


def test_server_stderr_log_is_private_and_redacted(
    mcpconnect_isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The server echoes its whole environment and a URL with a password to stderr."""
    echo = mcpconnect_isolated / "echo_env.py"
    echo.write_text(
        "import os, sys\n"
        "for k, v in sorted(os.environ.items()): print(f'{k}={v}', file=sys.stderr)\n"
        f"print('connecting to postgres://svc:{SECRETS['store_password']}@db/x', file=sys.stderr)\n"
        f"print('token is {SECRETS['inline_token']}', file=sys.stderr)\n"
        "sys.exit(3)\n"
    )
    path = mcpconnect_isolated / "mcpconnect.toml"
    path.write_text(
        '[storage]\nbackend = "memory"\n'
        f'[servers.leaky]\ncommand = "{sys.executable}"\ntoken_to_env = "LEAKY_TOKEN"\n'
        f'args = ["{echo}", "--api-key", "{SECRETS["arg_flag_value"]}", "--header", '
        f'"Authorization: Bearer {SECRETS["arg_header"]}"]\n'
        f'auth = "token"\ntoken = "{SECRETS["inline_token"]}"\n'
        f'env = {{ DATABASE_URL = "postgresql://app:{SECRETS["db_password"]}@db/app", '
        f'LEAKY_API_KEY = "{SECRETS["env_secret"]}", PLAIN = "visible-value" }}\n'
    )
    os.environ["INHERITED_SECRET_KEY"] = SECRETS["upper_name"]  # from the user's own environment
    try:
        code, out, err = run(capsys, "check", "--json")
    finally:
        del os.environ["INHERITED_SECRET_KEY"]
    assert code == 1
    assert_clean(out + err, "check output with the stderr tail")
    from mcpconnect.transport import server_log_path

    log = server_log_path("leaky")
    text = log.read_text()
    assert "PLAIN=visible-value" in text  # the log still works
    assert "--- started pid" in text and "Authorization: Bearer ***" in text  # the command line, masked
    assert_clean(text, "the server's stderr log")
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700
    code, out, err = run(capsys, "logs", "leaky")
    assert_clean(out + err, "mcpconnect logs")


def test_an_existing_world_readable_log_is_tightened(mcpconnect_isolated: Path) -> None:
    from mcpconnect.transport import ServerLog, server_log_path

    path = server_log_path("old")
    path.parent.mkdir(parents=True)
    path.parent.chmod(0o755)
    path.write_text("from an older version\n")
    path.chmod(0o644)
    ServerLog("old").write("a line")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_tokens_list_json_shows_no_token(mcpconnect_isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mcpconnect._config.model import StorageConfig
    from mcpconnect._plugins import PluginHost
    from mcpconnect.storage._factory import open_store
    from mcpconnect.tokens import Token

    path = mcpconnect_isolated / "mcpconnect.toml"
    path.write_text('[storage]\nbackend = "sqlite"\n[providers.gh]\ntype = "github"\nclient_id = "cid"\n')

    async def fill() -> None:
        store = open_store(StorageConfig(), PluginHost())
        await store.put(
            Token(provider="gh", account="1", access_token=SECRETS["inline_token"], refresh_token=SECRETS["env_secret"])
        )
        await store.close()

    asyncio.run(fill())
    for argv in (("tokens", "list", "--json"), ("tokens", "list"), ("whoami", "gh", "--json"), ("check", "--json")):
        _code, out, err = run(capsys, *argv)
        assert_clean(out + err, " ".join(argv))
    _code, out, _ = run(capsys, "tokens", "list", "--json")
    assert json.loads(out)[0]["account"] == "1"


def test_debug_lines_of_libraries_lose_url_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    """httpx and the SDK log the URLs they request at DEBUG: a URL's password and secret query
    parameters never reach the stderr log, even when nothing registered them."""
    import logging

    from mcpconnect._logs import configure_logging

    configure_logging(logging.DEBUG)
    try:
        logging.getLogger("httpx").debug("HTTP Request: POST %s", "http://127.0.0.1:9/mcp?api_key=QSECRET7&x=1")
        logging.getLogger("mcp.client.sse").debug("Connecting to SSE endpoint: http://user:pw-SECRET1@127.0.0.1:1/mcp")
        logging.getLogger("mcpconnect.x").warning("started with TOKEN=TSECRET99 and --password=PSECRET")
    finally:
        for name in ("mcpconnect", "httpx", "mcp"):
            logger = logging.getLogger(name)
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            logger.setLevel(logging.NOTSET)
    err = capsys.readouterr().err
    assert "HTTP Request: POST http://127.0.0.1:9/mcp?api_key=***&x=1" in err
    for secret in ("QSECRET7", "pw-SECRET1", "TSECRET99", "PSECRET"):
        assert secret not in err, err
