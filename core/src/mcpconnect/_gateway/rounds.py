"""Upstream questions asked of a 2026-07-28 client: multi-round-trip results (``input_required``).

A 2026-07-28 client cannot receive requests, so when an upstream asks something during a call
(sampling, elicitation, roots: a request on a handshake connection, or the ``input_requests`` of
the upstream's own ``input_required`` result, which the SDK's client hands to the same callbacks),
the gateway keeps the upstream call running in the background, answers the client's request with
an :class:`~mcp_types.InputRequiredResult` carrying the questions, and hands the answers of the
client's retry to the waiting upstream call. The ``requestState`` the client echoes names the held
call; the SDK's :class:`~mcp.server.request_state.RequestStateBoundary` seals it (bound to the
method, target, arguments and user of the first request).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import anyio.abc
import anyio.lowlevel
import mcp_types as types
from mcp.shared.exceptions import MCPError

__all__ = ["ROUND_WAIT", "HeldCall", "InputRounds"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Seconds a held call waits for the client's next round before it is given up.
ROUND_WAIT = 300.0


@dataclass
class _Question:
    request: Any  # an InputRequest (CreateMessageRequest, ElicitRequest, ListRootsRequest)
    answered: anyio.Event = field(default_factory=anyio.Event)
    answer: Any = None  # an InputResponse, or ErrorData


@dataclass
class HeldCall:
    """One upstream call kept running across a client's rounds."""

    id: str
    #: The client request now waiting on this call (the latest round): progress goes to it.
    ctx: Any
    #: Whatever this call is about, for the retry's check (method and target).
    what: tuple[str, str]
    unasked: dict[str, _Question] = field(default_factory=dict)
    asked: dict[str, _Question] = field(default_factory=dict)
    outcome: Any = None
    error: BaseException | None = None
    done: bool = False
    collected: anyio.Event = field(default_factory=anyio.Event)
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    _changed: anyio.Event = field(default_factory=anyio.Event)

    def _wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def ask(self, request: Any) -> Any:
        """Called by the upstream call: ``request`` asked of the client in the next round; its
        answer (an ``InputResponse``, or ``ErrorData`` when the client never answers)."""
        key = secrets.token_hex(8)
        question = _Question(request)
        self.unasked[key] = question
        self._wake()
        with anyio.move_on_after(ROUND_WAIT):
            await question.answered.wait()
            return question.answer
        return types.ErrorData(code=types.REQUEST_TIMEOUT, message="the gateway's client did not answer in time")


class InputRounds:
    """The calls held across rounds, by id (the sealed ``requestState``'s plain text)."""

    def __init__(self) -> None:
        self._calls: dict[str, HeldCall] = {}
        self._tg: anyio.abc.TaskGroup | None = None

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Own the held calls' tasks; runs until cancelled."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            task_status.started()
            await anyio.sleep_forever()

    async def start(
        self, ctx: Any, what: tuple[str, str], work: Callable[[HeldCall], Awaitable[T]]
    ) -> T | types.InputRequiredResult:
        """Run ``work(held)`` in the background; its result, or the first round of questions."""
        if self._tg is None:
            raise RuntimeError("the gateway's rounds are not running")
        held = HeldCall(secrets.token_urlsafe(16), ctx, what)
        self._calls[held.id] = held
        self._tg.start_soon(self._work, held, work)
        result: T | types.InputRequiredResult = await self._next(held)
        return result

    async def resume(self, ctx: Any, what: tuple[str, str], state: str, responses: types.InputResponses | None) -> Any:
        """A client's retry: its answers to the held call ``state``; the result or the next round."""
        held = self._calls.get(state)
        if held is None or held.what != what:
            raise MCPError(
                types.INVALID_PARAMS,
                "this request's input round is over (answered, expired or from another gateway); "
                "send the request again without requestState",
            )
        held.ctx = ctx
        for key, answer in (responses or {}).items():
            question = held.asked.pop(key, None)
            if question is not None:
                question.answer = answer
                question.answered.set()
        held.unasked.update(held.asked)  # not answered: asked again
        held.asked.clear()
        return await self._next(held)

    async def _work(self, held: HeldCall, work: Callable[[HeldCall], Awaitable[Any]]) -> None:
        with held.scope:
            try:
                held.outcome = await work(held)
            except Exception as exc:
                held.error = exc
        held.done = True
        held._wake()
        if held.scope.cancel_called:  # the client cancelled it: nobody comes back for it
            self._calls.pop(held.id, None)
            return
        with anyio.move_on_after(ROUND_WAIT):  # nobody came back for it: let it go
            await held.collected.wait()
        self._calls.pop(held.id, None)

    async def _next(self, held: HeldCall) -> Any:
        try:
            while True:
                if held.done:
                    held.collected.set()
                    self._calls.pop(held.id, None)
                    if held.error is not None:
                        raise held.error
                    return held.outcome
                if held.unasked:
                    for _ in range(3):  # questions asked together (the SDK dispatches them at once) go together
                        await anyio.lowlevel.checkpoint()
                    requests = {key: question.request for key, question in held.unasked.items()}
                    held.asked.update(held.unasked)
                    held.unasked.clear()
                    return types.InputRequiredResult(input_requests=requests, request_state=held.id)
                await held._changed.wait()
        except anyio.get_cancelled_exc_class():
            # The client cancelled (or went away) while waiting: the upstream call ends with it.
            held.scope.cancel()
            self._calls.pop(held.id, None)
            raise
