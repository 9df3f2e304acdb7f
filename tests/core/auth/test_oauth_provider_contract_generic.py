"""The provider contract suite, run against the core's generic providers and oidc-provider."""

from __future__ import annotations

import pytest
from mcpconnect_oidc_server import CONFIDENTIAL_SECRET, POST_SECRET

from mcpconnect.auth import _generic as generic
from mcpconnect.testing._provider_contract import ProviderContract

pytestmark = pytest.mark.node


class TestOIDCProvider(ProviderContract):
    expected_account = "alice"

    @pytest.fixture
    def provider_plugin(self):
        return generic

    @pytest.fixture
    def provider_config(self, oidc_server):
        return {
            "type": "oidc",
            "issuer": oidc_server.issuer,
            "client_id": "confidential",
            "client_secret": CONFIDENTIAL_SECRET,
        }

    @pytest.fixture
    def approve_device(self, oidc_server):
        return oidc_server.approve_device


class TestOAuth2ProviderPublicClient(ProviderContract):
    """Explicit endpoints and a public client (PKCE only, no secret)."""

    expected_account = "alice"

    @pytest.fixture
    def provider_plugin(self):
        return generic

    @pytest.fixture
    def provider_config(self, oidc_server):
        i = oidc_server.issuer
        return {
            "type": "oauth2",
            "authorize_url": f"{i}/auth",
            "token_url": f"{i}/token",
            "revoke_url": f"{i}/token/revocation",
            "device_url": f"{i}/device/auth",
            "userinfo_url": f"{i}/me",
            "client_id": "public-cli",
            "scopes": ["openid"],
        }

    @pytest.fixture
    def approve_device(self, oidc_server):
        return oidc_server.approve_device


class TestOAuth2ProviderWithoutRevocation(ProviderContract):
    """No revocation endpoint: logout deletes locally and says so."""

    expected_account = "alice"
    supports_revocation = False

    @pytest.fixture
    def provider_plugin(self):
        return generic

    @pytest.fixture
    def provider_config(self, oidc_server):
        i = oidc_server.issuer
        return {
            "type": "oauth2",
            "authorize_url": f"{i}/auth",
            "token_url": f"{i}/token",
            "userinfo_url": f"{i}/me",
            "client_id": "post-client",
            "client_secret": POST_SECRET,
            "scopes": ["openid"],
            "options": {"token_endpoint_auth": "post"},
        }
