#!/usr/bin/env bash
# The include map: every #include "..." in src/ goes to a module of the same layer or a lower
# one in docs/architecture.md, the arrows within a layer close no loop, and every module has a
# row there; a module <m>_<part> is part of <m>. An include none of whose names (functions,
# types, macros, enum constants, variables) the file uses is an arrow that should not be there.
# Usage: arrows.sh [source root]
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
# The names a header declares, its comments stripped.
names_of() {
    perl -0pe 's:/\*.*?\*/::gs' "$1" | perl -ne '
        print "$1\n" while /^\s*#\s*define\s+([A-Za-z_]\w*)/g;
        print "$2\n" while /\b(struct|enum|union)\s+([A-Za-z_]\w*)\s*\{/g;
        print "$1\n" while /\(\s*\*\s*([A-Za-z_]\w*)\s*\)\s*\(/g;
        print "$1\n" while /^\s*typedef\b[^;(]*?\b([A-Za-z_]\w*)\s*;/g;
        print "$1\n" while /^(?:[A-Za-z_][\w\s\*]*?[\s\*])([a-z_]\w*)\s*\(/g;
        print "$1\n" while /^\s+([A-Z][A-Z0-9_]+)\s*(?:=[^,]*)?,?\s*$/g;
        print "$1\n" while /^\s*(?:struct|enum|union)\s+([A-Za-z_]\w*)\s*;/g;
        print "$1\n" while /^\s*extern\b.*?\b([A-Za-z_]\w*)\s*(?:\[\])?\s*;/g;
    ' | grep -vxE 'void|int|char|long|const|static|unsigned|size_t|[A-Z0-9_]+_H' | sort -u
}
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
    body=$(grep -v '^#include' "$f" | perl -0pe 's:/\*.*?\*/::gs')
    while read -r inc; do
        to=${inc%.h}
        [[ $to == "$from" ]] && continue
        if [[ -f $root/src/$inc ]]; then
            names=$(names_of "$root/src/$inc")
            if [[ -n $names ]] && ! grep -qwF -f <(echo "$names") <<<"$body"; then
                echo "src/$(basename "$f"): includes $inc but uses none of its names" >&2
                fail=1
            fi
        fi
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
