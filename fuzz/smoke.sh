#!/bin/sh
# smoke.sh BIN SEEDS SECONDS CRASH_DIR: one bounded libFuzzer run of BIN
# on a scratch copy of the seed corpus SEEDS (the repository is never
# written).  A crash, leak, sanitizer report or oracle abort fails the
# test; the input is kept as CRASH_DIR/<target>-crash-<sha1>.
# The seed is fixed (FUZZ_SEED, default 1) so a run explores the same
# mutations as the last verified one; scripts/fuzz.sh explores anew.
set -eu
bin=$1 seeds=$2 secs=$3 crashes=$4
name=$(basename "$bin")
[ -x "$bin" ] || { echo "$name: $bin is not built" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/opc-$name.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p "$tmp/corpus" "$crashes"
cp "$seeds"/* "$tmp/corpus/"
cd "$tmp"
"$bin" -seed="${FUZZ_SEED:-1}" -max_total_time="$secs" -runs=100000000 -timeout=10 \
    -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$crashes/$name-" "$tmp/corpus" 2>"$tmp/log" || {
	rv=$?
	tail -n 60 "$tmp/log" >&2
	echo "$name: FAILED (exit $rv); input saved under $crashes/" >&2
	exit 1
}
grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb|Done)' \
    "$tmp/log" || true
