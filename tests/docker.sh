#!/usr/bin/env bash
# The Docker images, built and run: starts a Docker daemon if none answers (installing Debian's
# docker.io if missing), gets debian:12-slim (pulled, or built from the apt sources with
# debootstrap), builds every image and checks the sandbox (`docker-compose up`), a stop during a
# slow call, the "scale" profile (three replicas, Redis, nginx), and the Helm chart's bundled
# Redis and environment on these images (with helm from tests/k8s: run bash tests/k8s/run
# first); reports the image sizes. Compose is Debian's docker-compose. Where no daemon can run
# at all it says "skipped: no Docker" and exits 0.
#
#   bash tests/docker.sh
#   BASE_TARBALL=/path/debian-12-slim.tar bash tests/docker.sh   # reuse a debootstrapped base
#
# Behind a TLS-inspecting proxy the builds get the CAs this machine trusts beyond Debian's own
# (/usr/local/share/ca-certificates/*.crt) as EXTRA_CA_CERTS (see the Dockerfile).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "docker: ok   $*"; }
bad() { failed=$((failed + 1)); echo "docker: FAIL $*" >&2; }
say() { echo "docker: $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
now() { date +%s; }
t_start=$(now)

sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
missing=
for p in docker.io debootstrap docker-compose curl iptables python3 python3-yaml; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    say "installing$missing"
    $sudo apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing >/dev/null
fi
# Debian's client, which builds with BuildKit itself (another client may lack buildx).
docker=docker
[ -x /usr/bin/docker ] && docker=/usr/bin/docker

work=$(mktemp -d "${TMPDIR:-/tmp}/twilio-block-docker.XXXXXX")
project=tbci$$
dockerd_pid=
cleanup() {
    set +e
    if $docker info >/dev/null 2>&1; then
        for p in "" "--profile scale"; do
            # shellcheck disable=SC2086
            docker-compose -p "$project" $p down -v --remove-orphans >/dev/null 2>&1
        done
        $docker rm -f "$project-slow" "$project-chart-app" "$project-chart-redis" >/dev/null 2>&1
    fi
    if [ -n "$dockerd_pid" ]; then
        kill "$dockerd_pid" 2>/dev/null
        for _ in $(seq 1 60); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.5; done
    fi
    local t=$(now)
    rm -rf "$work" 2>/dev/null
    echo "docker: cleaned up in $(( $(now) - t ))s"
}
trap cleanup EXIT

# --- a daemon -----------------------------------------------------------------------------------
if ! $docker info >/dev/null 2>&1; then
    export DOCKER_HOST="unix://$work/docker.sock"
    say "no daemon answers; starting dockerd (data in $work)"
    dockerd --data-root "$work/data" --exec-root "$work/exec" --pidfile "$work/dockerd.pid" \
        -H "$DOCKER_HOST" >"$work/dockerd.log" 2>&1 &
    dockerd_pid=$!
    for _ in $(seq 1 60); do
        $docker info >/dev/null 2>&1 && break
        kill -0 "$dockerd_pid" 2>/dev/null || break
        sleep 0.5
    done
    if ! $docker info >/dev/null 2>&1; then
        say "dockerd did not start: $(grep -E 'level=(error|fatal)|^failed' "$work/dockerd.log" | tail -3)"
        echo "skipped: no Docker"
        exit 0
    fi
fi
say "daemon $($docker version --format '{{.Server.Version}}'), storage $($docker info --format '{{.Driver}}')"

# --- the base image -----------------------------------------------------------------------------
t0=$(now)
if ! $docker image inspect debian:12-slim >/dev/null 2>&1; then
    if timeout 120 $docker pull -q debian:12-slim >/dev/null 2>&1; then
        say "debian:12-slim pulled"
    else
        base=${BASE_TARBALL:-$work/debian-12-slim.tar}
        if [ ! -s "$base" ]; then
            mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
            security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
            say "no registry answers; building debian:12-slim with debootstrap from $mirror"
            rootfs=$work/rootfs
            debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
                { tail -20 "$work/debootstrap.log" >&2; bad "debootstrap"; exit 1; }
            printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-security main\n' \
                "$mirror" "$mirror" "$security" >"$rootfs/etc/apt/sources.list"
            # As Debian's own images: apt keeps no caches (80 MB in every layer that runs apt)
            # and fetches no translations; dpkg installs no documentation, manuals or locales.
            printf 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\nAPT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\nDir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n' \
                >"$rootfs/etc/apt/apt.conf.d/docker-clean"
            echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
            echo 'Acquire::GzipIndexes "true";' >"$rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
            echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"
            printf 'path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\npath-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\npath-exclude /usr/share/locale/*\npath-include /usr/share/locale/locale.alias\n' \
                >"$rootfs/etc/dpkg/dpkg.cfg.d/docker"
            find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
            rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/var/cache/apt/*.bin \
                "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log
            find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
            tar -C "$rootfs" -cf "$base" .
            rm -rf "$rootfs"
        fi
        $docker import --change 'CMD ["bash"]' "$base" debian:12-slim >/dev/null
        say "debian:12-slim imported from $base"
    fi
fi
t_base=$(( $(now) - t0 ))

# --- the images -----------------------------------------------------------------------------------
extra_ca=
for f in /usr/local/share/ca-certificates/*.crt /usr/local/share/ca-certificates/*/*.crt; do
    [ -f "$f" ] && extra_ca+="$(cat "$f")"$'\n'
done
export EXTRA_CA_CERTS="$extra_ca"
[ -n "$extra_ca" ] && say "building with the $(grep -c 'BEGIN CERTIFICATE' <<<"$extra_ca") extra CA certificate(s) this machine trusts (EXTRA_CA_CERTS)"
export DOCKER_BUILDKIT=1
t0=$(now)
build() {
    local tag=$1; shift
    if $docker build -q --build-arg EXTRA_CA_CERTS -t "$tag" "$@" . >"$work/build-$tag.log" 2>&1; then
        ok "built $tag"
    else
        tail -30 "$work/build-$tag.log" >&2
        bad "built $tag"
        exit 1
    fi
}
build twilio-block:local --target runtime
build twilio-block-mock:local --target twilio-mock
build twilio-block-redis:local -f deploy/scale.Dockerfile --target redis
build twilio-block-balancer:local -f deploy/scale.Dockerfile --target balancer
t_build=$(( $(now) - t0 ))
if [ -n "$extra_ca" ]; then
    # The mock's npm ci went through with it; the service's image must not trust it afterwards.
    ca_line=$(grep -v -e '^-----' -e '^$' <<<"$extra_ca" | sed -n 2p)
    check "the build's CA is left out of the service's image" \
        $docker run --rm --entrypoint sh twilio-block:local -c \
        "test ! -e /usr/local/share/ca-certificates/build-extra-ca.crt && ! grep -qF '$ca_line' /etc/ssl/certs/ca-certificates.crt"
    check "the mock's image (npm ci) was built trusting it" \
        $docker run --rm --entrypoint sh twilio-block-mock:local -c "grep -qF '$ca_line' /etc/ssl/certs/ca-certificates.crt"
fi

# --- the sandbox --------------------------------------------------------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sandbox_port=$(free_port) mock_port=$(free_port) balancer_port=$(free_port)
export SANDBOX_PORT=127.0.0.1:$sandbox_port MOCK_PORT=127.0.0.1:$mock_port BALANCER_PORT=127.0.0.1:$balancer_port
export REDIS_PASSWORD=ci-$RANDOM$RANDOM$RANDOM
compose() { docker-compose -p "$project" "$@"; }
cid() { compose --profile scale ps -q "$1"; }
health() { $docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$1"; }
wait_healthy() {
    local c=$1 i
    for i in $(seq 1 "${2:-90}"); do [ "$(health "$c")" = healthy ] && return 0; sleep 1; done
    return 1
}
sid=ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
sms() { printf '{"accountSid":"%s","accountToken":"tok","from":"+15005550006","to":"+14155552671","body":"%s"}' "$sid" "${1:-hello}"; }
post() { # url body [curl args...] -> body on stdout, status in $work/status
    local url=$1 body=$2; shift 2
    curl -sS -o "$work/out" -D "$work/headers" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary "$body" "$@" "$url" >"$work/status" || echo 000 >"$work/status"
    cat "$work/out"
}
is_success() { grep -q '"callback":"success"' <<<"$1"; }

t0=$(now)
say "sandbox: docker-compose up (the mock loads Twilio's specs first)"
compose up -d --no-build twilio-block >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; bad "docker-compose up"; }
app=$(compose ps -q twilio-block)
check "sandbox: the service's health check turns healthy" wait_healthy "$app" 90
base_url=http://127.0.0.1:$sandbox_port
check "sandbox: GET /healthz answers ok" test "$(curl -s "$base_url/healthz")" = '{"status":"ok"}'
answer=$(post "$base_url/api/twilio/sendSms" "$(sms)")
check "sandbox: sendSms through the mock succeeds" is_success "$answer"
answer=$(post "$base_url/api/twilio/startVerification" \
    "{\"accountSid\":\"$sid\",\"accountToken\":\"tok\",\"serviceSid\":\"VAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"to\":\"+14155552671\",\"channel\":\"sms\"}")
check "sandbox: startVerification through the mock succeeds" is_success "$answer"
uid=$($docker exec "$app" sh -c 'sed -n "s/^Uid:[[:space:]]*\([0-9]*\).*/\1/p" /proc/1/status')
check "sandbox: the service runs as uid 10001, not root (uid $uid)" test "$uid" = 10001
check "sandbox: the root file system is read-only" \
    test "$($docker inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$app")" = true
