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
