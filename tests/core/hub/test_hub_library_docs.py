"""Every Python example in docs/library.md runs, from the root of the checkout."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "library.md").read_text(), re.S)


def test_the_page_has_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_library_example_runs(index, tmp_path, mcpconnect_isolated):
    script = tmp_path / "example.py"
    script.write_text(BLOCKS[index])
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    if index == 0:
        assert "notes-stdio ready" in done.stdout
        assert "notes-stdio__add_note" in done.stdout
        assert "buy milk" in done.stdout
    if index == 1:
        assert "exited with code 3" in done.stdout
        assert "no database" in done.stdout
        assert "call failed: server 'broken'" in done.stdout
    if index == 2:
        assert "hi" in done.stdout.splitlines()
        assert "summarize" in done.stdout
    if index == 3:
        assert "prompts:" in done.stdout and "summarize" in done.stdout


def test_the_readme_python_example_runs_and_prints_namespaced_tool_names(tmp_path, mcpconnect_isolated):
    import json

    readme = (ROOT / "README.md").read_text()
    block = re.findall(r"```python\n(.*?)```", readme, re.S)[0]
    faulty = Path(__file__).with_name("faulty_server.py")
    (tmp_path / "mcpconnect.toml").write_text(
        f'[storage]\nbackend = "memory"\n\n[servers.notes]\ncommand = {json.dumps(sys.executable)}\n'
        f'args = [{json.dumps(str(faulty))}, "serve"]\n'
    )
    (tmp_path / "example.py").write_text(block)
    done = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "notes__echo" in lines  # what `hub.call_tool`'s callers and `mcpconnect tools` use
    assert lines[-1] == "hi"
