"""One process of the single-flight test: open the store, wait for "go" on stdin, then make sure
the token is fresh, refreshing it at most once across every process that shares the store.

The sequence is the one the OAuth engine follows: read; if expiring, take the refresh lock;
read again (another process may have refreshed meanwhile); only if still expiring, refresh at
the token endpoint and store the result with compare-and-swap. Prints one JSON line: a digest
of the final access token (never the token) and whether this process refreshed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
from datetime import UTC, datetime, timedelta


async def main() -> None:
    import httpx
    from pydantic import SecretStr

    from mcpconnect._config.model import StorageConfig
    from mcpconnect._plugins import PluginHost
    from mcpconnect.storage._factory import open_store

    parser = argparse.ArgumentParser()
    parser.add_argument("--storage", required=True)
    parser.add_argument("--provider", required=True)
    parser.add_argument("--account", required=True)
    parser.add_argument("--refresh-url", required=True)
    parser.add_argument("--client-id", help="sent with the refresh grant, for a real authorization server")
    args = parser.parse_args()

    store = open_store(StorageConfig.model_validate(json.loads(args.storage)), PluginHost())
    await store.get(args.provider, args.account)  # connect before the start line
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)

    refreshed = False
    current = await store.get(args.provider, args.account)
    assert current is not None, "the test seeds the token first"
    if current.token.is_expiring(timedelta(seconds=60)):
        async with store.refresh_lock(args.provider, args.account, lease=30, wait=60):
            again = await store.get(args.provider, args.account)
            assert again is not None
            if again.token.is_expiring(timedelta(seconds=60)):
                assert again.token.refresh_token is not None
                async with httpx.AsyncClient() as client:
                    answer = await client.post(
                        args.refresh_url,
                        data={
                            "grant_type": "refresh_token",
                            "refresh_token": again.token.refresh_token.get_secret_value(),
                            **({"client_id": args.client_id} if args.client_id else {}),
                        },
                    )
                    answer.raise_for_status()
                    body = answer.json()
                new = again.token.model_copy(
                    update={
                        "access_token": SecretStr(body["access_token"]),
                        "expires_at": datetime.now(UTC) + timedelta(seconds=int(body["expires_in"])),
                        "obtained_at": datetime.now(UTC),
                    }
                )
                await store.put(new, expected_version=again.version)
                refreshed = True
    final = await store.get(args.provider, args.account)
    assert final is not None
    await store.close()
    access = final.token.access_token.get_secret_value()
    print(
        json.dumps(
            {
                "access_sha256": hashlib.sha256(access.encode()).hexdigest(),
                "version": final.version,
                "refreshed": refreshed,
                "expired": final.token.is_expiring(),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    asyncio.run(main())
