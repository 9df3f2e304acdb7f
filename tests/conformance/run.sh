#!/usr/bin/env bash
# Run the official MCP conformance harness's client scenarios against tests/conformance/client.py
# (authorization scenarios go to auth_client.py beside it), inside a loopback-only network namespace (the harness's servers
# listen on all interfaces; in the namespace nothing else can reach them, and they reach nothing).
#
#   bash tests/conformance/run.sh            every client scenario of the harness (its --suite all),
#                                            no expected failures, then the version-pinned runs below
#   bash tests/conformance/run.sh sse-retry  only the named ones from the list below
#
# Needs Node 22 and the harness from tests/node (bash tests/node/install.sh), and unshare(1):
# as root, or with unprivileged user namespaces (unshare -rn).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$here/../node/node_modules/.bin"
python="${PYTHON:-$(command -v python)}"

# scenario and the protocol version it runs at ("" = the harness's default for it)
scenarios=(
  "initialize|2025-11-25"
  "tools_call|2025-11-25"
  "tools_call|2026-07-28"
  "elicitation-sep1034-client-defaults|2025-11-25"
  "sse-retry|2025-11-25"
  "request-metadata|2026-07-28"
  "http-standard-headers|"
  "json-schema-ref-no-deref|"
  "http-custom-headers|"
  "http-invalid-tool-headers|"
  "json-schema-2020-12-preservation|"
  "sep-2322-client-request-state|"
  # the authorization scenarios (MCP authorization spec, DPoP, client credentials, jwt-bearer)
  "auth/metadata-default|"
  "auth/metadata-var1|"
  "auth/metadata-var2|"
  "auth/metadata-var3|"
  "auth/basic-cimd|"
  "auth/scope-from-www-authenticate|"
  "auth/scope-from-scopes-supported|"
  "auth/scope-omitted-when-undefined|"
  "auth/scope-step-up|"
  "auth/scope-retry-limit|"
  "auth/token-endpoint-auth-basic|"
  "auth/token-endpoint-auth-post|"
  "auth/token-endpoint-auth-none|"
  "auth/pre-registration|"
  "auth/2025-03-26-oauth-metadata-backcompat|"
  "auth/2025-03-26-oauth-endpoint-fallback|"
  "auth/resource-mismatch|"
  "auth/offline-access-scope|"
  "auth/offline-access-not-supported|"
  "auth/authorization-server-migration|"
  "auth/iss-supported|"
  "auth/iss-not-advertised|"
  "auth/iss-supported-missing|"
  "auth/iss-wrong-issuer|"
  "auth/iss-unexpected|"
  "auth/iss-normalized|"
  "auth/metadata-issuer-mismatch|"
  "auth/client-credentials-jwt|"
  "auth/client-credentials-basic|"
  "auth/enterprise-managed-authorization|"
  "auth/dpop|"
  "auth/dpop-nonce|"
  "auth/wif-jwt-bearer|"
)

[[ -x "$bin/node" && -e "$bin/conformance" ]] || {
  echo "error: the conformance harness is not installed; run: bash tests/node/install.sh" >&2
  exit 2
}
if unshare -n true 2>/dev/null; then
  netns=(unshare -n)
elif unshare -rn true 2>/dev/null; then
  netns=(unshare -rn)
else
  echo "error: cannot create a network namespace (unshare -n / -rn); run as root or enable user namespaces" >&2
  exit 2
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"  # the harness writes results/ into the working directory

failed=()
passed=()
if [[ $# -eq 0 ]]; then
  # Every client scenario the harness has (what --suite all runs), one after another: --suite all
  # runs them all at once, and on two cores sse-retry's reconnect-timing check then fails on load.
  # No expected failures: each must pass.
  mapfile -t all < <("$bin/node" "$bin/conformance" list --client | sed -n 's/^  - \([^ ]*\) \[.*$/\1/p')
  [[ ${#all[@]} -gt 0 ]] || { echo "error: 'conformance list --client' listed no scenario" >&2; exit 2; }
  echo "== all ${#all[@]} client scenarios of the harness"
  for name in "${all[@]}"; do
    # shellcheck disable=SC2016
    if "${netns[@]}" bash -c 'ip link set lo up && exec "$@"' netns "$bin/node" "$bin/conformance" \
        client --command "$python $here/client.py" --scenario "$name" > "$work/out.txt" 2>&1 \
        && grep -q "OVERALL: PASSED" "$work/out.txt"; then
      passed+=("$name")
    else
      failed+=("$name")
      cat "$work/out.txt"
    fi
  done
fi
for entry in "${scenarios[@]}"; do
  name="${entry%%|*}"
  version="${entry#*|}"
  if [[ $# -gt 0 && ! " $* " =~ " $name " ]]; then
    continue
  fi
  if [[ $# -eq 0 && -z "$version" ]]; then
    continue  # run above at its default version
  fi
  label="$name${version:+ @ $version}"
  echo "== $label"
  args=(client --command "$python $here/client.py" --scenario "$name")
  [[ -n "$version" ]] && args+=(--spec-version "$version")
  # shellcheck disable=SC2016
  if "${netns[@]}" bash -c 'ip link set lo up && exec "$@"' netns "$bin/node" "$bin/conformance" "${args[@]}" \
      > "$work/out.txt" 2>&1 && grep -q "OVERALL: PASSED" "$work/out.txt"; then
    passed+=("$label")
    grep -E "Passed: " "$work/out.txt" || true
  else
    failed+=("$label")
    cat "$work/out.txt"
  fi
done

echo
echo "conformance: ${#passed[@]} passed, ${#failed[@]} failed"
for label in "${passed[@]}"; do echo "  pass  $label"; done
for label in "${failed[@]}"; do echo "  FAIL  $label"; done
[[ ${#failed[@]} -eq 0 ]]
