"""Hostile and broken servers: each ends in one clear error, and no token goes where it does
not belong."""

from __future__ import annotations

import httpx
import pytest

from mcpconnect.auth._mcp import MAX_AUTHORIZATIONS, mcp_server_auth
from mcpconnect.errors import AuthError


def entry(url: str, **options: object) -> dict:
    return {"url": url, "auth": "mcp", "options": {"headless_login": True, **options}}


async def call(runtime, name: str = "srv") -> httpx.Response:
    server = runtime.config.servers[name]
    async with httpx.AsyncClient(auth=mcp_server_auth(name, server, runtime), timeout=20) as client:
        return await client.post(server.url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})


async def test_a_well_behaved_server_gets_its_token(hostile, make_runtime):
    runtime = make_runtime({"srv": entry(hostile.mcp_url)})
    response = await call(runtime)
    assert response.status_code == 200
    assert hostile.count("/token") == 1
    # the token went to the MCP server only, never to the authorization server's endpoints
    assert [s.path for s in hostile.seen if s.authorization] == ["/mcp"]


async def test_resource_metadata_on_another_origin_is_refused(hostile_pair, make_runtime):
    server, elsewhere = hostile_pair
    server.behaviour["challenge"] = (
        f'Bearer resource_metadata="{elsewhere.base}/.well-known/oauth-protected-resource/mcp"'
    )
    runtime = make_runtime({"srv": entry(server.mcp_url)})
    with pytest.raises(AuthError, match="resource metadata at another origin"):
        await call(runtime)
    assert elsewhere.seen == []
    assert server.count("/authorize") == 0


async def test_resource_metadata_naming_another_resource_is_refused(hostile, make_runtime):
    hostile.behaviour["resource"] = "https://evil.example.com/mcp"
    runtime = make_runtime({"srv": entry(hostile.mcp_url)})
    with pytest.raises(AuthError, match=r"names resource 'https://evil.example.com/mcp', not this server"):
        await call(runtime)
    assert hostile.count("/authorize") == hostile.count("/register") == 0


async def test_an_authorization_server_whose_issuer_differs_is_refused(hostile, make_runtime):
    hostile.behaviour["metadata_issuer"] = "https://attacker.example.com"
    runtime = make_runtime({"srv": entry(hostile.mcp_url)})
    with pytest.raises(AuthError, match=r"names issuer 'https://attacker.example.com'.*possible mix-up"):
        await call(runtime)
    assert hostile.count("/register") == hostile.count("/authorize") == hostile.count("/token") == 0


@pytest.mark.parametrize("garbage", ["html", "no_client_id"])
async def test_a_registration_endpoint_answering_garbage(hostile, make_runtime, garbage):
    hostile.behaviour["registration_garbage"] = garbage
    runtime = make_runtime({"srv": entry(hostile.mcp_url)})
    with pytest.raises(AuthError, match=r"not a client registration .*set client_id .* \[servers\.srv\.options\]"):
        await call(runtime)
    assert hostile.count("/authorize") == 0
    assert await runtime.store().list_registrations() == {}


async def test_a_401_loop_stops_after_the_fresh_token_is_rejected(hostile, make_runtime):
    hostile.behaviour["always_401"] = True
    runtime = make_runtime({"srv": entry(hostile.mcp_url)})
    with pytest.raises(AuthError, match="rejected the token it had just been issued"):
        await call(runtime)
    assert hostile.count("/token") == 1
    assert hostile.count("/mcp") == 2


async def test_a_403_loop_stops_after_three_authorizations(hostile, make_runtime):
    hostile.behaviour["always_403"] = True
    runtime = make_runtime({"srv": entry(hostile.mcp_url)})
    with pytest.raises(AuthError, match=r"still answered 403 insufficient_scope after 3 authorizations"):
        await call(runtime)
    assert hostile.count("/authorize") == MAX_AUTHORIZATIONS
    # the first login asked for the resource's scopes; each step-up added what the 403 named
    scopes = [s.query.get("scope", "").split() for s in hostile.seen if s.path == "/authorize"]
    assert all("admin" in asked for asked in scopes[1:])


async def test_without_a_registration_endpoint_the_error_says_how_to_preregister(hostile, make_runtime):
    hostile.behaviour["no_registration"] = True
    runtime = make_runtime({"srv": entry(hostile.mcp_url)})
    with pytest.raises(
        AuthError, match=r"offers no dynamic client registration .* set client_id .*\[servers\.srv\.options\]"
    ):
        await call(runtime)
    assert hostile.count("/authorize") == 0


