#!/usr/bin/env bash
# Every JSON text becomes a tree through src/jsonparse.c, whose caps come before jansson's
# recursive parser: a json_load* call anywhere else in src/ fails this test.
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
found=$(grep -n -E '\bjson_load(b|s|f|fd|_callback)?[[:space:]]*\(' "$root"/src/*.c "$root"/src/*.h |
    grep -v '^'"$root"'/src/jsonparse\.c:' || true)
if [ -n "$found" ]; then
    echo "json_load* outside src/jsonparse.c (parse through jsonparse_loadb):" >&2
    echo "$found" >&2
    exit 1
fi
echo "json_guard: every JSON parse in src/ goes through jsonparse.c"
