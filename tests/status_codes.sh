#!/usr/bin/env bash
# The status codes live in one table (src/status.h, src/status.c). Fails when a code is spelled
# in any other source file, when src/ holds a literal shaped like a code (CAPS_AND_UNDERSCORES)
# that the table lacks (setting names in config.c and getenv/setenv names aside), when a
# STATUS_ name has no row in the table, or when docs/envelope.md or docs/openapi.json misses a
# code. Usage: status_codes.sh [source root]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
fail=0
declare -A code_of
while read -r name code; do
    code_of[$name]=$code
done < <(sed -n 's/^#define \(STATUS_[A-Z0-9_]*\) "\([A-Z0-9_]*\)"$/\1 \2/p' src/status.h)
if [[ ${#code_of[@]} -eq 0 ]]; then
    echo "src/status.h: no codes found" >&2
    exit 1
fi
for name in "${!code_of[@]}"; do
    code=${code_of[$name]}
    grep -q "{$name," src/status.c || { echo "src/status.c: $name has no row in the table" >&2; fail=1; }
    for f in $(grep -l "\"$code\"" src/*.c src/*.h | grep -v '^src/status\.h$' || true); do
        echo "$f: spells \"$code\"; name it $name (status.h)" >&2
        fail=1
    done
    grep -q "\`$code\`" docs/envelope.md || { echo "docs/envelope.md: no \`$code\`" >&2; fail=1; }
    grep -q "\"$code\"" docs/openapi.json || { echo "docs/openapi.json: no \"$code\"" >&2; fail=1; }
done
# A literal shaped like a code that the table lacks: a new code written outside the table.
while IFS=: read -r f line lit; do
    code=${lit//\"/}
    known=0
    for name in "${!code_of[@]}"; do [[ ${code_of[$name]} == "$code" ]] && known=1; done
    [[ $known == 1 ]] && continue
    [[ $f == src/config.c ]] && continue
    sed -n "${line}p" "$f" | grep -qE '(getenv|setenv)\("'"$code"'"' && continue
    echo "$f:$line: $lit looks like a status code the table (src/status.c) lacks" >&2
    fail=1
done < <(grep -noE '"[A-Z][A-Z0-9]*(_[A-Z0-9]+)+"' src/*.c src/*.h | grep -v '^src/status\.h:' || true)
# Every STATUS_ name used is one of the table's.
for used in $(grep -ohE '\bSTATUS_[A-Z0-9_]+\b' src/*.c src/*.h | sort -u); do
    [[ $used == STATUS_H ]] && continue
    [[ -n ${code_of[$used]:-} ]] || { echo "src: $used is not defined in src/status.h" >&2; fail=1; }
done
exit $fail
