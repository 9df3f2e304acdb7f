"""`mcpconnect check`, `tools`, `call` and `logs` against real stdio servers."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mcpconnect._cli import main

FAULTY = str(Path(__file__).with_name("faulty_server.py"))


def run(capsys, *argv):
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def project(mcpconnect_isolated):
    (mcpconnect_isolated / "mcpconnect.toml").write_text(
        f"""
[storage]
backend = "memory"

[servers.good]
command = {json.dumps(sys.executable)}
args = [{json.dumps(FAULTY)}, "serve"]

[servers.broken]
command = {json.dumps(sys.executable)}
args = [{json.dumps(FAULTY)}, "exit-at-start"]
"""
    )
    return mcpconnect_isolated


def test_check_json_reports_each_server_and_exits_1(project, capsys):
    code, out, _err = run(capsys, "check", "--json")
    assert code == 1
    data = json.loads(out)
    assert data["total"] == 2
    assert data["ok"] == 1
    by_name = {s["name"]: s for s in data["servers"]}
    assert set(by_name["good"]) == {"name", "transport", "ok", "protocol_version", "tools", "latency_ms", "error"}
    assert by_name["good"]["ok"] is True
    assert by_name["good"]["transport"] == "stdio"
    assert by_name["good"]["tools"] == 7
    assert by_name["good"]["error"] is None
    assert by_name["broken"]["ok"] is False
    assert "exited with code 3" in by_name["broken"]["error"]


def test_check_table_and_exit_0_when_all_work(project, capsys):
    code, out, _err = run(capsys, "check", "good")
    assert code == 0
    assert "good" in out
    assert "broken" not in out
    assert "1/1 servers operational" in out


def test_check_table_shows_the_failure(project, capsys):
    code, out, _err = run(capsys, "check")
    assert code == 1
    assert "1/2 servers operational" in out
    assert "cannot open database" in out


def test_logs_shows_the_stderr_of_a_server(project, capsys):
    run(capsys, "check", "broken")
    code, out, _err = run(capsys, "logs", "broken")
    assert code == 0
    assert "faulty: cannot open database /nowhere/db.sqlite" in out
    code, _out, err = run(capsys, "logs", "nope")
    assert code == 2
    assert "no server named 'nope'" in err


def test_tools_and_call(project, capsys):
    code, out, _err = run(capsys, "tools", "good", "--json")
    assert code == 0
    names = {t["qualified_name"] for t in json.loads(out)}
    assert "good__echo" in names
    code, out, _err = run(capsys, "call", "good", "echo", "--args", '{"message": "from the cli"}')
    assert code == 0
    assert out.strip() == "from the cli"
    code, out, _err = run(capsys, "call", "good", "echo", "--args", '{"message": "j"}', "--json")
    assert json.loads(out)["content"][0]["text"] == "j"
    code, _out, err = run(capsys, "call", "good", "echo", "--args", "not json")
    assert code == 2
    assert "--args is not valid JSON" in err
    code, _out, err = run(capsys, "call", "broken", "echo")
    assert code == 1
    assert "exited with code 3" in err


def test_call_of_a_tool_the_server_does_not_have_is_a_usage_error(project, capsys):
    code, out, err = run(capsys, "call", "good", "ecoh", "--args", '{"message": "x"}')
    assert code == 2 and not out
    assert "server 'good' has no tool 'ecoh'; did you mean 'echo'?" in err
    assert "mcpconnect tools good" in err
    # The namespaced name that `tools` prints works in the TOOL slot...
    code, out, _err = run(capsys, "call", "good", "good__echo", "--args", '{"message": "ns"}')
    assert code == 0 and out.strip() == "ns"
    # ...and in the NAME slot it is explained.
    code, _out, err = run(capsys, "call", "good__echo", "x")
    assert code == 2
    assert "run: mcpconnect call good echo" in err


def test_commands_that_open_no_connection_do_not_import_the_sdk(project):
    script = (
        "import sys\n"
        "from mcpconnect._cli import main\n"
        "try:\n    main(['logs', 'broken'])\nexcept SystemExit:\n    pass\n"
        "print('mcp' in sys.modules, 'httpx' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False False"


def test_tools_with_no_server_configured_says_how_to_add_one(mcpconnect_isolated, capsys):
    code, out, err = run(capsys, "tools")
    assert code == 2 and not out
    assert "no servers are configured" in err and "[servers.NAME]" in err


def test_check_reports_a_store_that_cannot_be_opened_though_no_server_needs_it(project, capsys, monkeypatch):
    # No server of the project logs in; the store is still part of the configuration.
    monkeypatch.setenv("MCPCONNECT_STORAGE__BACKEND", "nope")
    code, out, err = run(capsys, "check", "good")
    assert code == 2
    assert "servers operational" not in out
    assert "MCPCONNECT_STORAGE__BACKEND" in err and "no token store named 'nope'" in err
    monkeypatch.delenv("MCPCONNECT_STORAGE__BACKEND")
    overrides = ("--set", "storage.backend=sqlite", "--set", "storage.busy_timeout=x")
    code, out, err = run(capsys, *overrides, "check", "--json")
    assert code == 2 and not out
    assert "--set" in err and "busy_timeout" in err


def test_tools_and_call_apply_the_filters_serve_applies(project, capsys):
    # [servers.good.tools] deny: `tools` shows what serve exposes (and says how many it hides),
    # --all shows them marked, and `call` refuses a filtered tool naming the table to change.
    config = project / "mcpconnect.toml"
    config.write_text(config.read_text() + '\n[servers.good.tools]\ndeny = ["echo"]\n')
    code, out, err = run(capsys, "tools", "good", "--json", "--refresh")
    assert code in (0, 1)
    shown = {t["name"] for t in json.loads(out)}
    assert "echo" not in shown and "filtered out by [servers.good.tools]" in err
    code, out, _err = run(capsys, "tools", "good", "--json", "--all")
    every = {t["name"]: t["exposed"] for t in json.loads(out)}
    assert every["echo"] is False and all(v for k, v in every.items() if k != "echo")
    code, out, err = run(capsys, "call", "good", "echo", "--args", '{"message": "x"}')
    assert code == 2 and not out
    assert "filtered out by [servers.good.tools]" in err
