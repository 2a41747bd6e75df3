#!/usr/bin/env bash
# The include map: every #include "..." in src/ goes to a module of the same layer or a lower
# one in docs/architecture.md, the arrows within a layer close no loop, and every module has a
# row there; a module <m>_<part> is part of <m>. Usage: arrows.sh [source root]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
map="$root/docs/architecture.md"
declare -A number layer
# | name | Number | ... in the Layers table; | module | layer | job | in the Modules table
while IFS='|' read -r _ a b _; do
    a=$(echo "$a" | tr -d ' `'); b=$(echo "$b" | tr -d ' `')
    [[ -z $a || $a == Layer || $a == Module || $a == --- ]] && continue
    if [[ $b =~ ^[0-9]+$ ]]; then number[$a]=$b; else layer[$a]=$b; fi
done < <(grep '^|' "$map")
fail=0
edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
for f in "$root"/src/*.c "$root"/src/*.h; do
    from=$(basename "$f"); from=${from%.*}
    if [[ -z ${layer[$from]:-} ]]; then
        echo "src/$(basename "$f"): module $from has no row in docs/architecture.md" >&2
        fail=1
        continue
    fi
    while read -r inc; do
        to=${inc%.h}
        [[ $to == "$from" ]] && continue
        # a module and its parts (<m>_<part>) include each other freely
        [[ $to == "${from}_"* || $from == "${to}_"* ]] && continue
        if [[ -z ${layer[$to]:-} ]]; then
            echo "src/$(basename "$f"): includes $inc, a module with no row in docs/architecture.md" >&2
            fail=1
            continue
        fi
        lf=${number[${layer[$from]}]:-}; lt=${number[${layer[$to]}]:-}
        if [[ -z $lf || -z $lt ]]; then
            echo "docs/architecture.md: layer ${layer[$from]} or ${layer[$to]} has no number" >&2
            fail=1
        elif ((lt > lf)); then
            echo "src/$(basename "$f"): $from (${layer[$from]}) includes $inc (${layer[$to]}): an arrow up" >&2
            fail=1
        elif ((lt == lf)); then
            echo "$from $to" >>"$edges"
        fi
    done < <(grep -o '^#include "[^"]*"' "$f" | sed 's/#include "//; s/"//')
done
if [[ -s $edges ]] && ! sort -u "$edges" | tsort >/dev/null 2>"$edges.err"; then
    echo "arrows within a layer close a loop:" >&2
    cat "$edges.err" >&2
    fail=1
fi
rm -f "$edges.err"
exit $fail
