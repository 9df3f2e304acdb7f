"""The floor for stdio: newline-delimited JSON echoed over a pipe, no MCP at all."""

import json
import sys

for line in sys.stdin:
    request = json.loads(line)
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": request["params"]}) + "\n")
    sys.stdout.flush()
