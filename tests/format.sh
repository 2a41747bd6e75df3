#!/usr/bin/env bash
# Checks that C files are laid out as .clang-format says (clang-format 14, Debian's
# clang-format package). Usage: format.sh [files...]; with none, the files tests/formatted.txt
# lists (the ones formatted so far; delete it once every file is) or else every .c and .h in
# src/ and tests/. Exits 1 and names each file that clang-format would change; `clang-format -i FILE`
# fixes one.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if (($#)); then files=("$@"); elif [[ -f tests/formatted.txt ]]; then mapfile -t files < tests/formatted.txt; else mapfile -t files < <(ls src/*.[ch] tests/*.[ch] tests/support/*.[ch] tests/fuzz/*.[ch] 2>/dev/null); fi
bad=0
for f in "${files[@]}"; do
    if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
        echo "$f: not formatted (clang-format -i $f)" >&2
        bad=1
    fi
done
exit $bad
