#!/usr/bin/env bash
# The sandbox without Docker: builds the service if needed (into build/), installs the mock's
# packages if needed (npm ci in tests/), then runs the mock of Twilio (tests/contract/mock.js:
# Prism on Twilio's official specs, Messaging v1 on a Prism of its own, lists that end) and the
# service pointed at it, both in the foreground. Ctrl-C stops both.
#   bash tests/sandbox.sh            service on http://localhost:8080, mock on 127.0.0.1:4010
#   SANDBOX_PORT=9000 MOCK_PORT=4011 bash tests/sandbox.sh    (PORT and PRISM_PORT work too)
# Both listen on 127.0.0.1 only (BIND=0.0.0.0 opens the service to the network).
# Any well-formed credentials work (AC + 32 hex digits); nothing is sent to Twilio.
# Needs what the quick start installs, plus nodejs and npm.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
port=${SANDBOX_PORT:-${PORT:-8080}}
prism_port=${MOCK_PORT:-${PRISM_PORT:-4010}}
bind=${BIND:-127.0.0.1}
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
tail_pid=
stop() {
    trap - INT TERM EXIT
    [ -n "$service_pid" ] && kill "$service_pid" 2>/dev/null && wait "$service_pid" 2>/dev/null
    [ -n "$prism_pid" ] && kill "$prism_pid" 2>/dev/null && wait "$prism_pid" 2>/dev/null
    [ -n "$tail_pid" ] && sleep 0.3 && kill "$tail_pid" 2>/dev/null && wait "$tail_pid" 2>/dev/null
    rm -rf "$work"
}
trap stop EXIT
trap 'exit 130' INT TERM

node "$root/tests/contract/mock.js" --host 127.0.0.1 --port "$prism_port" >"$work/mock.log" 2>&1 &
prism_pid=$!
echo "sandbox: starting the mock of Twilio on http://127.0.0.1:$prism_port (Prism needs a few seconds)"
until grep -q "answer on" "$work/mock.log" 2>/dev/null; do
    if ! kill -0 "$prism_pid" 2>/dev/null; then
        cat "$work/mock.log" >&2
        echo "sandbox: the mock did not start (is port $prism_port in use? set MOCK_PORT)" >&2
        exit 1
    fi
    sleep 0.25
done

# The service's log on this terminal, followed from before the service starts to after it
# stopped (Ctrl-C leaves it running until then).
: >"$work/service.log"
(trap '' INT; exec tail -n +1 -s 0.1 -f --pid=$$ "$work/service.log" >&2) &
tail_pid=$!
PORT=$port BIND=$bind TWILIO_API_BASE="http://127.0.0.1:$prism_port" "$build/twilio-block" \
    2>>"$work/service.log" &
service_pid=$!
# Said once the service listens: a port in use stops it with its own message first.
until grep -q " listening on " "$work/service.log"; do
    if ! kill -0 "$service_pid" 2>/dev/null; then
        wait "$service_pid" || true
        service_pid=
        sleep 0.3 # the service's last line on the terminal first
        echo "sandbox: the service did not start (is port $port in use? set SANDBOX_PORT)" >&2
        exit 1
    fi
    sleep 0.1
done
echo "sandbox: the service answers on http://localhost:$port; Ctrl-C stops both"
wait "$service_pid"
