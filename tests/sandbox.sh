#!/usr/bin/env bash
# The sandbox without Docker: builds the service if needed (into build/), installs the mock's
# packages if needed (npm ci in tests/), then runs Prism on Twilio's official specs (the mock the
# contract tests use) and the service pointed at it, both in the foreground. Ctrl-C stops both.
#   bash tests/sandbox.sh            service on http://localhost:8080, mock on 127.0.0.1:4010
#   PORT=9000 PRISM_PORT=4011 bash tests/sandbox.sh
# Any well-formed credentials work (AC + 32 hex digits); nothing is sent to Twilio.
# Needs what the quick start installs, plus nodejs and npm.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
port=${PORT:-8080}
prism_port=${PRISM_PORT:-4010}
build=${BUILD_DIR:-$root/build}

if [ ! -x "$build/twilio-block" ]; then
    echo "sandbox: building into $build"
    cmake -S "$root" -B "$build" -DBUILD_TESTING=OFF >/dev/null
    cmake --build "$build" -j"$(nproc)" --target twilio-block
fi
if [ ! -x "$root/tests/node_modules/.bin/prism" ]; then
    echo "sandbox: installing the mock (npm ci in tests/)"
    (cd "$root/tests" && npm ci --ignore-scripts --no-audit --no-fund)
fi

work=$(mktemp -d)
prism_pid=
service_pid=
stop() {
    trap - INT TERM EXIT
    [ -n "$service_pid" ] && kill "$service_pid" 2>/dev/null && wait "$service_pid" 2>/dev/null
    [ -n "$prism_pid" ] && kill "$prism_pid" 2>/dev/null && wait "$prism_pid" 2>/dev/null
    rm -rf "$work"
}
trap stop EXIT
trap 'exit 130' INT TERM

node "$root/tests/contract/spec.js" "$work/twilio_mock.json"
"$root/tests/node_modules/.bin/prism" mock -h 127.0.0.1 -p "$prism_port" "$work/twilio_mock.json" \
    >"$work/prism.log" 2>&1 &
prism_pid=$!
echo "sandbox: starting the mock of Twilio on http://127.0.0.1:$prism_port (Prism needs a few seconds)"
for _ in $(seq 1 240); do
    curl -s -o /dev/null "http://127.0.0.1:$prism_port/" && break
    if ! kill -0 "$prism_pid" 2>/dev/null; then
        cat "$work/prism.log" >&2
        echo "sandbox: the mock did not start (is port $prism_port in use? set PRISM_PORT)" >&2
        exit 1
    fi
    sleep 0.25
done

PORT=$port TWILIO_API_BASE="http://127.0.0.1:$prism_port" "$build/twilio-block" &
service_pid=$!
echo "sandbox: the service answers on http://localhost:$port; Ctrl-C stops both"
wait "$service_pid"
