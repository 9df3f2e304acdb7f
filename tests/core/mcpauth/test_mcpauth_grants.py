"""DPoP (with server nonces), client credentials with private_key_jwt, and the JWT bearer grant,
against a real local server that checks each on the wire."""

from __future__ import annotations

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mcpconnect.auth._mcp import mcp_server_auth


def entry(url: str, **options: object) -> dict:
    return {"url": url, "auth": "mcp", "options": {"headless_login": True, **options}}


async def post_twice(runtime) -> list[int]:
    server = runtime.config.servers["srv"]
    async with httpx.AsyncClient(auth=mcp_server_auth("srv", server, runtime), timeout=20) as client:
        return [(await client.post(server.url, json={"id": i})).status_code for i in range(2)]


async def test_dpop_bound_token_with_fresh_proofs(hostile, make_runtime):
    hostile.behaviour["dpop"] = True
    runtime = make_runtime({"srv": entry(hostile.mcp_url)})
    assert await post_twice(runtime) == [200, 200]
    assert hostile.problems == []
    assert len(hostile.jtis) == 2  # a new proof per request
    (stored,) = await runtime.store().list("srv")
    assert stored.token.token_type == "DPoP"
    assert [s.authorization.split(" ")[0] for s in hostile.seen if s.path == "/mcp" and s.authorization] == [
        "DPoP",
        "DPoP",
    ]


async def test_dpop_nonces_from_the_token_endpoint_and_the_server(hostile, make_runtime):
    hostile.behaviour.update(dpop=True, dpop_as_nonce="as-nonce-1", dpop_rs_nonce="rs-nonce-1")
    runtime = make_runtime({"srv": entry(hostile.mcp_url)})
    assert await post_twice(runtime) == [200, 200]
    assert hostile.problems == []
    assert hostile.count("/token") == 2  # the first was answered use_dpop_nonce, retried once
    assert hostile.count("/authorize") == 1
    # the first MCP request was answered use_dpop_nonce and retried with the server's nonce, which
    # the second request then carried from the start: 3 requests with a token in all
    with_token = [s for s in hostile.seen if s.path == "/mcp" and s.authorization]
    assert len(with_token) == 3


async def test_client_credentials_with_private_key_jwt(hostile, make_runtime):
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    hostile.behaviour.update(auth_methods=["private_key_jwt"], client_public_key=key.public_key())
    runtime = make_runtime(
        {"srv": entry(hostile.mcp_url, grant="client_credentials", client_id="machine-1", private_key_pem=pem)}
    )
    assert await post_twice(runtime) == [200, 200]
    assert hostile.problems == []
    (token,) = [s for s in hostile.seen if s.path == "/token"]
    assert token.form["grant_type"] == "client_credentials"
    assert token.form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert token.form["resource"] == hostile.mcp_url
    assert hostile.count("/authorize") == hostile.count("/register") == 0


async def test_jwt_bearer_grant_with_a_workload_assertion(hostile, make_runtime, monkeypatch):
    monkeypatch.setenv("WORKLOAD_JWT", "eyJ.workload.assertion-0123456789")
    runtime = make_runtime(
        {"srv": entry(hostile.mcp_url, grant="jwt_bearer", client_id="workload", assertion_env="WORKLOAD_JWT")}
    )
    assert await post_twice(runtime) == [200, 200]
    (token,) = [s for s in hostile.seen if s.path == "/token"]
    assert token.form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert token.form["assertion"] == "eyJ.workload.assertion-0123456789"
    assert token.form["resource"] == hostile.mcp_url
    assert hostile.count("/authorize") == 0
