#!/usr/bin/env bash
# Starts Prism on Twilio's official specs (merged by contract/spec.js: 2010-04-01, Verify,
# Lookup, Conversations; or the specs named in CONTRACT_SPECS) on a free loopback port, runs the command given (the contract test
# binary, or apidoc/newman.sh) against it with PRISM_URL set, and stops Prism. CONTRACT_MOCK=sandbox
# starts the sandbox's mock instead (contract/mock.js: Messaging v1 beside them, lists that end).
# Needs `npm ci` in tests/.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
prism="$here/node_modules/.bin/prism"
if [ ! -x "$prism" ]; then
    echo "contract: $prism is missing; run: (cd tests && npm ci)" >&2
    exit 1
fi
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }; rm -rf "$work"' EXIT
node "$here/contract/spec.js" "$work/twilio_mock.json"
# The port is free when picked, not when the mock binds it: another test may take it first.
# The mock then exits and is started again on another port. Ready is its "listening" line, not
# an answer on the port, which could be the other test's.
ready='is listening on'
[ "${CONTRACT_MOCK:-}" = sandbox ] && ready="specs answer on"
for attempt in 1 2 3 4 5; do
    port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
    if [ "${CONTRACT_MOCK:-}" = sandbox ]; then # the sandbox's mock (mock.js), as a user meets it
        node "$here/contract/mock.js" --host 127.0.0.1 --port "$port" >"$work/prism.log" 2>&1 &
    else
        "$prism" mock -h 127.0.0.1 -p "$port" "$work/twilio_mock.json" >"$work/prism.log" 2>&1 &
    fi
    pid=$!
    for _ in $(seq 1 480); do
        grep -q "$ready" "$work/prism.log" && break 2
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
        cat "$work/prism.log" >&2
        echo "contract: the mock did not start within 120 s" >&2
        exit 1
    fi
    wait "$pid" 2>/dev/null || true
    echo "contract: the mock could not start on port $port (attempt $attempt):" >&2
    tail -n 3 "$work/prism.log" >&2
done
grep -q "$ready" "$work/prism.log" || { echo "contract: the mock did not start on any of 5 ports" >&2; exit 1; }
PRISM_URL="http://127.0.0.1:$port" "$@"
