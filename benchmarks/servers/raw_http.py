"""The floor for HTTP: a trivial JSON endpoint on 127.0.0.1 (uvicorn + starlette, as the SDK's servers)."""

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def echo(request: Request) -> JSONResponse:
    body = await request.json()
    return JSONResponse({"jsonrpc": "2.0", "id": body["id"], "result": body["params"]})


app = Starlette(routes=[Route("/rpc", echo, methods=["POST"])])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
