"""The token store: tokens and client registrations on top of any storage backend."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from mcpconnect.errors import StoreError, VersionConflict
from mcpconnect.storage._base import ANY_VERSION, LockLease, Record, StorageBackend
from mcpconnect.tokens import Token

__all__ = ["Cipher", "DamagedRecord", "DamagedRecordError", "StoredToken", "TokenStore", "user_principal"]

log = logging.getLogger("mcpconnect.storage")

TOKENS = "token"
REGISTRATIONS = "registration"
#: Upstream tokens of one user of a protected gateway (``per_user`` servers), apart from the shared
#: ones so that no listing, logout or lookup of shared tokens ever meets them.
USER_TOKENS = "user-token"
#: Short-lived records of a gateway's logins in progress (connect tickets, OAuth states), keyed by
#: the SHA-256 of their secret, so that any replica can finish what another began. Not walked by
#: migrate or rekey: each lives minutes, and one that cannot be read is simply a login to begin again.
FLOWS = "login-flow"
#: Every namespace a token store writes (what migrate and rekey walk).
NAMESPACES = (TOKENS, REGISTRATIONS, USER_TOKENS)


class Cipher(Protocol):
    """Encrypts what a store writes (encryption at rest); see :mod:`mcpconnect.storage._crypto`."""

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


def user_principal(user: str) -> str:
    """The store's name for a gateway user (``User.key``: issuer ``#`` sub): its SHA-256 in hex, so
    that backend keys and lock names carry no ``sub`` (often an e-mail address) in clear, and every
    user's name has the same shape whatever characters the issuer and ``sub`` hold."""
    if not user:
        raise ValueError("a per-user token needs a user (issuer#sub); an empty one would be shared")
    return hashlib.sha256(user.encode()).hexdigest()


def user_token_key(user: str, provider: str, account: str) -> str:
    """The backend key of ``user``'s token of ``account`` at ``provider`` (namespace ``user-token``)."""
    return f"{user_principal(user)}/{token_key(provider, account)}"


def _escape(part: str) -> str:
    return part.replace("%", "%25").replace("/", "%2F")


def _unescape(part: str) -> str:
    return part.replace("%2F", "/").replace("%25", "%")


def split_token_key(key: str) -> tuple[str, str]:
    """``(provider, account)`` of a backend key made by :func:`token_key`."""
    provider, _, account = key.partition("/")
    return _unescape(provider), _unescape(account)


class DamagedRecordError(StoreError):
    """One stored record cannot be read; every other record still can."""

    def __init__(self, damaged: DamagedRecord) -> None:
        self.damaged = damaged
        super().__init__(damaged.message)


@dataclass(frozen=True)
class DamagedRecord:
    """A record a store holds but cannot read, and what to do about it."""

    namespace: str
    key: str
    problem: str
    #: Where the store is (``describe()`` of the backend: a path, a URL without its password).
    store: str

    @property
    def provider(self) -> str:
        return split_token_key(self.key)[0] if self.namespace == TOKENS else ""

    @property
    def account(self) -> str:
        return split_token_key(self.key)[1] if self.namespace == TOKENS else ""

    @property
    def message(self) -> str:
        if self.namespace == USER_TOKENS:
            return (
                f"{self.store}: a gateway user's upstream token ({self.key}) is damaged ({self.problem}); "
                "it is ignored, and that user connects the upstream again"
            )
        if self.namespace == TOKENS:
            return (
                f"{self.store}: the token of {self.provider} account '{self.account}' is damaged ({self.problem}); "
                f"the other logins are unaffected: run 'mcpconnect logout {self.provider} --account {self.account}' "
                f"to delete it, then 'mcpconnect login {self.provider}'"
            )
        return (
            f"{self.store}: the client registration for {self.key} is damaged ({self.problem}); it is ignored, and "
            "the next login registers the client again"
        )

    def as_dict(self) -> dict[str, str]:
        return {
            "provider": self.provider,
            "account": self.account,
            "key": self.key,
            "problem": self.problem,
            "message": self.message,
        }


