#!/usr/bin/env bash
# The built binary as a user runs it: --version, --help, a bad flag, and a start from another
# working directory on a free port (PORT=0), answering /healthz and the metadata; then the
# same with LOG_FORMAT=json, and an API base whose credentials must not reach the log.
set -euo pipefail
bin=$1
settings="$(cd "$(dirname "$0")/.." && pwd)/docs/configuration.md"
out=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$out"' EXIT
pid=
fail() { echo "smoke: $*" >&2; exit 1; }

"$bin" --version | grep -qx 'twilio-block [0-9.]*' || fail "--version"
# Into a file: grep -q would stop reading early, and the help's next write would die of SIGPIPE.
"$bin" --help >"$out/help"
grep -q 'UPSTREAM_TIMEOUT_MS' "$out/help" || fail "--help lists settings"
if "$bin" --port nope 2>"$out/err"; then fail "bad flag accepted"; fi
grep -q 'expected an integer' "$out/err" || fail "bad flag message"
documented=$(sed -n 's/^| `\([A-Z_]*\)` | `--.*/\1/p' "$settings")
[ "$(echo "$documented" | wc -w)" -ge 20 ] || fail "no settings table in $settings"
for v in $documented; do
    grep -q "^  --[a-z-]* *$v .*\[.*default [^]]*\]$" "$out/help" || fail "--help lacks $v with its default"
done
# ... and every setting of --help is documented, with the same default.
sed -n 's/^  --[a-z-]* *\([A-Z_][A-Z_]*\) .*default \([^]]*\)\]$/\1 \2/p' "$out/help" |
    while read -r v d; do
        row=$(grep "^| \`$v\` |" "$settings") || fail "$v is not in $settings"
        doc=$(awk -F'|' '{ print $4 }' <<<"$row" | tr -d ' `')
        [ "$doc" = "$d" ] || fail "$v: --help says default $d, $settings says $doc"
    done
grep -q 'LOG_FORMAT .*\[default text\]$' "$out/help" || fail "--help LOG_FORMAT"

cd /
: >"$out/log" # there before the loop reads it: the child opens it when it runs
PORT=0 BIND=127.0.0.1 "$bin" 2>>"$out/log" &
pid=$!
port=
for _ in $(seq 1 100); do
    port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$out/log")
    [ -n "$port" ] && break
    sleep 0.05
done
[ -n "$port" ] || fail "no start-up line: $(cat "$out/log")"
[ "$(curl -s "http://127.0.0.1:$port/healthz")" = '{"status":"ok"}' ] || fail "healthz"
curl -s -o "$out/metadata" "http://127.0.0.1:$port/api/twilio"
grep -q '"name":"sendSms"' "$out/metadata" || fail "metadata"
kill -TERM "$pid"
wait "$pid" || fail "exit status $? after SIGTERM"
pid=
grep -q 'stopping' "$out/log" || fail "no stop line"

: >"$out/json"
PORT=0 BIND=127.0.0.1 LOG_FORMAT=json TWILIO_API_BASE='http://127.0.0.1:9/?key=hunter2-pw' \
    "$bin" 2>>"$out/json" &
pid=$!
port=
for _ in $(seq 1 100); do
    port=$(sed -n 's/^{"time":"[^"]*","level":"info","msg":"twilio-block [0-9.]* listening on http:\/\/127.0.0.1:\([0-9]*\) .*/\1/p' "$out/json")
    [ -n "$port" ] && break
    sleep 0.05
done
[ -n "$port" ] || fail "no JSON start-up line: $(cat "$out/json")"
grep -q 'upstream http://127.0.0.1:9/"}$' "$out/json" || fail "start-up line names the upstream"
[ "$(curl -s -D "$out/headers" -H 'X-Request-Id: smoke-1' "http://127.0.0.1:$port/healthz")" = '{"status":"ok"}' ] || fail "healthz (json)"
grep -qx $'X-Request-Id: smoke-1\r' "$out/headers" || fail "X-Request-Id not returned"
kill -TERM "$pid"
wait "$pid" || fail "exit status $? after SIGTERM (json)"
pid=
grep -q '"request_id":"smoke-1","method":"GET","path":"/healthz","status":200' "$out/json" || fail "no JSON request line: $(cat "$out/json")"
grep -q '"level":"info","msg":"stopped"}$' "$out/json" || fail "no JSON stop line"
if grep -qv '^{"time":"[0-9T:.-]*Z","level":"[a-z]*",' "$out/json"; then fail "a line is not JSON: $(cat "$out/json")"; fi
if grep -q hunter2 "$out/json"; then fail "the base's credentials reached the log"; fi
echo "smoke: ok"