check "sandbox: writing to it fails" sh -c "! $docker exec $app sh -c 'echo x > /x' 2>/dev/null"
check "sandbox: every capability dropped" test "$($docker inspect -f '{{.HostConfig.CapDrop}}' "$app")" = '[ALL]'

# docker stop during a slow call: the call finishes. A stand-in for Twilio that answers after
# 8 s, on the compose network, and the sandbox's service pointed at it.
$docker run -d --name "$project-slow" --network "${project}_default" --network-alias slow \
    twilio-block-mock:local node -e '
      require("http").createServer((q, r) => {
        console.log("request " + q.method + " " + q.url);
        q.resume();
        setTimeout(() => {
          r.writeHead(201, {"Content-Type": "application/json"});
          r.end(JSON.stringify({sid: "SM" + "b".repeat(32), status: "queued", body: "slow"}));
        }, 8000);
      }).listen(4011);' >/dev/null
TWILIO_API_BASE=http://slow:4011 compose up -d --no-build --no-deps twilio-block >>"$work/up.log" 2>&1
app=$(compose ps -q twilio-block)
for _ in $(seq 1 50); do curl -sf "$base_url/healthz" >/dev/null && break; sleep 0.2; done
post "$base_url/api/twilio/sendSms" "$(sms slow)" >"$work/slow.out" &
slow_call=$!
for _ in $(seq 1 50); do $docker logs "$project-slow" 2>&1 | grep -q '^request POST' && break; sleep 0.2; done
stop_t0=$(now)
compose stop twilio-block >/dev/null 2>&1
stop_s=$(( $(now) - stop_t0 ))
wait "$slow_call" || true
check "stop: the call in flight got its answer (HTTP $(cat "$work/status"), stop took ${stop_s}s)" \
    sh -c "test \"\$(cat '$work/status')\" = 200 && grep -q '\"callback\":\"success\"' '$work/slow.out'"
