"""A client process for the orphan tests: connects to the configured servers and waits.

client.py CONFIG READYFILE -- writes READYFILE once every server is connected, then sleeps until
it is killed. The tests SIGKILL it and look for what it started.
"""

import asyncio
import sys

import mcpconnect


async def main() -> None:
    async with mcpconnect.connect(sys.argv[1], health_interval=None, reconnect=False) as hub:
        states = {name: s.state.value for name, s in hub.servers.items()}
        with open(sys.argv[2], "w") as fh:
            fh.write(repr(states))
        await asyncio.sleep(3600)


asyncio.run(main())
