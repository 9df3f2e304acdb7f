"""The token store: tokens and client registrations on top of any storage backend."""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from mcpconnect.errors import StoreError
from mcpconnect.storage.base import ANY_VERSION, LockLease, StorageBackend
from mcpconnect.tokens import Token

__all__ = ["Cipher", "StoredToken", "TokenStore"]

TOKENS = "token"
REGISTRATIONS = "registration"
#: Every namespace a token store writes (what migrate and rekey walk).
NAMESPACES = (TOKENS, REGISTRATIONS)


class Cipher(Protocol):
    """Encrypts what a store writes (encryption at rest); see :mod:`mcpconnect.storage.crypto`."""

    def encrypt(self, data: bytes) -> bytes: ...

    def decrypt(self, data: bytes) -> bytes: ...


@dataclass(frozen=True)
class StoredToken:
    """A token as read from a store, with the version to pass back for compare-and-swap."""

    token: Token
    version: int


def token_key(provider: str, account: str) -> str:
    """The backend key of a token. ``/`` is escaped so any account id round-trips."""
    return f"{_escape(provider)}/{_escape(account)}"


def _escape(part: str) -> str:
    return part.replace("%", "%25").replace("/", "%2F")


class TokenStore:
    """Tokens by provider and account, and client registrations by issuer, in one backend."""

    def __init__(self, backend: StorageBackend, *, cipher: Cipher | None = None) -> None:
        self.backend = backend
        self.cipher = cipher

    def __repr__(self) -> str:
        return f"TokenStore({self.backend.describe()!r}, encrypted={self.cipher is not None})"

    def _seal(self, data: bytes) -> bytes:
        return self.cipher.encrypt(data) if self.cipher else data

    def _open(self, data: bytes, what: str) -> bytes:
        if self.cipher is None:
            from mcpconnect.storage.crypto import looks_encrypted

            if looks_encrypted(data):
                raise StoreError(
                    f"{self.backend.describe()}: '{what}' is encrypted but [storage] encryption is off; "
                    'set encryption = "on" with the key it was written with'
                )
            return data
        try:
            return self.cipher.decrypt(data)
        except StoreError as exc:
            raise StoreError(f"{self.backend.describe()}: '{what}': {exc}") from None

    def _decode_token(self, data: bytes, key: str) -> Token:
        try:
            return Token.from_json(self._open(data, key))
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(
                f"{self.backend.describe()}: the token '{key}' cannot be read ({type(exc).__name__}); "
                "it may be damaged or written by a newer mcpconnect: run 'mcpconnect login' again"
            ) from None

    # -- tokens ---------------------------------------------------------------------------------

    async def get(self, provider: str, account: str) -> StoredToken | None:
        """The token of ``account`` at ``provider``, or ``None``."""
        key = token_key(provider, account)
        record = await self.backend.get(TOKENS, key)
        if record is None:
            return None
        return StoredToken(self._decode_token(record.data, key), record.version)

    async def put(self, token: Token, *, expected_version: int = ANY_VERSION) -> int:
        """Store ``token``; with ``expected_version``, only if nobody stored a newer one."""
        key = token_key(token.provider, token.account)
        return await self.backend.put(TOKENS, key, self._seal(token.to_json()), expected_version=expected_version)

    async def delete(self, provider: str, account: str, *, expected_version: int = ANY_VERSION) -> bool:
        """Delete a token; ``False`` when there was none."""
        key = token_key(provider, account)
        return await self.backend.delete(TOKENS, key, expected_version=expected_version)

    async def list(self, provider: str | None = None) -> list[StoredToken]:
        """Every stored token (of ``provider``), sorted by provider and account."""
        records = await self.backend.list(TOKENS)
        out = [StoredToken(self._decode_token(r.data, k), r.version) for k, r in records.items()]
        out = [s for s in out if provider is None or s.token.provider == provider]
        return sorted(out, key=lambda s: (s.token.provider, s.token.account))

    def refresh_lock(
        self, provider: str, account: str, *, lease: float = 30.0, wait: float = 60.0
    ) -> AbstractAsyncContextManager[LockLease]:
        """The lock one refresher holds while the others wait, then read its result."""
        return self.backend.lock(f"refresh:{token_key(provider, account)}", lease=lease, wait=wait)

    # -- client registrations (per issuer) ------------------------------------------------------

    async def get_registration(self, issuer: str) -> dict[str, Any] | None:
        """The client registration stored for the authorization server ``issuer``."""
        record = await self.backend.get(REGISTRATIONS, issuer)
        if record is None:
            return None
        try:
            value: dict[str, Any] = json.loads(self._open(record.data, issuer))
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(
                f"{self.backend.describe()}: the client registration for {issuer} cannot be read "
                f"({type(exc).__name__}); delete it with 'mcpconnect logout' and log in again"
            ) from None
        return value

    async def put_registration(
        self, issuer: str, registration: dict[str, Any], *, expected_version: int = ANY_VERSION
    ) -> int:
        """Store the client registration for ``issuer``."""
        data = self._seal(json.dumps(registration, sort_keys=True).encode())
        return await self.backend.put(REGISTRATIONS, issuer, data, expected_version=expected_version)

    async def delete_registration(self, issuer: str) -> bool:
        """Forget the client registration for ``issuer``."""
        return await self.backend.delete(REGISTRATIONS, issuer)

    async def list_registrations(self) -> dict[str, dict[str, Any]]:
        """Every stored registration, by issuer."""
        records = await self.backend.list(REGISTRATIONS)
        return {issuer: json.loads(self._open(r.data, issuer)) for issuer, r in records.items()}

    async def close(self) -> None:
        await self.backend.close()