check "stop: the service exited 0 after draining, not killed" \
    test "$($docker inspect -f '{{.State.ExitCode}}' "$app")" = 0
check "stop: it logged its drain" sh -c "$docker logs $app 2>&1 | grep -q stopping"
compose rm -f -s twilio-block >/dev/null 2>&1
$docker rm -f "$project-slow" >/dev/null
t_sandbox=$(( $(now) - t0 ))

# --- the scale profile --------------------------------------------------------------------------
t0=$(now)
say "scale: docker-compose --profile scale up balancer"
compose --profile scale up -d --no-build balancer >"$work/scale.log" 2>&1 || { cat "$work/scale.log" >&2; bad "scale up"; }
for r in twilio-block-1 twilio-block-2 twilio-block-3; do
    wait_healthy "$(cid $r)" 90 || true
done
running=0
for s in twilio-block-1 twilio-block-2 twilio-block-3 redis balancer; do
    [ "$($docker inspect -f '{{.State.Running}}' "$(cid $s)" 2>/dev/null)" = true ] && running=$((running + 1))
done
check "scale: three replicas, Redis and nginx running ($running of 5)" test "$running" = 5
lb=http://127.0.0.1:$balancer_port
for _ in $(seq 1 60); do curl -sf "$lb/healthz" >/dev/null && break; sleep 0.5; done
check "scale: /healthz through nginx" test "$(curl -s "$lb/healthz")" = '{"status":"ok"}'

key=ci-key-$RANDOM$RANDOM
first=$(post "$lb/api/twilio/sendSms" "$(sms keyed)" -H "Idempotency-Key: $key" -H "X-Request-Id: $project-k0")
check "scale: a keyed sendSms through nginx succeeds" is_success "$first"
replayed=0
for i in 1 2 3 4 5; do
    again=$(post "$lb/api/twilio/sendSms" "$(sms keyed)" -H "Idempotency-Key: $key" -H "X-Request-Id: $project-k$i")
    [ "$again" = "$first" ] && grep -qi '^Idempotent-Replayed: true' "$work/headers" && replayed=$((replayed + 1))
