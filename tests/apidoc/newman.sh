#!/usr/bin/env bash
# Runs the Postman collection that the binary ($1) generates with newman against the live
# service pointed at Prism (PRISM_URL; run through contract/run.sh, which starts it): every
# request must pass its tests, and every block must have run. Then the same collection against
# a service whose Twilio refuses connections must fail, so a pass above means something.
set -euo pipefail
bin=$1
here=$(cd "$(dirname "$0")/.." && pwd)
newman="$here/node_modules/.bin/newman"
: "${PRISM_URL:?run this through tests/contract/run.sh, which starts Prism}"
if [ ! -x "$newman" ]; then
    echo "newman: $newman is missing; run: (cd tests && npm ci)" >&2
    exit 1
fi
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "newman: $*" >&2; exit 1; }

# start NAME API_BASE: the service on a free port, its port in $port.
start() {
    : >"$work/$1.log" # there before the loop reads it: the child opens it when it runs
    PORT=0 BIND=127.0.0.1 TWILIO_API_BASE=$2 RETRY_MAX=0 "$bin" 2>>"$work/$1.log" &
    pids+=($!)
    port=
    for _ in $(seq 1 200); do
        port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/$1.log")
        [ -n "$port" ] && return 0
        kill -0 "${pids[-1]}" 2>/dev/null || break
        sleep 0.05
    done
    fail "the service did not start: $(cat "$work/$1.log")"
}

# stat FILE EXPR: a number from newman's JSON report, e.g. run.stats.requests.total.
stat() {
    node -e 'const r = require(process.argv[1]); console.log(eval("r." + process.argv[2]))' "$1" "$2"
}

"$bin" --postman >"$work/collection.json"
start mocked "$PRISM_URL"
blocks=$(curl -sf "http://127.0.0.1:$port/api/twilio" |
    node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => { const m = JSON.parse(s); console.log(m.blocks.length + (m.events || []).length) })')
[ "$blocks" -gt 0 ] || fail "no blocks in the metadata"

"$newman" run "$work/collection.json" --env-var "baseUrl=http://127.0.0.1:$port" --color off \
    --timeout-request 30000 --reporters cli,json --reporter-json-export "$work/pass.json" ||
    fail "a request failed its tests against Prism (service log: $(tail -n 20 "$work/mocked.log"))"
[ "$(stat "$work/pass.json" run.stats.requests.total)" = "$blocks" ] || fail "not one request per block and event"
[ "$(stat "$work/pass.json" run.stats.assertions.total)" = "$((blocks * 5))" ] || fail "not 5 tests per request"
[ "$(stat "$work/pass.json" run.stats.assertions.failed)" = 0 ] || fail "failed assertions"

# Twilio unreachable: every request of a block that calls Twilio answers INTERNAL_PACKAGE_ERROR,
# and only its callback test fails; handler blocks (answered by the service) and the campaign
# blocks (which send later, from the service's own senders) still pass.
local_blocks=$(node -e 'const fs = require("fs"), d = process.argv[1];
    console.log(fs.readdirSync(d).filter(f => f.endsWith(".json")).map(f =>
        JSON.parse(fs.readFileSync(d + "/" + f))).filter(b =>
        b.handler || (b.flow && b.flow.kind === "campaign")).length)' "$here/../blocks")
events=$(node -e 'console.log((require(process.argv[1]).events || []).length)' "$here/../metadata.json")
remote=$((blocks - local_blocks - events)) # an event (webhookEvent) is answered by the service too
start unreachable "http://127.0.0.1:1"
if "$newman" run "$work/collection.json" --env-var "baseUrl=http://127.0.0.1:$port" --color off \
    --reporters json --reporter-json-export "$work/fail.json" >/dev/null; then
    fail "the collection passed against a service that cannot reach Twilio"
fi
[ "$(stat "$work/fail.json" run.stats.assertions.failed)" = "$remote" ] ||
    fail "expected exactly the $remote callback tests to fail against an unreachable Twilio"
echo "newman: $blocks requests passed their $((blocks * 5)) tests against Prism; the $remote callback tests of blocks calling Twilio fail when it is unreachable"
