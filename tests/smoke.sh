#!/usr/bin/env bash
# The built binary as a user runs it: --version, --help, a bad flag, and a start from another
# working directory on a free port (PORT=0), answering /healthz and the metadata.
set -euo pipefail
bin=$1
out=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$out"' EXIT
pid=
fail() { echo "smoke: $*" >&2; exit 1; }

"$bin" --version | grep -qx 'twilio-block [0-9.]*' || fail "--version"
"$bin" --help | grep -q 'UPSTREAM_TIMEOUT_MS' || fail "--help lists settings"
"$bin" --help | grep -q -- '--redis-url  *REDIS_URL  *share .*(default unset)' || fail "--help lists REDIS_URL"
if "$bin" --port nope 2>"$out/err"; then fail "bad flag accepted"; fi
grep -q 'expected an integer' "$out/err" || fail "bad flag message"

cd /
PORT=0 BIND=127.0.0.1 "$bin" 2>"$out/log" &
pid=$!
port=
for _ in $(seq 1 100); do
    port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$out/log")
    [ -n "$port" ] && break
    sleep 0.05
done
[ -n "$port" ] || fail "no start-up line: $(cat "$out/log")"
[ "$(curl -s "http://127.0.0.1:$port/healthz")" = '{"status":"ok"}' ] || fail "healthz"
curl -s "http://127.0.0.1:$port/api/twilio" | grep -q '"name":"sendSms"' || fail "metadata"
kill -TERM "$pid"
wait "$pid" || fail "exit status $? after SIGTERM"
pid=
grep -q 'stopping' "$out/log" || fail "no stop line"
echo "smoke: ok"
