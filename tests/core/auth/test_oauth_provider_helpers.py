"""The helpers a provider plugin builds on (``OAuthProvider.request``, ``read_json``,
``read_seconds``): what they raise, against real sockets, and that the official plugins use them
instead of copies of their own."""

from __future__ import annotations

import asyncio
import inspect
import socket
from typing import Any

import httpx
import pytest

from mcpconnect._config import ProviderConfig
from mcpconnect.auth import OAuthProvider, TransientAuthError
from mcpconnect.errors import AuthError


def provider() -> OAuthProvider:
    return OAuthProvider("acme", ProviderConfig(type="oauth2", client_id="c"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_refused_connection_is_transient_and_names_provider_what_and_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/graphql?access_token=abc123secretvalue"
    async with httpx.AsyncClient() as http:
        with pytest.raises(TransientAuthError) as info:
            await provider().request(http, "POST", url, what="GraphQL API", json={"query": "{ viewer { id } }"})
    message = str(info.value)
    assert message.startswith("provider 'acme': cannot reach the GraphQL API at http://127.0.0.1:")
    assert "/graphql (ConnectError); check the network and try again" in message
    assert "abc123secretvalue" not in message
    assert info.value.provider == "acme"


async def test_a_server_that_never_answers_is_a_timeout_said_as_such() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await asyncio.sleep(30)  # never answers; the client gives up first

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(timeout=0.2) as http:
            with pytest.raises(TransientAuthError, match=r"the token endpoint at .* did not answer in time"):
                await provider().request(http, "GET", f"http://127.0.0.1:{port}/token", what="token endpoint")
    finally:
        server.close()


async def test_an_answer_comes_back_whatever_its_status() -> None:
    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        body = b'{"error": "invalid_grant"}'
        writer.write(
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(body)).encode()
            + b"\r\nconnection: close\r\n\r\n"
            + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient() as http:
            acme = provider()
            response = await acme.request(http, "POST", f"http://127.0.0.1:{port}/t", what="token endpoint")
            assert response.status_code == 400
            assert acme.read_json(response, "token endpoint") == {"error": "invalid_grant"}
    finally:
        server.close()


def answer(status: int, body: bytes, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=body, headers=headers, request=httpx.Request("GET", "https://x.test/"))


def test_read_json_says_what_was_answered_instead() -> None:
    with pytest.raises(AuthError, match="provider 'acme': the userinfo endpoint answered text/html \\(HTTP 200\\)"):
        provider().read_json(answer(200, b"<html>", **{"content-type": "text/html"}), "userinfo endpoint")
    with pytest.raises(AuthError, match="JSON that is not an object"):
        provider().read_json(answer(200, b"[1, 2]"), "userinfo endpoint")
    with pytest.raises(TransientAuthError, match="rate limiting") as info:
        provider().read_json(answer(429, b"slow down", **{"retry-after": "7"}), "userinfo endpoint")
    assert info.value.retry_after == 7.0


@pytest.mark.parametrize(("value", "seconds"), [(None, None), ("", None), (3600, 3600.0), (" 90 ", 90.0), (1.5, 1.5)])
def test_read_seconds_reads_numbers_and_numeric_strings(value: object, seconds: float | None) -> None:
    assert provider().read_seconds(value, "expires_in") == seconds


@pytest.mark.parametrize("value", ["an hour", True, -5, float("inf"), [60]])
def test_read_seconds_refuses_what_is_no_duration(value: object) -> None:
    with pytest.raises(
        AuthError, match=r"provider 'acme': the token endpoint sent interval = .*not a number of seconds"
    ):
        provider().read_seconds(value, "interval")


@pytest.mark.parametrize("plugin", ["github", "google", "linear", "microsoft", "notion", "slack"])
def test_provider_plugins_send_through_the_helper(plugin: str) -> None:
    import importlib

    source = inspect.getsource(importlib.import_module(f"mcpconnect_auth_{plugin}"))
    # One helper turns network failures into TransientAuthError; no plugin keeps a copy of it.
    assert "httpx.HTTPError" not in source and "httpx.TimeoutException" not in source
    assert "._json(" not in source and "._seconds(" not in source


async def test_an_unreachable_mcp_server_is_named_without_its_query(make_runtime: Any) -> None:
    from mcpconnect._config import ServerConfig
    from mcpconnect.auth._mcp.client import MCPAuthorizer

    url = f"http://127.0.0.1:{free_port()}/mcp?api_key=abc123secretvalue"
    server = ServerConfig(url=url, auth="mcp")
    with pytest.raises(AuthError) as info:
        await MCPAuthorizer("remote", server, make_runtime({})).login()
    assert "cannot reach http://127.0.0.1:" in str(info.value) and "/mcp (ConnectError)" in str(info.value)
    assert "abc123secretvalue" not in str(info.value)
