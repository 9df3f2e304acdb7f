"""The third-party provider plugin of docs/providers/index.md passes the same suites."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mcpconnect_auth_example
import pytest
from provider_replica import StandardReplica
from provider_suite import ProviderContract, engine_contract
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DOCS = Path(__file__).resolve().parents[3] / "docs" / "providers" / "index.md"


class ExampleReplica(StandardReplica):
    """Example.com: RFC 6749 + PKCE + RFC 7009, a user API at /api/me."""

    def routes(self) -> list[Route]:
        return [*super().routes(), Route("/api/me", self.me, methods=["GET"])]

    async def me(self, request: Request) -> Response:
        if self.bearer(request) is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        return JSONResponse({"id": 42, "login": "ada", "display_name": "Ada"})


@pytest.fixture(scope="module")
def example_server() -> Iterator[ExampleReplica]:
    replica = ExampleReplica()
    with replica.serve():
        yield replica


@pytest.fixture
def replica(example_server: ExampleReplica) -> ExampleReplica:
    example_server.reset()
    return example_server


class TestExampleContract(ProviderContract):
    plugin = mcpconnect_auth_example
    provider_type = "example"
    account = "42"
    account_name = "Ada"


TestExampleEngineContract = engine_contract(TestExampleContract)


def test_the_docs_show_this_plugin() -> None:
    """The plugin in the docs is this one, line for line."""
    source = (
        Path(mcpconnect_auth_example.__file__).read_text(encoding="utf-8").split('EXAMPLE = "https://example.com"')[1]
    )
    docs = DOCS.read_text(encoding="utf-8")
    for line in source.strip().splitlines():
        assert line in docs, f"docs/providers/index.md lacks: {line!r}"


FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "example-provider"
WRITING = Path(__file__).resolve().parents[3] / "docs" / "writing-providers.md"


def test_the_plugins_own_tests_pass_against_its_own_replica() -> None:
    """What docs/writing-providers.md teaches: a replica fixture and the contract suite, run the
    way the plugin's author runs them (pytest in the plugin's folder)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(FIXTURE / "src")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "tests"],
        cwd=FIXTURE,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "8 passed" in result.stdout, result.stdout[-1000:]


@pytest.mark.parametrize("name", ["conftest.py", "test_example_contract.py"])
def test_the_writing_providers_page_shows_the_plugins_tests(name: str) -> None:
    docs = WRITING.read_text(encoding="utf-8")
    for line in (FIXTURE / "tests" / name).read_text(encoding="utf-8").splitlines():
        assert line in docs, f"docs/writing-providers.md lacks, from tests/{name}: {line!r}"
