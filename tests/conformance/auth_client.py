"""The auth scenarios (``auth/...``) of the MCP conformance harness, on mcpconnect's library API.

``client.py`` (the harness's client under test) hands every ``auth/`` scenario here. Each one
becomes an ordinary configuration: one server with ``auth = "mcp"`` and what the harness passes
in ``MCP_CONFORMANCE_CONTEXT`` as that server's options (a pre-registered client, a private
key, an assertion...), the login followed headlessly (the harness's authorization server
approves at once). Then the client lists the tools and calls ``test-tool``, as a user would.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import mcpconnect

#: The Client ID Metadata Document URL the harness expects (it never fetches it).
CIMD_URL = "https://conformance-test.local/client-metadata.json"
HANDSHAKE_ERA = {"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"}


def server_options(scenario: str, context: dict[str, Any]) -> dict[str, Any]:
    """``[servers.peer.options]`` for ``scenario``."""
    options: dict[str, Any] = {"headless_login": True, "client_metadata_url": CIMD_URL}
    name = scenario.removeprefix("auth/")
    if name in ("client-credentials-basic", "client-credentials-jwt"):
        options["grant"] = "client_credentials"
    if name == "wif-jwt-bearer":
        options.update(grant="jwt_bearer", assertion=context["valid_jwt"])
    if name == "enterprise-managed-authorization":
        # SEP-990: the ID-JAG comes from the enterprise IdP by token exchange of the user's ID token.
        options.update(
            grant="jwt_bearer",
            idp_token_endpoint=context["idp_token_endpoint"],
            idp_client_id=context["idp_client_id"],
            id_token=context["idp_id_token"],
        )
    if context.get("client_id"):
        options["client_id"] = context["client_id"]
    if context.get("client_secret"):
        options["client_secret"] = context["client_secret"]
    if context.get("private_key_pem"):
        options["private_key_pem"] = context["private_key_pem"]
        options["signing_alg"] = context.get("signing_algorithm", "ES256")
    return options


async def run_auth_scenario(scenario: str, server_url: str, context: dict[str, Any]) -> int:
    """Run one ``auth/`` scenario against ``server_url``; 0 when the client did its part."""
    options = server_options(scenario, context)
    version = os.environ.get("MCP_CONFORMANCE_PROTOCOL_VERSION", "")
    config = {
        "storage": {"backend": "memory"},
        "servers": {
            "peer": {"url": server_url, "transport": "streamable-http", "auth": "mcp", "options": options},
        },
    }
    async with mcpconnect.connect(
        config,
        protocol="legacy" if version in HANDSHAKE_ERA else "auto",
        cache=False,
        reconnect=False,
        health_interval=None,
    ) as hub:
        status = hub.servers["peer"]
        if not status.ok:
            print(f"connect failed: {status.error}", file=sys.stderr)
            return 1
        tools = await hub.list_tools("peer")
        print(f"{scenario}: tools {[t.name for t in tools]}")
        result = await hub.call_tool("peer", "test-tool", {})
        print(f"{scenario}: test-tool -> {result.content[0].text if result.content else result}")
    return 0


def main() -> int:
    import asyncio

    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    return asyncio.run(run_auth_scenario(scenario, sys.argv[1], context))


if __name__ == "__main__":
    sys.exit(main())
