#!/usr/bin/env bash
# The README's sandbox command, as a user runs it: `bash tests/sandbox.sh` in its own process
# group on free ports, with the binary given ($1) already built. A block call through it must
# succeed against the mock; then Ctrl-C (SIGINT to the whole group, as a terminal sends it)
# must stop both the service and the mock.
set -euo pipefail
bin=$1
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pgid=
cleanup() {
    [ -n "$pgid" ] && kill -KILL -- "-$pgid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "sandbox: $*" >&2; cat "$work/sandbox.log" >&2 || true; exit 1; }

free_port() {
    node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
port=$(free_port)
prism_port=$(free_port)
[ "$port" != "$prism_port" ] || prism_port=$(free_port)

PORT=$port PRISM_PORT=$prism_port BUILD_DIR=$(dirname "$bin") setsid bash "$here/sandbox.sh" \
    >"$work/sandbox.log" 2>&1 &
pgid=$!
for _ in $(seq 1 480); do
    curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break
    kill -0 "$pgid" 2>/dev/null || fail "it exited before the service answered"
    sleep 0.25
done
answer=$(curl -sS -X POST "http://127.0.0.1:$port/api/twilio/sendSms" -H 'Content-Type: application/json' \
    -d '{"accountSid": "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "accountToken": "your-auth-token",
         "from": "+15005550006", "to": "+14155552671", "body": "Hi"}')
case $answer in
    '{"callback":"success"'*) ;;
    *) fail "sendSms through the sandbox: $answer" ;;
esac

# The processes of group $pgid still running (from /proc: no procps needed), one "pid name" a line.
group() {
    local stat
    for stat in /proc/[0-9]*/stat; do
        read -r line <"$stat" 2>/dev/null || continue
        rest=${line##*) }
        set -- $rest
        [ "$3" = "$pgid" ] && [ "$1" != Z ] && { line=${line%%) *}; echo "${line/ (/ }"; }
    done
    return 0
}
kill -INT -- "-$pgid"
for _ in $(seq 1 240); do
    [ -z "$(group)" ] && break
    sleep 0.25
done
if [ -n "$(group)" ]; then
    fail "Ctrl-C left these running: $(group)"
fi
pgid=
for p in "$port" "$prism_port"; do
    if curl -s -o /dev/null "http://127.0.0.1:$p/"; then fail "port $p still answers after Ctrl-C"; fi
done
echo "sandbox: a call succeeded through the mock, and Ctrl-C stopped the service and the mock"