done
check "scale: 5 repeats replayed byte for byte ($replayed of 5)" test "$replayed" = 5
served=0
for r in twilio-block-1 twilio-block-2 twilio-block-3; do
    $docker logs "$(cid $r)" 2>&1 | grep -q "$project-k[0-9]" && served=$((served + 1))
done
check "scale: the call and its repeats reached $served replicas (more than one)" test "$served" -ge 2

# A replica stopped mid-run: 4 callers, 30 keyed sends each, through nginx. Every send must end
# in success. A caller repeats with the same Idempotency-Key, as the docs tell it to, what the
# stopping replica could not take: 503 SHUTTING_DOWN (nothing sent), or nginx's 502 when the
# replica stopped with a request nginx had just sent on a new connection (nginx passes no POST
# it may have delivered to another replica, and open-source nginx has no health checks to learn
# of the stop sooner; the drain waits for kept-alive connections, which leaves only those new
# ones). The key makes the repeat safe: a send that did go out is replayed, not sent again.
caller() {
    local n=$1 i try out code
    for i in $(seq 1 30); do
        for try in 1 2 3 4 5; do
            code=$(curl -sS -o "$work/c$n.out" -w '%{http_code}' -H 'Content-Type: application/json' \
                -H "Idempotency-Key: ci-run-$project-$n-$i" --data-binary "$(sms "run $n $i")" \
                "$lb/api/twilio/sendSms" 2>/dev/null) || code=000
            out=$(cat "$work/c$n.out" 2>/dev/null || true)
            if [ "$code" = 503 ] && grep -q SHUTTING_DOWN <<<"$out"; then
                echo "retry 503" >>"$work/c$n.log"; sleep 1; continue
            fi
            if [ "$code" = 502 ]; then
                echo "retry 502" >>"$work/c$n.log"; sleep 1; continue
            fi
            break
        done
        if [ "$code" = 200 ] && grep -q '"callback":"success"' <<<"$out"; then
            echo "ok" >>"$work/c$n.log"
        else
            echo "lost $code $out" >>"$work/c$n.log"
        fi
        sleep 0.05
    done
}
callers=()
for n in 1 2 3 4; do caller "$n" & callers+=($!); done
for _ in $(seq 1 200); do
    [ "$(cat "$work"/c*.log 2>/dev/null | grep -c '^ok')" -ge 24 ] && break
    sleep 0.1
done
compose --profile scale stop twilio-block-2 >/dev/null 2>&1
for j in "${callers[@]}"; do wait "$j" || true; done
done_ok=$(cat "$work"/c*.log | grep -c '^ok' || true)
r503=$(cat "$work"/c*.log | grep -c '^retry 503' || true)
r502=$(cat "$work"/c*.log | grep -c '^retry 502' || true)
lost=$(cat "$work"/c*.log | grep '^lost' || true)
check "scale: replica 2 stopped mid-run, all 120 sends succeeded ($done_ok; repeated with their keys: $r503 after 503 SHUTTING_DOWN, $r502 after 502)" \
    test "$done_ok" = 120
[ -z "$lost" ] || echo "$lost" | head -5 >&2
check "scale: replica 2 exited 0 after draining" \
    test "$($docker inspect -f '{{.State.ExitCode}}' "$(cid twilio-block-2)")" = 0
t_scale=$(( $(now) - t0 ))

# --- the Helm chart's settings on the real images ------------------------------------------------
# No cluster runs here, so the containers the chart describes run on Docker instead: the bundled
# Redis with the chart's redis.conf, and the service with the chart's environment (REDIS_URL from
# its Secret) and security settings. helm comes from tests/k8s (bash tests/k8s/run fetches it).
helm_bin=$root/tests/k8s/node_modules/.cache/helm/helm/helm
if [ -x "$helm_bin" ]; then
    t0=$(now)
    mkdir -p "$work/chart-redis"
    "$helm_bin" template rel deploy/helm/twilio-block -f tests/k8s/values/bundled-redis.yaml \
        --set-string config.LOG_FORMAT=json >"$work/chart.yaml"
    python3 - "$work" <<'PY'
