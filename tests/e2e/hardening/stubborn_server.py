"""A stdio MCP server that will not stop by itself: the orphan tests start it.

stubborn_server.py PIDFILE

It answers the MCP handshake and ``tools/list`` by hand (raw JSON-RPC lines), starts a child
process at once (a second Python that also ignores SIGTERM), writes ``SERVER_PID CHILD_PID`` to
PIDFILE, and then ignores end of file on stdin, SIGTERM, SIGINT and SIGHUP: only SIGKILL, or
someone killing its process group, ends it.
"""

import json
import os
import signal
import subprocess
import sys
import time

for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(sig, signal.SIG_IGN)

CHILD = (
    "import signal, time\n"
    "for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP): signal.signal(s, signal.SIG_IGN)\n"
    "time.sleep(600)\n"
)
child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
with open(sys.argv[1] + ".tmp", "w") as fh:
    fh.write(f"{os.getpid()} {child.pid}")
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
sys.stderr.write(
    f"stubborn: pid {os.getpid()}, child {child.pid}; SECRET_ECHO={os.environ.get('STUBBORN_SECRET', '')}\n"
)
sys.stderr.flush()


def answer(message: dict, result: dict) -> None:
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    try:
        message = json.loads(line)
    except ValueError:
        continue
    method = message.get("method")
    if "id" not in message:
        continue
    if method == "initialize":
        answer(
            message,
            {
                "protocolVersion": message["params"]["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "stubborn", "version": "1"},
            },
        )
    elif method == "tools/list":
        answer(message, {"tools": []})
    else:
        sys.stdout.write(
            json.dumps({"jsonrpc": "2.0", "id": message["id"], "error": {"code": -32601, "message": "no"}}) + "\n"
        )
        sys.stdout.flush()

# End of file on stdin: a well-behaved server exits here. This one stays.
while True:
    time.sleep(60)
