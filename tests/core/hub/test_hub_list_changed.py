"""notifications/tools/list_changed right after connecting (server-everything does it): the tool
list is fetched again, and the status never loses its tool count."""

from __future__ import annotations

import anyio

import mcpconnect


async def test_list_changed_after_connecting_refetches_the_tools(hub_env, helpers) -> None:
    seen: list[int | None] = []
    async with mcpconnect.connect({"servers": {"lc": helpers.stdio("list-changed")}}, cache=False) as hub:
        assert hub.servers["lc"].tools == 1
        with anyio.fail_after(20):  # a bound for a stuck refetch, not a speed check
            while hub.servers["lc"].tools != 2:
                seen.append(hub.servers["lc"].tools)
                await anyio.sleep(0.05)
        assert None not in seen  # the count was never dropped while the new list was on its way
        assert [t.name for t in await hub.list_tools("lc")] == ["first", "second"]
