"""One damaged record in a store: that record is reported, every other one keeps working.

Each store's test corrupts one record the way that store can be damaged (a row edited by hand,
a truncated entry, flipped bytes) through the store's own medium, then calls :func:`check`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from mcpconnect.storage import TokenStore
from mcpconnect.storage._store import DamagedRecordError, token_key
from mcpconnect.tokens import Token

GOOD = [("github", "1"), ("acme", "2"), ("github", "3")]
BAD = ("github", "bad/one")  # a slash: the key escapes it, and the message must undo that


def flip(data: bytes) -> bytes:
    """``data`` with its last bytes altered (the tail is ciphertext or JSON, never the header)."""
    return data[:-4] + bytes(b ^ 0x5A for b in data[-4:])


async def fill(store: TokenStore) -> str:
    """Store the good tokens and the one to damage; the backend key of the latter."""
    for provider, account in [*GOOD, BAD]:
        await store.put(Token(provider=provider, account=account, access_token=f"at-{provider}-{account}-abcdefgh"))
    await store.put_registration("https://issuer.example", {"client_id": "c1"})
    await store.put_registration("https://damaged.example", {"client_id": "c2"})
    return token_key(*BAD)


async def check(store: TokenStore, corrupt: Callable[[str], Awaitable[None]]) -> None:
    """Fill ``store``, let ``corrupt(key)`` damage one token record, and check the others."""
    key = await fill(store)
    await corrupt(key)

    listed = await store.list()
    assert sorted((s.token.provider, s.token.account) for s in listed) == sorted(GOOD)
    assert [s.token.account for s in await store.list("acme")] == ["2"]
    assert [s.token.account for s in await store.list("github")] == ["1", "3"]

    tokens, damaged = await store.scan()
    assert len(tokens) == len(GOOD)
    assert [(d.provider, d.account) for d in damaged] == [BAD]
    message = damaged[0].message
    assert "mcpconnect logout github --account bad/one" in message
    assert store.backend.describe() in message
    assert "at-github" not in message  # never the token itself

    found = await store.get("acme", "2")
    assert found is not None and found.token.access_token.get_secret_value() == "at-acme-2-abcdefgh"
    with pytest.raises(DamagedRecordError) as info:
        await store.get(*BAD)
    assert "mcpconnect logout github" in str(info.value)

    # The damaged record is replaced by a new login, or deleted by logout.
    assert await store.delete_damaged(damaged[0])
    assert (await store.scan())[1] == []
    assert len(await store.list()) == len(GOOD)


async def check_registration(store: TokenStore, corrupt: Callable[[str], Awaitable[None]]) -> None:
    """A damaged client registration is skipped (the client registers again), others read."""
    await fill(store)
    await corrupt("https://damaged.example")
    assert await store.list_registrations() == {"https://issuer.example": {"client_id": "c1"}}
    assert await store.get_registration("https://damaged.example") is None
    assert await store.get_registration("https://issuer.example") == {"client_id": "c1"}
