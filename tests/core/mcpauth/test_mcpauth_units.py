"""The pure parts of MCP authorization: challenges, canonical URIs, well-known locations, the
choice of client authentication, DPoP proofs, and what reprs show."""

from __future__ import annotations

import base64
import hashlib
import json

import jwt
import pytest

from mcpconnect.auth._mcp import ClientRegistration, DPoPKey, canonical_resource, parse_challenge
from mcpconnect.auth._mcp.discovery import (
    AuthServerMetadata,
    auth_server_metadata_urls,
    resource_allowed,
    resource_metadata_urls,
)
from mcpconnect.auth._mcp.provider import choose_auth_method


def test_challenge_parameters_are_parsed_quoted_or_not():
    c = parse_challenge(
        'Bearer error="insufficient_scope", scope="files:read files:write", '
        'resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", realm=x'
    )
    assert c.scheme == "Bearer"
    assert c.error == "insufficient_scope"
    assert c.scopes == ("files:read", "files:write")
    assert c.resource_metadata == "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
    assert c.params["realm"] == "x"
    assert parse_challenge('DPoP error="use_dpop_nonce"').scheme == "DPoP"
    assert parse_challenge(None).scopes == ()


def test_canonical_resource():
    assert canonical_resource("HTTPS://MCP.Example.com/mcp/") == "https://mcp.example.com/mcp"
    assert canonical_resource("https://mcp.example.com/mcp?x=1#frag") == "https://mcp.example.com/mcp"
    assert canonical_resource("https://mcp.example.com:8443") == "https://mcp.example.com:8443"


def test_resource_metadata_locations_path_inserted_then_root():
    no_header = parse_challenge(None)
    assert resource_metadata_urls("https://h.example/public/mcp", no_header) == [
        "https://h.example/.well-known/oauth-protected-resource/public/mcp",
        "https://h.example/.well-known/oauth-protected-resource",
    ]
    header = parse_challenge('Bearer resource_metadata="https://h.example/custom.json"')
    assert resource_metadata_urls("https://h.example/mcp", header) == ["https://h.example/custom.json"]


def test_authorization_server_metadata_locations_in_order():
    assert auth_server_metadata_urls("https://as.example/tenant1") == [
        "https://as.example/.well-known/oauth-authorization-server/tenant1",
        "https://as.example/.well-known/openid-configuration/tenant1",
        "https://as.example/tenant1/.well-known/openid-configuration",
    ]
    assert auth_server_metadata_urls("https://as.example/") == [
        "https://as.example/.well-known/oauth-authorization-server",
        "https://as.example/.well-known/openid-configuration",
    ]


@pytest.mark.parametrize(
    ("advertised", "allowed"),
    [
        ("https://h.example/mcp", True),
        ("https://h.example", True),  # a whole origin protected
        ("https://h.example/mcp/", True),
        ("https://h.example/other", False),
        ("https://h.example/mcpx", False),
        ("https://evil.example/mcp", False),
        ("http://h.example/mcp", False),
        ("https://h.example:444/mcp", False),
    ],
)
def test_resource_must_be_this_server_or_a_parent(advertised, allowed):
    assert resource_allowed(advertised, "https://h.example/mcp") is allowed


def metadata(methods):
    return AuthServerMetadata(issuer="https://as.example", token_endpoint_auth_methods_supported=methods)


def test_token_endpoint_auth_method_follows_the_servers_list():
    assert choose_auth_method(metadata(("client_secret_post", "client_secret_basic")), has_secret=True) == (
        "client_secret_post"
    )
    assert choose_auth_method(metadata(("client_secret_basic",)), has_secret=True) == "client_secret_basic"
    assert choose_auth_method(metadata(None), has_secret=True) == "client_secret_basic"  # RFC 8414 default
    assert choose_auth_method(metadata(("none",)), has_secret=False) == "none"
    assert choose_auth_method(metadata(("private_key_jwt",)), has_secret=False, has_key=True) == "private_key_jwt"


def test_dpop_proof_is_signed_by_the_key_it_carries_and_binds_the_token():
    key = DPoPKey()
    proof = key.proof("post", "https://mcp.example/mcp?session=1#x", access_token="at-123")
    header = jwt.get_unverified_header(proof)
    assert header["typ"] == "dpop+jwt" and header["alg"] == "ES256"
    assert "d" not in header["jwk"]  # never the private part
    public = jwt.PyJWK(header["jwk"]).key
    claims = jwt.decode(proof, public, algorithms=["ES256"])
    assert claims["htm"] == "POST"
    assert claims["htu"] == "https://mcp.example/mcp"  # no query, no fragment (RFC 9449 4.2)
    digest = base64.urlsafe_b64encode(hashlib.sha256(b"at-123").digest()).rstrip(b"=").decode()
    assert claims["ath"] == digest
    assert key.proof("POST", "https://mcp.example/mcp") != key.proof("POST", "https://mcp.example/mcp")  # fresh jti


def test_dpop_nonces_are_kept_per_origin_and_the_key_round_trips():
    key = DPoPKey()
    assert key.remember_nonce("https://as.example/token", {"dpop-nonce": "n1"}) is True
    assert key.remember_nonce("https://as.example/token", {"dpop-nonce": "n1"}) is False
    assert (
        jwt.decode(key.proof("POST", "https://as.example/token"), options={"verify_signature": False})["nonce"] == "n1"
    )
    assert "nonce" not in jwt.decode(key.proof("POST", "https://rs.example/mcp"), options={"verify_signature": False})
    again = DPoPKey(key.private_pem())
    assert again.thumbprint() == key.thumbprint()
    canonical = json.dumps({k: key.jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    assert (
        key.thumbprint() == base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    )


def test_registration_repr_hides_the_secret_and_round_trips():
    reg = ClientRegistration("https://as.example", "cid", "s3cret-value-0123456789", "client_secret_basic")
    assert "s3cret" not in repr(reg)
    assert ClientRegistration.from_record(reg.to_record()) == reg
    assert ClientRegistration.from_record({"issuer": "x"}) is None
