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

# shellcheck source=SCRIPTDIR/../support/ready.sh
. "$here/support/ready.sh"
for attempt in 1 2 3; do # a port taken first: the sandbox says it is in use, and starts again
    port=$(free_port)
    prism_port=$(free_port)
    [ "$port" != "$prism_port" ] || prism_port=$(free_port)
    PORT=$port PRISM_PORT=$prism_port BUILD_DIR=$(dirname "$bin") setsid bash "$here/sandbox.sh" \
        >"$work/sandbox.log" 2>&1 &
    pgid=$!
    rc=0
    wait_ready "$work/sandbox.log" "^sandbox: the service answers on" "$pgid" || rc=$?
    [ "$rc" = 0 ] && break
    [ "$rc" = 2 ] && fail "the service did not answer within 120 s"
    grep -qi "in use" "$work/sandbox.log" || fail "it exited before the service answered"
    [ "$attempt" = 3 ] && fail "a port was taken in each of 3 attempts"
    echo "sandbox: a port was taken (attempt $attempt); trying others" >&2
done
answer=$(curl -sS -X POST "http://127.0.0.1:$port/api/twilio/sendSms" -H 'Content-Type: application/json' \
    -d '{"accountSid": "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "accountToken": "your-auth-token",
         "from": "+15005550006", "to": "+14155552671", "body": "Hi"}')
case $answer in
    '{"callback":"success"'*) ;;
    *) fail "sendSms through the sandbox: $answer" ;;
esac
grep -q "listening on http://127.0.0.1:$port " "$work/sandbox.log" ||
    fail "the service does not listen on 127.0.0.1 only, as the README says (localhost)"
grep -q "^sandbox: the service answers on http://localhost:$port" "$work/sandbox.log" ||
    fail "it did not say where the service answers"

# Every documented block works in the sandbox: a Messaging Service's trigger (Messaging v1 on a
# mock of its own) and a poll that delivers the mock's items once (lists end).
call() {
    curl -sS -X POST "http://127.0.0.1:$port/api/twilio/$1" -H 'Content-Type: application/json' \
        -d "{\"accountSid\": \"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"accountToken\": \"your-auth-token\", $2}"
}
answer=$(call subscribeWebhook '"messagingServiceSid": "MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "event": "incomingMessage", "webhookUrl": "https://hooks.example.com/t", "replace": true')
case $answer in
    '{"callback":"success","contextWrites":{"to":{"messagingServiceSid":"MG'*'"changed":true'*) ;;
    *) fail "subscribeWebhook on a Messaging Service through the sandbox: $answer" ;;
esac
first=$(call pollMessages '"since": "2019-01-01"')
items=$(node -e 'const t=JSON.parse(process.argv[1]).contextWrites.to; console.log(t.items.length, t.more, t.cursor)' "$first")
set -- $items
[ "$1" -gt 0 ] && [ "$2" = false ] || fail "the first poll delivered nothing: $first"
next=$(call pollMessages "\"cursor\": \"$3\"")
case $next in
    '{"callback":"success","contextWrites":{"to":{"items":[],'*'"more":false}}}') ;;
    *) fail "the second poll: $next" ;;
esac

# A bulk send whose counts are the requests: two writings of one number are one message.
bulk=$(call sendBulkSms '"from": "+15005550006", "body": "Our store opens at 9.",
    "recipients": ["+14155552671", "+1 (415) 555-2671", "+14155552672"]')
counts=$(node -e 'const t=JSON.parse(process.argv[1]).contextWrites.to; console.log([t.total, t.messages, t.sent, t.failed, t.merged].join(" "))' "$bulk")
[ "$counts" = "3 2 2 0 1" ] || fail "sendBulkSms counts (total messages sent failed merged): $counts: $bulk"

# An incoming SMS through the relay: the TwiML to answer Twilio with, the payload, the listener.
relay=$(curl -sS -X POST "http://127.0.0.1:$port/api/twilio/webhookEvent" -H 'Content-Type: application/json' \
    -d '{"args": {"body": "To=%2B15005550006&From=%2B14155552671&Body=Hi&MessageSid=SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "params": [{"to": "+15005550006", "reply": "Got it"}], "headers": {}}}')
case $relay in
    '{"callback":"success","contextWrites":{"to":{"http_resp":"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>Got it</Message></Response>","client_msg":{"To":"+15005550006",'*) ;;
    *) fail "webhookEvent through the sandbox: $relay" ;;
esac

# A port in use: the service's own message, and no "answers on" line before it.
if SANDBOX_PORT=$port MOCK_PORT=$(free_port) BUILD_DIR=$(dirname "$bin") timeout 120 \
    bash "$here/sandbox.sh" >"$work/taken.log" 2>&1; then
    fail "a second sandbox on port $port started"
fi
grep -q "the port is in use" "$work/taken.log" || fail "no port-in-use message: $(cat "$work/taken.log")"
if grep -q "answers on" "$work/taken.log"; then fail "it said the service answers: $(cat "$work/taken.log")"; fi

# The processes of group $pgid still running (from /proc: no procps needed), one "pid name" a line.
group() {
    local stat
    for stat in /proc/[0-9]*/stat; do
        { read -r line <"$stat"; } 2>/dev/null || continue
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

echo "sandbox: calls succeeded through the mock (a Messaging Service trigger, a poll that delivers once, a bulk send counted in messages, an incoming SMS through webhookEvent), Ctrl-C stopped the service and the mock, a port in use is said before anything else"
