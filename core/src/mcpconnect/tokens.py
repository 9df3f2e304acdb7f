"""The token model: what a login yields, with absolute times and redacted secrets."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, SerializationInfo, field_serializer

__all__ = ["Token", "redact"]


def redact(secret: str | SecretStr | None) -> str:
    """How a secret may be shown at most: its first 4 and last 4 characters, ``gho_…a1f3``.

    Short secrets are shown as ``…`` only, so that nothing guessable leaks.
    """
    if secret is None:
        return "-"
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if len(value) < 16:
        return "…"
    return f"{value[:4]}…{value[-4:]}"


_REVEAL = "mcpconnect.reveal_secrets"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Token(BaseModel):
    """An OAuth (or API) token for one account at one provider.

    Expiry times are absolute UTC datetimes, never "expires in" seconds, so a token read back
    after a restart is judged correctly. Secret fields are :class:`pydantic.SecretStr`: their
    repr, ``str`` and default serialization are redacted; :meth:`to_json` is the only way to
    get them out, for a store.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str
    account: str
    access_token: SecretStr
    token_type: str = "Bearer"
    expires_at: datetime | None = None
    refresh_token: SecretStr | None = None
    refresh_expires_at: datetime | None = None
    scopes: tuple[str, ...] = ()
    issuer: str | None = None
    resource: str | None = None
    id_token: SecretStr | None = None
    account_name: str | None = None
    obtained_at: datetime = Field(default_factory=_utcnow)
    needs_login: bool = False
    extra: dict[str, Any] = Field(default_factory=dict)

    def expires_in(self, now: datetime | None = None) -> timedelta | None:
        """Time left before the access token expires, or ``None`` if it does not expire."""
        if self.expires_at is None:
            return None
        return self.expires_at - (now or _utcnow())

    def is_expiring(self, margin: timedelta = timedelta(0), now: datetime | None = None) -> bool:
        """Whether the access token expires within ``margin`` (an expired token is expiring)."""
        left = self.expires_in(now)
        return left is not None and left <= margin

    @property
    def refreshable(self) -> bool:
        """Whether a refresh token is held and not known to be expired."""
        if self.refresh_token is None:
            return False
        return self.refresh_expires_at is None or self.refresh_expires_at > _utcnow()

    @field_serializer("access_token", "refresh_token", "id_token")
    def _serialize_secret(self, value: SecretStr | None, info: SerializationInfo) -> str | None:
        # Only to_json() passes this context; every other dump stays redacted.
        if value is None:
            return None
        if info.context and info.context.get(_REVEAL):
            return value.get_secret_value()
        return str(value)

    def to_json(self) -> bytes:
        """The token with its secrets, as JSON bytes, for a store to keep. Never log this."""
        return self.model_dump_json(context={_REVEAL: True}).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Token:
        """Read back what :meth:`to_json` wrote."""
        return cls.model_validate(json.loads(data))

    def summary(self) -> dict[str, Any]:
        """A view without secrets, for CLI tables and JSON output."""
        left = self.expires_in()
        return {
            "provider": self.provider,
            "account": self.account,
            "account_name": self.account_name,
            "scopes": list(self.scopes),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "expires_in_seconds": None if left is None else int(left.total_seconds()),
            "refreshable": self.refreshable,
            "state": "needs login" if self.needs_login else ("expired" if self.is_expiring() else "valid"),
            "access_token": redact(self.access_token),
        }
