"""DPoP (RFC 9449): a per-server key, and a fresh proof for every request.

Proofs are JWTs signed with an ES256 key (``cryptography``, signed by ``PyJWT``). The key is
kept in the token store beside the registrations, so a DPoP-bound token keeps working in the
next process; the server nonces (``DPoP-Nonce``) are kept per origin for this process only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["DPoPKey"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_bytes(value: int) -> bytes:
    return value.to_bytes(32, "big")


class DPoPKey:
    """An ES256 key pair for DPoP proofs, with the nonces servers asked for."""

    algorithm = "ES256"

    def __init__(self, private_pem: bytes | None = None) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        if private_pem is None:
            self._key: Any = ec.generate_private_key(ec.SECP256R1())
        else:
            key = load_pem_private_key(private_pem, password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise ValueError("the stored DPoP key is not an EC key")
            self._key = key
        numbers = self._key.public_key().public_numbers()
        self.jwk = {"kty": "EC", "crv": "P-256", "x": _b64(_int_bytes(numbers.x)), "y": _b64(_int_bytes(numbers.y))}
        self.nonces: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"DPoPKey(jkt={self.thumbprint()!r})"

    def private_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM, for the token store (which may encrypt it)."""
        from cryptography.hazmat.primitives import serialization

        data: bytes = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return data

    def thumbprint(self) -> str:
        """RFC 7638 JWK thumbprint (what a bound token's ``cnf.jkt`` holds)."""
        # RFC 7638 3: the required members, sorted, no whitespace.
        canonical = json.dumps({k: self.jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
        return _b64(hashlib.sha256(canonical.encode()).digest())

    def proof(self, method: str, url: str, *, access_token: str | None = None, nonce: str | None = None) -> str:
        """A fresh proof for ``method url`` (RFC 9449 4.2); with ``access_token``, its hash
        (``ath``); with the nonce last given by that URL's origin unless ``nonce`` is given."""
        import jwt

        parts = urlsplit(url)
        htu = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "htm": method.upper(),
            "htu": htu,
            "iat": int(time.time()),
        }
        chosen = nonce or self.nonces.get(_origin(url))
        if chosen:
            claims["nonce"] = chosen
        if access_token is not None:
            claims["ath"] = _b64(hashlib.sha256(access_token.encode("ascii")).digest())
        token: str = jwt.encode(
            claims, self._key, algorithm=self.algorithm, headers={"typ": "dpop+jwt", "jwk": self.jwk}
        )
        return token

    def remember_nonce(self, url: str, headers: Any) -> bool:
        """Keep the ``DPoP-Nonce`` a response carries; whether there was a new one."""
        nonce = headers.get("dpop-nonce")
        if not nonce:
            return False
        key = _origin(url)
        changed: bool = self.nonces.get(key) != nonce
        self.nonces[key] = str(nonce)
        return changed


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
