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
# shellcheck source=SCRIPTDIR/../support/ready.sh
. "$here/support/ready.sh"
ready='is listening on'
[ "${CONTRACT_MOCK:-}" = sandbox ] && ready="specs answer on"
for attempt in 1 2 3 4 5; do # a mock whose port was taken first starts again on another
    port=$(free_port)
    if [ "${CONTRACT_MOCK:-}" = sandbox ]; then # the sandbox's mock (mock.js), as a user meets it
        node "$here/contract/mock.js" --host 127.0.0.1 --port "$port" >"$work/prism.log" 2>&1 &
    else
        "$prism" mock -h 127.0.0.1 -p "$port" "$work/twilio_mock.json" >"$work/prism.log" 2>&1 &
    fi
    pid=$!
    rc=0
    wait_ready "$work/prism.log" "$ready" "$pid" || rc=$?
    [ "$rc" = 0 ] && break
    if [ "$rc" = 2 ] || [ "$attempt" = 5 ]; then
        cat "$work/prism.log" >&2
        echo "contract: the mock did not start (attempt $attempt of 5)" >&2
        exit 1
    fi
    wait "$pid" 2>/dev/null || true
    echo "contract: the mock could not start on port $port (attempt $attempt):" >&2
    tail -n 3 "$work/prism.log" >&2
done
PRISM_URL="http://127.0.0.1:$port" "$@"
