#!/usr/bin/env bash
# Install the Node peers the tests run against (pinned in package-lock.json), once per lock change.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
stamp="$here/node_modules/.lock-sha256"
want="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$here/node_modules/.bin/node" ]]; then
  exit 0
fi
command -v npm >/dev/null || { echo "error: npm is needed for the test peers (install Node.js 20+)" >&2; exit 2; }
npm ci --prefix "$here" --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
