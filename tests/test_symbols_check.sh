#!/bin/sh
# test_symbols_check.sh CHECK: scripts/check_symbols.sh (CHECK) over
# archives built here with cc -c and ar, under a prefixes file of its own:
# a planted unprefixed name fails it (exit 1, "library object symbol"),
# a library without a line fails it, a whole "=name" passes only whole,
# and an archive of prefixed names and statics passes (exit 0), also
# with the __odr_asan.* names an ASan build adds.
set -eu
check=$1
CC=${CC:-cc}
AR=${AR:-ar}
t=$(mktemp -d /tmp/opcsym.XXXXXX)
trap 'rm -rf "$t"' EXIT INT TERM
fails=0
expect() { # expect WHAT RC PATTERN args... (PATTERN "": no output)
	what=$1 want=$2 pat=$3
	shift 3
	rc=0
	"$check" "$@" >"$t/out" 2>&1 || rc=$?
	if [ -z "$pat" ]; then
		found=$(! [ -s "$t/out" ] && echo yes || :) # nothing printed
	else
		found=$(grep -q -- "$pat" "$t/out" && echo yes || :)
	fi
	if [ "$rc" -ne "$want" ] || [ -z "$found" ]; then
		echo "FAIL: $what: exit $rc (want $want), output:"
		cat "$t/out"
		fails=$((fails + 1))
	else
		echo "ok: $what"
	fi
}

printf 'good: good_ =only\n' >"$t/prefixes"
mkdir -p "$t/ok" "$t/bad" "$t/unknown" "$t/whole"
cat >"$t/a.c" <<'C'
static int helper(void) { return 1; }
int good_one(void) { return helper(); }
int good_table[2];
C
cat >"$t/b.c" <<'C'
int good_two(void);
int planted(void) { return good_two(); }
int good_two(void) { return 2; }
C
cat >"$t/c.c" <<'C'
int only(void) { return 0; }
int only_not(void) { return 1; }
C
cat >"$t/d.c" <<'C'
char odr __asm__("__odr_asan.good_table") = 0; /* as -fsanitize=address */
C
for f in a b c d; do "$CC" -c -o "$t/$f.c.o" "$t/$f.c"; done
"$AR" rcs "$t/ok/libgood.a" "$t/a.c.o"
"$AR" rcs "$t/bad/libgood.a" "$t/a.c.o" "$t/b.c.o"
"$AR" rcs "$t/unknown/libother.a" "$t/a.c.o"
"$AR" rcs "$t/whole/libgood.a" "$t/c.c.o"
mkdir -p "$t/asan"
"$AR" rcs "$t/asan/libgood.a" "$t/a.c.o" "$t/d.c.o"

expect "prefixed names and statics pass" 0 '' "$t/ok" "$t/prefixes"
expect "ASan's ODR indicators are not the library's names" 0 '' \
    "$t/asan" "$t/prefixes"
expect "a planted unprefixed name fails" 1 '^good b.c.o planted$' \
    "$t/bad" "$t/prefixes"
expect "only the planted name is listed" 1 '^1 exported name' \
    "$t/bad" "$t/prefixes"
expect "a library without a line fails" 1 'other: library has no line' \
    "$t/unknown" "$t/prefixes"
expect "=name allows that whole name only" 1 '^good c.c.o only_not$' \
    "$t/whole" "$t/prefixes"
printf '%s\n' "$t/bad/libgood.a" >"$t/list"
expect "-l reads the listed archives" 1 '^good b.c.o planted$' \
    -l "$t/list" "$t/ok" "$t/prefixes"
printf '%s\n' "$t/gone/libgood.a" >"$t/list"
expect "a listed archive that is gone is an error" 2 'no .*gone' \
    -l "$t/list" "$t/ok" "$t/prefixes"
[ "$fails" -eq 0 ]