import base64, sys, yaml
work = sys.argv[1]
objs = [o for o in yaml.safe_load_all(open(work + "/chart.yaml")) if o]
find = lambda kind, name: next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)
secret = find("Secret", "rel-twilio-block-redis")
data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
open(work + "/chart-redis/redis.conf", "w").write(data["redis.conf"])
dep = find("Deployment", "rel-twilio-block")
pod = dep["spec"]["template"]["spec"]
c = pod["containers"][0]
with open(work + "/chart.env", "w") as f:
    for e in c["env"]:
        if "value" in e:
            f.write("%s=%s\n" % (e["name"], e["value"]))
        else:
            ref = e["valueFrom"]["secretKeyRef"]
            assert ref["name"] == "rel-twilio-block-redis", ref
            f.write("%s=%s\n" % (e["name"], data[ref["key"]]))
sc = c["securityContext"]
assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"] and sc["capabilities"]["drop"] == ["ALL"]
r = find("Deployment", "rel-twilio-block-redis")["spec"]["template"]["spec"]
open(work + "/chart.args", "w").write("%d:%d %d:%d %s %s\n" % (
    sc["runAsUser"], sc["runAsGroup"], r["securityContext"]["runAsUser"], r["securityContext"]["runAsGroup"],
    " ".join(c["lifecycle"]["preStop"]["exec"]["command"]), r["containers"][0]["args"][0]))
PY
    chmod 755 "$work/chart-redis"; chmod 644 "$work/chart-redis/redis.conf"
    read -r app_user redis_user prestop_cmd prestop_arg redis_conf <"$work/chart.args"
    hardening=(--read-only --cap-drop ALL --security-opt no-new-privileges)
    $docker run -d --name "$project-chart-redis" --network "${project}_default" --network-alias rel-twilio-block-redis \
        --user "$redis_user" "${hardening[@]}" --tmpfs /data -v "$work/chart-redis:/etc/twilio-block-redis:ro" \
        twilio-block-redis:local "$redis_conf" >/dev/null
    chart_port=$(free_port)
    $docker run -d --name "$project-chart-app" --network "${project}_default" --user "$app_user" "${hardening[@]}" \
        --env-file "$work/chart.env" -p "127.0.0.1:$chart_port:8080" twilio-block:local >/dev/null
    chart_url=http://127.0.0.1:$chart_port
    for _ in $(seq 1 50); do curl -sf "$chart_url/healthz" >/dev/null && break; sleep 0.2; done
    check "chart: the service with the chart's environment and security answers /healthz" \
        test "$(curl -s "$chart_url/healthz")" = '{"status":"ok"}'
    check "chart: its preStop command ($prestop_cmd $prestop_arg) runs in the image" \
        $docker exec "$project-chart-app" "$prestop_cmd" 0
    key=ci-chart-$RANDOM$RANDOM
    first=$(post "$chart_url/api/twilio/sendSms" "$(sms chart)" -H "Idempotency-Key: $key")
    again=$(post "$chart_url/api/twilio/sendSms" "$(sms chart)" -H "Idempotency-Key: $key")
    replay=no
    if is_success "$first" && [ "$again" = "$first" ] && grep -qi '^Idempotent-Replayed: true' "$work/headers"; then
        replay=yes
    fi
    check "chart: a keyed repeat is replayed from the bundled Redis (its password and config)" test "$replay" = yes
    check "chart: Redis refuses a client without the password" \
        sh -c "$docker exec $project-chart-redis redis-cli ping 2>&1 | grep -q NOAUTH"
    check "chart: Redis runs with maxmemory-policy noeviction" \
        sh -c "$docker exec $project-chart-redis redis-cli --no-auth-warning -a \"\$(sed -n 's/^requirepass //p' $work/chart-redis/redis.conf)\" config get maxmemory-policy | grep -qx noeviction"
    check "chart: the service logs JSON lines (LOG_FORMAT from the chart)" \
        sh -c "$docker logs $project-chart-app 2>&1 | head -1 | grep -q '^{\"time\"'"
    $docker rm -f "$project-chart-app" "$project-chart-redis" >/dev/null
    t_chart=$(( $(now) - t0 ))
else
    say "chart on Docker: skipped, no helm (run bash tests/k8s/run first)"
    t_chart=0
fi

# --- sizes ---------------------------------------------------------------------------------------
say "image sizes:"
for i in debian:12-slim twilio-block:local twilio-block-mock:local twilio-block-redis:local twilio-block-balancer:local; do
    awk -v i="$i" -v b="$($docker image inspect -f '{{.Size}}' "$i")" 'BEGIN { printf "docker:   %-30s %6.1f MB\n", i, b / 1e6 }'
done
say "seconds: base image $t_base, builds $t_build, sandbox $t_sandbox, scale $t_scale, chart $t_chart, total $(( $(now) - t_start ))"
echo "docker: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
