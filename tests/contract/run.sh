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
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
node "$here/contract/spec.js" "$work/twilio_mock.json"
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
if [ "${CONTRACT_MOCK:-}" = sandbox ]; then # the sandbox's mock (mock.js), as a user meets it
    node "$here/contract/mock.js" --host 127.0.0.1 --port "$port" >"$work/prism.log" 2>&1 &
else
    "$prism" mock -h 127.0.0.1 -p "$port" "$work/twilio_mock.json" >"$work/prism.log" 2>&1 &
fi
pid=$!
for _ in $(seq 1 240); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then break; fi
    if ! kill -0 "$pid" 2>/dev/null; then cat "$work/prism.log" >&2; exit 1; fi
    sleep 0.25
done
PRISM_URL="http://127.0.0.1:$port" "$@"
