"""MCP authorization (``auth = "mcp"``): discovery from a server's 401, client registration,
tokens bound to the server's resource, step-up, DPoP; built on the OAuth engine.

See ``docs/mcp-authorization.md``.
"""

from mcpconnect.auth._mcp.client import MAX_AUTHORIZATIONS, MCPAuth, MCPAuthorizer, mcp_server_auth
from mcpconnect.auth._mcp.discovery import (
    AuthServerMetadata,
    Challenge,
    ResourceMetadata,
    canonical_resource,
    parse_challenge,
)
from mcpconnect.auth._mcp.dpop import DPoPKey
from mcpconnect.auth._mcp.provider import ClientRegistration, MCPProvider

__all__ = [
    "MAX_AUTHORIZATIONS",
    "AuthServerMetadata",
    "Challenge",
    "ClientRegistration",
    "DPoPKey",
    "MCPAuth",
    "MCPAuthorizer",
    "MCPProvider",
    "ResourceMetadata",
    "canonical_resource",
    "mcp_server_auth",
    "parse_challenge",
]