async def test_a_preregistered_client_skips_registration(hostile, make_runtime):
    hostile.behaviour["no_registration"] = True
    runtime = make_runtime({"srv": entry(hostile.mcp_url, client_id="pre-registered")})
    response = await call(runtime)
    assert response.status_code == 200
    assert hostile.count("/register") == 0
    (authorize,) = [s for s in hostile.seen if s.path == "/authorize"]
    assert authorize.query["client_id"] == "pre-registered"
    # RFC 8707: the resource is the server's canonical URI, in both requests
    assert authorize.query["resource"] == hostile.mcp_url
    (token,) = [s for s in hostile.seen if s.path == "/token"]
    assert token.form["resource"] == hostile.mcp_url


async def test_requests_to_another_origin_never_carry_the_token(hostile_pair, make_runtime):
    server, elsewhere = hostile_pair
    runtime = make_runtime({"srv": entry(server.mcp_url)})
    auth = mcp_server_auth("srv", runtime.config.servers["srv"], runtime)
    async with httpx.AsyncClient(auth=auth, timeout=20) as client:
        assert (await client.post(server.mcp_url, json={})).status_code == 200
        await client.post(elsewhere.mcp_url, json={})
    assert [s.authorization for s in elsewhere.seen] == [None]


async def test_a_server_moving_to_another_authorization_server_gets_a_new_registration(hostile_pair, make_runtime):
    server, new_as = hostile_pair
    runtime = make_runtime({"srv": entry(server.mcp_url)})
    auth = mcp_server_auth("srv", runtime.config.servers["srv"], runtime)
    async with httpx.AsyncClient(auth=auth, timeout=20) as client:
        assert (await client.post(server.mcp_url, json={})).status_code == 200
        # the server now trusts another authorization server only
        server.behaviour.update(issuer=new_as.base, accept_tokens_of=[new_as])
        assert (await client.post(server.mcp_url, json={})).status_code == 200
    assert new_as.count("/register") == 1
    (authorize,) = [s for s in new_as.seen if s.path == "/authorize"]
    assert authorize.query["client_id"] == f"client-of-{new_as.port}"  # never the old server's client
    registrations = await runtime.store().list_registrations()
    assert registrations[server.base]["client_id"] == f"client-of-{server.port}"
    assert registrations[new_as.base]["client_id"] == f"client-of-{new_as.port}"
    (stored,) = await runtime.store().list("srv")
    assert stored.token.issuer == new_as.base


async def test_concurrent_requests_share_one_login(hostile, make_runtime):
    import asyncio

    runtime = make_runtime({"srv": entry(hostile.mcp_url)})
    auth = mcp_server_auth("srv", runtime.config.servers["srv"], runtime)
    async with httpx.AsyncClient(auth=auth, timeout=20) as client:
        responses = await asyncio.gather(*(client.post(hostile.mcp_url, json={"id": i}) for i in range(8)))
    assert [r.status_code for r in responses] == [200] * 8
    assert hostile.count("/authorize") == hostile.count("/token") == hostile.count("/register") == 1


async def test_a_token_bound_to_another_resource_is_never_sent(hostile, make_runtime):
    from pydantic import SecretStr

    from mcpconnect.tokens import Token

    runtime = make_runtime({"srv": entry(hostile.mcp_url)})
    elsewhere = Token(
        provider="srv",
        account="default",
        access_token=SecretStr("token-for-another-resource-000"),
        resource="https://other.example/mcp",
        issuer=hostile.base,
    )
    await runtime.store().put(elsewhere)
    response = await call(runtime)
    assert response.status_code == 200
    first = next(s for s in hostile.seen if s.path == "/mcp")
    assert first.authorization is None
    assert all("token-for-another-resource" not in (s.authorization or "") for s in hostile.seen)


async def test_a_login_page_that_needs_a_person_ends_the_headless_login(hostile, make_runtime):
    hostile.behaviour["authorize_page"] = True
    runtime = make_runtime({"srv": entry(hostile.mcp_url)})
    with pytest.raises(AuthError, match=r"headless login did not complete .* run 'mcpconnect login srv'"):
        await call(runtime)
    assert hostile.count("/token") == 0


@pytest.mark.parametrize("legacy", ["metadata_at_origin", "no_metadata"])
async def test_2025_03_26_servers_without_resource_metadata(hostile, make_runtime, legacy):
    hostile.behaviour["legacy"] = legacy
    runtime = make_runtime({"srv": entry(hostile.mcp_url)})
    assert (await call(runtime)).status_code == 200
    assert "/.well-known/oauth-protected-resource/mcp" in hostile.paths()
    assert hostile.count("/.well-known/oauth-authorization-server") == 1
    assert hostile.count("/register") == hostile.count("/authorize") == hostile.count("/token") == 1
    (stored,) = await runtime.store().list("srv")
    assert stored.token.issuer == hostile.base
    assert stored.token.resource == hostile.mcp_url
