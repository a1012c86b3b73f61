#!/bin/sh
# check_symbols.sh [-l LIST] BUILD_DIR [PREFIXES]: every name a static
# library of the project exports starts with one of the prefixes its line
# in scripts/symbols.prefixes declares, or is a whole name listed there as
# "=name" (docs/design.md, "Names").  Reads the archives LIST names (one
# path a line: what the build makes, as ctest passes it), else every
# lib*.a under BUILD_DIR but the fuzz/ and tests/ trees (their own copies
# and helpers).  Prints "library object symbol" for each name that breaks
# the rule, and each library without a line, then exits 1; exits 0 when
# there is none, 2 on a usage error or an archive it cannot read.
set -eu
usage() {
	echo "usage: check_symbols.sh [-l LIST] BUILD_DIR [PREFIXES]" >&2
	exit 2
}
list=
if [ "${1:-}" = -l ]; then
	[ $# -ge 2 ] || usage
	list=$2
	shift 2
fi
[ $# -ge 1 ] && [ -d "$1" ] || usage
dir=$1
prefixes=${2:-$(dirname "$0")/symbols.prefixes}
[ -r "$prefixes" ] || { echo "check_symbols: no $prefixes" >&2; exit 2; }
NM=${NM:-nm}

if [ -n "$list" ]; then
	[ -r "$list" ] || { echo "check_symbols: no $list" >&2; exit 2; }
	libs=$(grep -v '^$' "$list" | sort)
else
	libs=$(find "$dir" -name 'lib*.a' ! -path '*/fuzz/*' \
		! -path '*/tests/*' | sort)
fi
[ -n "$libs" ] || { echo "check_symbols: no lib*.a under $dir" >&2; exit 2; }
for a in $libs; do
	[ -r "$a" ] || { echo "check_symbols: no $a" >&2; exit 2; }
done

# nm -P: "archive[object]: name type value size"; T D B R C V W G S are
# defined exported names (--defined-only drops U, -g the local ones).
for a in $libs; do
	lib=$(basename "$a" .a)
	lib=${lib#lib}
	"$NM" -A -P -g --defined-only "$a" 2>/dev/null |
		sed -n 's/^[^[]*\[\([^]]*\)\]: \([^ ]*\) .*/\1 \2/p' |
		while read -r obj sym; do echo "$lib $obj $sym"; done
done | awk -v pf="$prefixes" '
BEGIN {
	while ((getline line < pf) > 0) {
		sub(/#.*/, "", line)
		if (line !~ /:/)
			continue
		lib = line; sub(/:.*/, "", lib); gsub(/[ \t]/, "", lib)
		rest = line; sub(/^[^:]*:/, "", rest)
		known[lib] = 1
		list[lib] = rest
	}
}
# names the compiler adds: the ODR indicator ASan makes for each global
$3 ~ /^__odr_asan[._]/ { next }
{
	if (!($1 in known)) {
		if (!($1 in warned))
			print $1 ": library has no line in " pf
		warned[$1] = 1
		bad++
		next
	}
	n = split(list[$1], p, /[ \t]+/)
	ok = 0
	for (i = 1; i <= n; i++) {
		if (p[i] == "")
			continue
		if (substr(p[i], 1, 1) == "=")
			ok = $3 == substr(p[i], 2)
		else
			ok = index($3, p[i]) == 1
		if (ok)
			break
	}
	if (!ok) { print $1, $2, $3; bad++ }
}
END {
	if (bad) {
		print bad " exported name(s) without their library'"'"'s prefix" \
		    " (scripts/symbols.prefixes)"
		exit 1
	}
}'
