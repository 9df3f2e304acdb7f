"""Contract suites: subclass one in a plugin's tests and provide its fixture.

Example, for a storage backend::

    import pytest
    from mcpconnect.testing import StorageBackendContract

    class TestMyBackend(StorageBackendContract):
        @pytest.fixture
        async def backend(self, tmp_path):
            backend = MyBackend(path=tmp_path / "tokens")
            yield backend
            await backend.close()
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import SecretStr

from mcpconnect.errors import VersionConflict
from mcpconnect.storage._base import ANY_VERSION, StorageBackend
from mcpconnect.storage._store import TokenStore
from mcpconnect.tokens import Token

__all__ = ["StorageBackendContract"]


class StorageBackendContract:
    """What every :class:`~mcpconnect.storage.StorageBackend` must do.

    Provide a ``backend`` fixture yielding a fresh, empty backend. A backend that persists or
    shares its records also provides ``second_backend``: another instance over the same data
    (same file, same server and prefix), as another process would open it.
    """

    #: Whether the backend's lock honours its lease: a holder that hangs past it is taken over
    #: by the next waiter (every official store does). Set it to check that too.
    takes_over_expired_leases: bool = False

    @pytest.fixture
    async def backend(self) -> Any:  # pragma: no cover - subclasses provide it
        raise NotImplementedError("subclass StorageBackendContract and provide a 'backend' fixture")

    @pytest.fixture
    async def second_backend(self, backend: StorageBackend) -> Any:
        """Another instance over ``backend``'s data; ``None`` where records live in one instance."""
        return None

    async def test_missing_key_reads_none(self, backend: StorageBackend) -> None:
        assert await backend.get("token", "nobody") is None

    async def test_put_then_get_round_trips_bytes(self, backend: StorageBackend) -> None:
        data = bytes(range(256)) * 3
        version = await backend.put("token", "a/b", data)
        record = await backend.get("token", "a/b")
        assert record is not None
        assert record.data == data
        assert record.version == version == 1

    async def test_each_write_bumps_the_version(self, backend: StorageBackend) -> None:
        assert await backend.put("token", "k", b"1") == 1
        assert await backend.put("token", "k", b"2") == 2
        assert await backend.put("token", "k", b"3", expected_version=2) == 3
        record = await backend.get("token", "k")
        assert record is not None and record.data == b"3"

    async def test_stale_writer_loses(self, backend: StorageBackend) -> None:
        await backend.put("token", "k", b"first")
        await backend.put("token", "k", b"newer")
        with pytest.raises(VersionConflict):
            await backend.put("token", "k", b"stale", expected_version=1)
        record = await backend.get("token", "k")
        assert record is not None and record.data == b"newer"

    async def test_expected_version_zero_means_create_only(self, backend: StorageBackend) -> None:
        assert await backend.put("token", "k", b"x", expected_version=0) == 1
        with pytest.raises(VersionConflict):
            await backend.put("token", "k", b"y", expected_version=0)

    async def test_delete(self, backend: StorageBackend) -> None:
        await backend.put("token", "k", b"x")
        assert await backend.delete("token", "k") is True
        assert await backend.get("token", "k") is None
        assert await backend.delete("token", "k") is False

    async def test_delete_honours_expected_version(self, backend: StorageBackend) -> None:
        await backend.put("token", "k", b"x")
        await backend.put("token", "k", b"y")
        with pytest.raises(VersionConflict):
            await backend.delete("token", "k", expected_version=1)
        assert await backend.get("token", "k") is not None

    async def test_namespaces_are_separate(self, backend: StorageBackend) -> None:
        await backend.put("token", "same", b"t")
        await backend.put("registration", "same", b"r")
        tokens = await backend.list("token")
        regs = await backend.list("registration")
        assert {k: r.data for k, r in tokens.items()} == {"same": b"t"}
        assert {k: r.data for k, r in regs.items()} == {"same": b"r"}

    async def test_list_returns_every_key_with_versions(self, backend: StorageBackend) -> None:
        for i in range(5):
            await backend.put("token", f"p/{i}", str(i).encode())
        await backend.put("token", "p/0", b"again", expected_version=ANY_VERSION)
        listed = await backend.list("token")
        assert sorted(listed) == [f"p/{i}" for i in range(5)]
        assert listed["p/0"].version == 2 and listed["p/0"].data == b"again"

    async def test_lock_excludes_other_holders(self, backend: StorageBackend) -> None:
        inside = 0
        peak = 0

        async def worker() -> None:
            nonlocal inside, peak
            async with backend.lock("refresh:x", lease=10, wait=10):
                inside += 1
                peak = max(peak, inside)
                await asyncio.sleep(0.01)
                inside -= 1

        await asyncio.gather(*(worker() for _ in range(10)))
        assert peak == 1

    async def test_lock_fencing_tokens_increase(self, backend: StorageBackend) -> None:
        async with backend.lock("refresh:y", lease=10, wait=10) as first:
            pass
        async with backend.lock("refresh:y", lease=10, wait=10) as second:
            pass
        assert second.fencing_token > first.fencing_token

    async def test_lock_wait_times_out(self, backend: StorageBackend) -> None:
        async with backend.lock("refresh:z", lease=30, wait=5):
            with pytest.raises(TimeoutError):
                async with backend.lock("refresh:z", lease=30, wait=0.2):
                    pass  # pragma: no cover - must not be reached

    async def test_token_store_round_trip(self, backend: StorageBackend) -> None:
        store = TokenStore(backend)
        token = Token(provider="github", account="42", access_token=SecretStr("gho_" + "x" * 36), scopes=("repo",))
        version = await store.put(token)
        got = await store.get("github", "42")
        assert got is not None and got.version == version
        assert got.token.access_token.get_secret_value() == token.access_token.get_secret_value()
        assert [s.token.account for s in await store.list("github")] == ["42"]

    async def test_concurrent_compare_and_swap_loses_no_update(self, backend: StorageBackend) -> None:
        await backend.put("token", "counter", b"0")

        async def increment() -> None:
            while True:
                record = await backend.get("token", "counter")
                assert record is not None
                try:
                    await backend.put(
                        "token", "counter", str(int(record.data) + 1).encode(), expected_version=record.version
                    )
                    return
                except VersionConflict:
                    await asyncio.sleep(0)

        await asyncio.gather(*(increment() for _ in range(12)))
        record = await backend.get("token", "counter")
        assert record is not None
        assert (int(record.data), record.version) == (12, 13)

    async def test_expired_lease_is_taken_over(self, backend: StorageBackend) -> None:
        if not self.takes_over_expired_leases:
            pytest.skip(f"{backend.name}: the contract class does not claim lease take-over")
        # The first holder "hangs" past its lease: another may take the lock over.
        async with (
            backend.lock("refresh:lease", lease=0.2, wait=5) as hung,
            backend.lock("refresh:lease", lease=10, wait=5) as taker,
        ):
            assert taker.fencing_token > hung.fencing_token

    async def test_lock_is_free_again_after_release(self, backend: StorageBackend) -> None:
        async with backend.lock("refresh:again", lease=30, wait=1):
            pass
        async with backend.lock("refresh:again", lease=30, wait=0.5) as lease:
            assert lease.name == "refresh:again"

    async def test_a_second_instance_sees_records_and_versions(
        self, backend: StorageBackend, second_backend: StorageBackend | None
    ) -> None:
        if second_backend is None:
            pytest.skip(f"{backend.name}: records live in one instance only")
        await backend.put("token", "shared", b"one")
        await backend.put("registration", "https://issuer.example", b"reg")
        record = await second_backend.get("token", "shared")
        assert record is not None and (record.data, record.version) == (b"one", 1)
        assert await second_backend.put("token", "shared", b"two", expected_version=1) == 2
        with pytest.raises(VersionConflict):
            await backend.put("token", "shared", b"stale", expected_version=1)
        assert set(await second_backend.list("registration")) == {"https://issuer.example"}

    async def test_a_second_instance_waits_for_the_lock(
        self, backend: StorageBackend, second_backend: StorageBackend | None
    ) -> None:
        if second_backend is None:
            pytest.skip(f"{backend.name}: records live in one instance only")
        async with backend.lock("refresh:shared", lease=30, wait=1) as first:
            with pytest.raises(TimeoutError):
                async with second_backend.lock("refresh:shared", lease=30, wait=0.2):
                    pass  # pragma: no cover - must not be reached
        async with second_backend.lock("refresh:shared", lease=30, wait=1) as second:
            assert second.fencing_token > first.fencing_token
