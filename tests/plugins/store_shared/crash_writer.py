"""A writer to be killed: stores the token ``acme/alice`` again and again, each time with the
next counter in its access token and a large payload (so a kill often lands mid-write), and
prints "ready" after its first write."""

from __future__ import annotations

import argparse
import asyncio
import json


async def main() -> None:
    from pydantic import SecretStr

    from mcpconnect._config.model import StorageConfig
    from mcpconnect._plugins import PluginHost
    from mcpconnect.storage._factory import open_store
    from mcpconnect.tokens import Token

    parser = argparse.ArgumentParser()
    parser.add_argument("--storage", required=True)
    parser.add_argument("--start", type=int, default=0)
    args = parser.parse_args()
    store = open_store(StorageConfig.model_validate(json.loads(args.storage)), PluginHost())
    n = args.start
    while True:
        n += 1
        token = Token(
            provider="acme",
            account="alice",
            access_token=SecretStr(f"access-{n:08d}-" + "y" * 16),
            extra={"payload": "z" * 200_000, "n": n},
        )
        await store.put(token)
        if n == args.start + 1:
            print("ready", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