# Aliases: inside TokenStore, ``list`` is the method.
_Tokens = list[StoredToken]
_Damaged = list[DamagedRecord]
_Unreadable = list[tuple[str, StoreError]]


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
            from mcpconnect.storage._crypto import looks_encrypted

            if looks_encrypted(data):
                raise StoreError(
                    f"{self.backend.describe()}: '{what}' is encrypted but [storage] encryption is off; "
                    'set encryption = "on" with the key it was written with'
                )
            return data
        try:
            return self.cipher.decrypt(data)
        except StoreError as exc:
            raise type(exc)(f"{self.backend.describe()}: '{what}': {exc}") from None

    def _plaintext(self, record: Record, namespace: str, key: str) -> bytes:
        """The decrypted bytes of ``record``. A record that fails its integrity check is damaged
        (that record alone); a wrong key or encryption setting is the whole store's problem and
        stays a :class:`StoreError`: deleting records would not help there."""
        from mcpconnect.storage._crypto import RecordIntegrityError

        try:
            return self._open(record.data, key)
        except RecordIntegrityError:
            raise DamagedRecordError(self._damaged(namespace, key, "it failed its integrity check")) from None

    def _damaged(self, namespace: str, key: str, problem: str) -> DamagedRecord:
        return DamagedRecord(namespace, key, problem, self.backend.describe())

    def _decode_token(self, record: Record, key: str, namespace: str = TOKENS) -> Token:
        """The token of ``record``; :class:`DamagedRecordError` for this record alone when it
        cannot be read (damaged, encrypted with another key, written by a newer mcpconnect)."""
        if record.problem:
            raise DamagedRecordError(self._damaged(namespace, key, record.problem))
        plain = self._plaintext(record, namespace, key)
        try:
            return Token.from_json(plain)
        except Exception as exc:
            raise DamagedRecordError(
                self._damaged(namespace, key, f"{type(exc).__name__}; damaged, or written by a newer mcpconnect")
            ) from None

    # -- tokens ---------------------------------------------------------------------------------

    async def get(self, provider: str, account: str) -> StoredToken | None:
        """The token of ``account`` at ``provider``, or ``None``."""
        key = token_key(provider, account)
        record = await self.backend.get(TOKENS, key)
        if record is None:
            return None
        try:
            return StoredToken(self._decode_token(record, key), record.version)
        except DamagedRecordError:
            raise
        except StoreError as exc:
            raise StoreError(
                f"{exc}; if other logins still work, this record alone is damaged: run "
                f"'mcpconnect logout {provider} --account {account}' and log in again"
            ) from None

    async def put(self, token: Token, *, expected_version: int = ANY_VERSION) -> int:
        """Store ``token``; with ``expected_version``, only if nobody stored a newer one."""
        key = token_key(token.provider, token.account)
        return await self.backend.put(TOKENS, key, self._seal(token.to_json()), expected_version=expected_version)

    async def delete(self, provider: str, account: str, *, expected_version: int = ANY_VERSION) -> bool:
        """Delete a token; ``False`` when there was none."""
        key = token_key(provider, account)
        return await self.backend.delete(TOKENS, key, expected_version=expected_version)

    async def list(self, provider: str | None = None) -> list[StoredToken]:
        """Every readable stored token (of ``provider``), sorted by provider and account.

        A damaged record is left out and logged as a warning saying what to do; :meth:`scan`
        returns those too.
        """
        tokens, damaged = await self.scan(provider)
        for found in damaged:
            log.warning("%s", found.message)
        return tokens

    async def scan(self, provider: str | None = None) -> tuple[_Tokens, _Damaged]:
        """The readable tokens (of ``provider``) and the records that cannot be read.

        Only the records of ``provider`` are decoded: another provider's damaged record cannot
        affect it.
        """
        records = await self.backend.list(TOKENS)
        out: _Tokens = []
        damaged: _Damaged = []
        unreadable: _Unreadable = []
        for key, record in records.items():
            if provider is not None and split_token_key(key)[0] != provider:
                continue
            try:
                token = self._decode_token(record, key)
            except DamagedRecordError as exc:
                damaged.append(exc.damaged)
                continue
            except StoreError as exc:  # the key or the encryption setting does not fit this record
                unreadable.append((key, exc))
                continue
            if provider is None or token.provider == provider:
                out.append(StoredToken(token, record.version))
        if unreadable and not out and not damaged:
            # Not one record fits: the key or the setting is wrong for the whole store, and
            # deleting records would not help. Say so once.
            raise unreadable[0][1]
        prefix = f"{self.backend.describe()}: "
        for key, error in unreadable:  # the others read: these records alone are wrong
            problem = str(error).removeprefix(prefix).removeprefix(f"'{key}': ")
            damaged.append(self._damaged(TOKENS, key, problem))
        out.sort(key=lambda s: (s.token.provider, s.token.account))
        damaged.sort(key=lambda d: d.key)
        return out, damaged

    def refresh_lock(
        self, provider: str, account: str, *, lease: float = 30.0, wait: float = 60.0
    ) -> AbstractAsyncContextManager[LockLease]:
        """The lock one refresher holds while the others wait, then read its result."""
        return self.backend.lock(f"refresh:{token_key(provider, account)}", lease=lease, wait=wait)

    # -- per-user tokens (a protected gateway's per_user servers) ------------------------------------
    #
    # Keyed by (user, provider, account) in their own namespace: a lookup for one user never falls
    # back to the shared token or to another user's, and the refresh lock is the user's own.

    async def get_for_user(self, user: str, provider: str, account: str) -> StoredToken | None:
        """``user``'s token of ``account`` at ``provider``, or ``None`` (never anyone else's)."""
        key = user_token_key(user, provider, account)
        record = await self.backend.get(USER_TOKENS, key)
        if record is None:
            return None
        token = self._decode_token(record, key, USER_TOKENS)
        if (token.provider, token.account) != (provider, account):
            # The record's own names disagree with its key: never hand it out.
            raise DamagedRecordError(self._damaged(USER_TOKENS, key, "its provider or account does not match its key"))
        return StoredToken(token, record.version)

    async def put_for_user(self, user: str, token: Token, *, expected_version: int = ANY_VERSION) -> int:
        """Store ``token`` as ``user``'s; with ``expected_version``, only if nobody stored a newer one."""
        key = user_token_key(user, token.provider, token.account)
        data = self._seal(token.to_json())
        return await self.backend.put(USER_TOKENS, key, data, expected_version=expected_version)

    async def delete_for_user(
        self, user: str, provider: str, account: str, *, expected_version: int = ANY_VERSION
    ) -> bool:
        """Delete ``user``'s token; ``False`` when there was none."""
        key = user_token_key(user, provider, account)
        return await self.backend.delete(USER_TOKENS, key, expected_version=expected_version)

    async def list_for_user(self, user: str) -> _Tokens:
        """Every readable token of ``user`` (a damaged one is logged and left out)."""
        prefix = user_principal(user) + "/"
        out: list[StoredToken] = []
        for key, record in (await self.backend.list(USER_TOKENS)).items():
            if not key.startswith(prefix):
                continue
            try:
                token = self._decode_token(record, key, USER_TOKENS)
            except StoreError as exc:
                log.warning("%s", exc)
                continue
            if split_token_key(key.removeprefix(prefix)) == (token.provider, token.account):
                out.append(StoredToken(token, record.version))
        out.sort(key=lambda s: (s.token.provider, s.token.account))
        return out

    async def count_users(self, provider: str) -> int:
        """How many gateway users have a stored login at ``provider``: read from the keys alone
        (nothing is decrypted, no user is named)."""
        users = set()
        for key in await self.backend.list(USER_TOKENS):
            principal, _, rest = key.partition("/")
            try:
                if split_token_key(rest)[0] == provider:
                    users.add(principal)
            except ValueError:
                continue
        return len(users)

    def refresh_lock_for_user(
        self, user: str, provider: str, account: str, *, lease: float = 30.0, wait: float = 60.0
    ) -> AbstractAsyncContextManager[LockLease]:
        """The lock one refresher of ``user``'s token holds; other users never wait on it."""
        return self.backend.lock(f"refresh-user:{user_token_key(user, provider, account)}", lease=lease, wait=wait)

    # -- client registrations (per issuer) ------------------------------------------------------

    async def get_registration(self, issuer: str) -> dict[str, Any] | None:
        """The client registration stored for the authorization server ``issuer``; ``None`` when
        there is none, or when it is damaged (logged: the client then registers again)."""
        record = await self.backend.get(REGISTRATIONS, issuer)
        if record is None:
            return None
        try:
            return self._decode_registration(record, issuer)
        except DamagedRecordError as exc:
            log.warning("%s", exc.damaged.message)
            return None

    def _decode_registration(self, record: Record, issuer: str) -> dict[str, Any]:
        if record.problem:
            raise DamagedRecordError(self._damaged(REGISTRATIONS, issuer, record.problem))
        plain = self._plaintext(record, REGISTRATIONS, issuer)
        try:
            value = json.loads(plain)
        except Exception as exc:
            raise DamagedRecordError(self._damaged(REGISTRATIONS, issuer, type(exc).__name__)) from None
        if not isinstance(value, dict):
            raise DamagedRecordError(self._damaged(REGISTRATIONS, issuer, "not a JSON object"))
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
        """Every readable stored registration, by issuer; a damaged one is logged and left out."""
        records = await self.backend.list(REGISTRATIONS)
        out: dict[str, dict[str, Any]] = {}
        for issuer, record in records.items():
            try:
                out[issuer] = self._decode_registration(record, issuer)
            except DamagedRecordError as exc:
                log.warning("%s", exc.damaged.message)
        return out

    # -- logins in progress (a gateway's /connect): one use, with an expiry -----------------------

    @staticmethod
    def _flow_key(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    async def put_flow(self, secret: str, data: dict[str, Any], *, expires_at: float) -> None:
        """Keep ``data`` under ``secret`` (a ticket, an OAuth ``state``) until ``expires_at``
        (epoch seconds) or until :meth:`take_flow` takes it. The key is the secret's SHA-256: the
        store's keys do not hold it; the record is sealed like a token when encryption is on."""
        body = json.dumps({"expires_at": expires_at, "data": data}, sort_keys=True).encode()
        await self.backend.put(FLOWS, self._flow_key(secret), self._seal(body), expected_version=0)

    async def take_flow(self, secret: str, *, now: float | None = None) -> dict[str, Any] | None:
        """The record kept under ``secret``, removed as it is read: of two processes taking it at
        once, one gets it (compare-and-swap delete). ``None`` when there is none, it expired, or
        it cannot be read."""
        import time

        key = self._flow_key(secret)
        record = await self.backend.get(FLOWS, key)
        if record is None:
            return None
        try:
            if not await self.backend.delete(FLOWS, key, expected_version=record.version):
                return None
        except VersionConflict:
            return None  # taken by someone else meanwhile
        try:
            body = json.loads(self._open(record.data, "a login in progress"))
        except Exception as exc:  # damaged or unreadable: the login begins again
            what = type(exc).__name__
            log.warning(
                "%s: a login in progress could not be read (%s); it must begin again", self.backend.describe(), what
            )
            return None
        if not isinstance(body, dict) or float(body.get("expires_at", 0)) < (time.time() if now is None else now):
            return None
        data = body.get("data")
        return data if isinstance(data, dict) else None

    async def sweep_flows(self, *, now: float | None = None) -> int:
        """Delete the expired (or unreadable) logins in progress; how many went."""
        import time

        now = time.time() if now is None else now
        gone = 0
        for key, record in (await self.backend.list(FLOWS)).items():
            try:
                expires = float(json.loads(self._open(record.data, "a login in progress"))["expires_at"])
            except Exception:
                expires = 0.0
            if expires < now:
                with contextlib.suppress(VersionConflict):
                    gone += await self.backend.delete(FLOWS, key, expected_version=record.version)
        return gone

    async def delete_damaged(self, damaged: DamagedRecord) -> bool:
        """Delete a record that cannot be read (what ``mcpconnect logout`` does with one)."""
        return await self.backend.delete(damaged.namespace, damaged.key)

    async def close(self) -> None:
        await self.backend.close()
