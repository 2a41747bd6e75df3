#!/usr/bin/env bash
# docker-compose.yml is accepted by docker-compose (no Docker engine needed), with and without
# the "scale" profile, and deploy/nginx.conf balances over exactly the replicas it defines.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "compose: $*" >&2; exit 1; }
docker-compose config -q || fail "docker-compose config refused the file"
docker-compose --profile scale config -q || fail "docker-compose --profile scale config refused it"
defined=$(docker-compose --profile scale config --services | grep '^twilio-block-' | sort | xargs)
listed=$(sed -n 's/^ *server \(twilio-block-[0-9]*\):8080;.*/\1/p' deploy/nginx.conf | sort | xargs)
[ -n "$defined" ] || fail "no twilio-block-N replicas in the scale profile"
[ "$defined" = "$listed" ] || fail "deploy/nginx.conf lists [$listed], the profile defines [$defined]"
echo "compose: ok ($defined)"
