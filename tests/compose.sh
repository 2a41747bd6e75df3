#!/usr/bin/env bash
# docker-compose.yml is accepted by docker-compose (no Docker engine needed), with and without
# the "scale" profile, deploy/nginx.conf balances over exactly the replicas it defines, and by
# default every published port is on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "compose: $*" >&2; exit 1; }
docker-compose config -q || fail "docker-compose config refused the file"
docker-compose --profile scale config -q || fail "docker-compose --profile scale config refused it"
defined=$(docker-compose --profile scale config --services | grep '^twilio-block-' | sort | xargs)
listed=$(sed -n 's/^ *server \(twilio-block-[0-9]*\):8080;.*/\1/p' deploy/nginx.conf | sort | xargs)
[ -n "$defined" ] || fail "no twilio-block-N replicas in the scale profile"
[ "$defined" = "$listed" ] || fail "deploy/nginx.conf lists [$listed], the profile defines [$defined]"
config=$(env -u SANDBOX_PORT -u MOCK_PORT -u BALANCER_PORT docker-compose --profile scale config)
# docker-compose writes a port published on every address as "published: N", one on an address
# as "- address:N:target/tcp"
! grep -q 'published:' <<<"$config" || fail "by default a port is published on every address"
published=$(sed -n 's/^ *- \([0-9.:]*[0-9]\):[0-9]*\/tcp$/\1/p' <<<"$config" | sort | xargs)
[ "$published" = "127.0.0.1:4010 127.0.0.1:8080 127.0.0.1:8081" ] ||
    fail "by default the ports are published on [$published], not 127.0.0.1:4010, :8080 and :8081"
echo "compose: ok ($defined; published on $published)"
