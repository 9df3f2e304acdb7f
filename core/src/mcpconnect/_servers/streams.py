"""The transport's streams as a connection reads them: the end of the read stream reported as a
lost connection, and results normalised before the SDK sees them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio

__all__ = ["first_of", "watch_eof"]


@contextlib.asynccontextmanager
async def watch_eof(transport: Any, on_lost: Callable[[str], None]) -> AsyncIterator[tuple[Any, Any]]:
    """The transport's streams, its read stream watched: when it ends, the connection is lost.

    Transports that cannot tell (the SDK's SSE client) still get their owner to reconnect.
    """
    async with transport as (read_stream, write_stream):
        yield _EofWatch(read_stream, on_lost), write_stream


def _default_result_type(item: Any) -> None:
    """SEP-2322: a result without ``resultType`` is a complete one.

    mcp 2.3.0 rejects such a result on 2026-07-28 sessions instead of defaulting it (the
    conformance scenario ``sep-2322-client-request-state`` sends one); on earlier sessions the SDK
    drops the field again, as it belongs to a later revision.
    """
    from mcp_types.jsonrpc import JSONRPCResponse

    message = getattr(item, "message", None)
    if isinstance(message, JSONRPCResponse) and isinstance(message.result, dict):
        message.result.setdefault("resultType", "complete")


class _EofWatch:
    """A read stream that reports its end (the SDK's ``ReadStream`` protocol)."""

    def __init__(self, stream: Any, on_lost: Callable[[str], None]) -> None:
        self._stream = stream
        self._on_lost = on_lost

    @property
    def last_context(self) -> Any:
        return getattr(self._stream, "last_context", None)

    async def receive(self) -> Any:
        try:
            item = await self._stream.receive()
        except anyio.EndOfStream:
            self._on_lost("the server closed the connection")
            raise
        _default_result_type(item)
        return item

    def __aiter__(self) -> _EofWatch:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def __aenter__(self) -> _EofWatch:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def first_of(*waits: Callable[[], Awaitable[Any]]) -> None:
    """Until the first of ``waits`` returns; the others are cancelled."""
    async with anyio.create_task_group() as tg:

        async def one(wait: Callable[[], Awaitable[Any]]) -> None:
            await wait()
            tg.cancel_scope.cancel()

        for wait in waits:
            tg.start_soon(one, wait)
