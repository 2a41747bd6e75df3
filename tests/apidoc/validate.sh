#!/usr/bin/env bash
# swagger-cli validates the committed docs/openapi.json and the document the binary ($1)
# generates, and refuses a copy with an operation's responses removed, so a pass means
# something.
set -euo pipefail
bin=$1
here=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "$here/.." && pwd)
swagger="$here/node_modules/.bin/swagger-cli"
if [ ! -x "$swagger" ]; then
    echo "validate: $swagger is missing; run: (cd tests && npm ci)" >&2
    exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" --openapi >"$work/openapi.json"
"$swagger" validate "$root/docs/openapi.json"
"$swagger" validate "$work/openapi.json"
node -e 'const d = require(process.argv[1]); delete d.paths["/healthz"].get.responses;
         console.log(JSON.stringify(d))' \
    "$work/openapi.json" >"$work/broken.json"
if "$swagger" validate "$work/broken.json" >"$work/broken.out" 2>&1; then
    echo "validate: swagger-cli accepted an operation without responses" >&2
    exit 1
fi
grep -q "must have required property 'responses'" "$work/broken.out" || { cat "$work/broken.out" >&2; exit 1; }
echo "validate: ok"
