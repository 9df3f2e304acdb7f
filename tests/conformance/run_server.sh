#!/usr/bin/env bash
# Run the official MCP conformance harness's server scenarios against tests/conformance/server.py,
# first directly, then through `mcpconnect serve --transport http --no-prefix` with it as the only
# upstream. Every scenario that passes directly must pass through the gateway, except those listed
# in GATEWAY_EXCEPTIONS (each with its reason in docs/serve.md).
#
#   bash tests/conformance/run_server.sh
#
# Needs the harness from tests/node (bash tests/node/install.sh). Everything listens on 127.0.0.1.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$here/../node/node_modules/.bin"
python="${PYTHON:-$(command -v python)}"
mcpconnect="${MCPCONNECT:-$(dirname "$python")/mcpconnect}"

# None: the upstream is reached on the initialize handshake (protocol = "legacy" below), whose
# server-to-client requests (sampling, elicitation) the gateway passes to the harness.
GATEWAY_EXCEPTIONS=()

[[ -x "$bin/node" && -e "$bin/conformance" ]] || {
  echo "error: the conformance harness is not installed; run: bash tests/node/install.sh" >&2
  exit 2
}
free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 300); do
    if "$python" -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1)" "$1" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "error: nothing listens on 127.0.0.1:$1" >&2
  return 1
}

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

upstream_port="$(free_port)"
"$python" "$here/server.py" --port "$upstream_port" > "$work/upstream.log" 2>&1 &
pids+=($!)
wait_port "$upstream_port"

passing() {  # the scenarios that pass against $1, one per line
  "$bin/node" "$bin/conformance" server --url "$1" > "$work/out.txt" 2>&1 || true
  sed -n '/=== SUMMARY ===/,$p' "$work/out.txt" | sed -n 's/^✓ \([^:]*\):.*/\1/p' | sort
}

echo "== the conformance server directly"
passing "http://127.0.0.1:$upstream_port/mcp" > "$work/direct.txt"
sed -n '/=== SUMMARY ===/,$p' "$work/out.txt"

gateway_port="$(free_port)"
printf '[storage]\nbackend = "memory"\n[servers.conformance]\nurl = "http://127.0.0.1:%s/mcp"\ntransport = "streamable-http"\nprotocol = "legacy"\n' \
  "$upstream_port" > "$work/mcpconnect.toml"
"$mcpconnect" --config "$work/mcpconnect.toml" serve --transport http --port "$gateway_port" --no-prefix \
  > "$work/serve.log" 2>&1 &
pids+=($!)
wait_port "$gateway_port"

echo "== the same server through mcpconnect serve"
passing "http://127.0.0.1:$gateway_port/mcp" > "$work/gateway.txt"
sed -n '/=== SUMMARY ===/,$p' "$work/out.txt"

missing=()
while read -r name; do
  if ! grep -qx "$name" "$work/gateway.txt" && [[ ! " ${GATEWAY_EXCEPTIONS[*]} " =~ " $name " ]]; then
    missing+=("$name")
  fi
done < "$work/direct.txt"
echo
echo "conformance (server): $(wc -l < "$work/direct.txt") scenarios pass directly, $(wc -l < "$work/gateway.txt") through the gateway"
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "FAIL: passing directly but not through the gateway: ${missing[*]}"
  echo "--- serve's stderr"; tail -50 "$work/serve.log"
  exit 1
fi
echo "every scenario passing directly passes through the gateway${GATEWAY_EXCEPTIONS[*]:+ (exceptions: ${GATEWAY_EXCEPTIONS[*]})}"
