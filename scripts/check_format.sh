#!/bin/sh
# check_format.sh [SRC_DIR]: every C file of the tree is as clang-format
# leaves it (.clang-format: the house style, STYLE.md "Format by
# machine").  Lists the files that are not and how to fix them; exit 1.
# Exit 77 (SKIP) when clang-format is not installed.  Files: those git
# tracks, else every .c/.h outside build/ (a tarball).
set -u
src=${1:-$(dirname "$0")/..}
cd "$src" || exit 2
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
if ! command -v "$CLANG_FORMAT" >/dev/null 2>&1; then
	echo "check_format: SKIP: $CLANG_FORMAT is not installed" \
	    "(Debian package clang-format)" >&2
	exit 77
fi
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	files=$(git ls-files '*.c' '*.h')
else
	files=$(find . -path ./build -prune -o \( -name '*.c' -o -name '*.h' \) \
	    -type f -print)
fi
# one run over every file: clang-format names each that differs
out=$("$CLANG_FORMAT" --dry-run --Werror $files 2>&1)
if [ $? -ne 0 ]; then
	bad=$(echo "$out" | sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error:.*/\1/p' |
	    sort -u | tr '\n' ' ')
	echo "check_format: not formatted: ${bad:-(see below)}" >&2
	[ -n "$bad" ] || echo "$out" | head -20 >&2
	echo "fix: $CLANG_FORMAT -i $bad" >&2
	exit 1
fi
echo "check_format: $(echo "$files" | wc -w) files formatted"
