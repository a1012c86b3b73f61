#!/bin/sh
# fuzz.sh [TARGET|all] [SECONDS]: build the libFuzzer targets of fuzz/ with
# clang (ASan+UBSan) in build/fuzz and run one or all of them for SECONDS
# each (default 300).  The corpus grows in build/fuzz-corpus/<target>/
# (seeded from fuzz/corpus/<target>/, kept between runs); crashes, leaks
# and oracle failures are saved under build/fuzz-crashes/ and listed at
# the end.  Exit status 1 when any target found something.
#   JOBS   parallel build jobs (default: nproc)
#   Reproduce one: build/fuzz/bin/fuzz_<target> build/fuzz-crashes/<file>
set -eu
cd "$(dirname "$0")/.."
. scripts/deps.sh

TARGETS="msg cfg webhook plane github"
want=${1:-all}
secs=${2:-300}
JOBS=${JOBS:-$(nproc)}
case " all $TARGETS " in
*" $want "*) ;;
*) echo "usage: $0 [all|$(echo $TARGETS | tr ' ' '|')] [seconds]" >&2
   exit 2 ;;
esac
[ "$want" = all ] || TARGETS=$want

CC=${FUZZ_CC:-clang} cmake -S . -B build/fuzz -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOPC_FUZZ_BUILD=ON -DOPC_TESTS=OFF \
    -DOPC_FUZZ=OFF -DSANITIZER=address,undefined >/dev/null
cmake --build build/fuzz -j "$JOBS" --target fuzz_all

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p build/fuzz-crashes
failed=""
for t in $TARGETS; do
	corpus=build/fuzz-corpus/$t
	mkdir -p "$corpus"
	cp -n fuzz/corpus/$t/* "$corpus/" 2>/dev/null || true
	echo "fuzz.sh: fuzz_$t for ${secs}s (corpus $corpus)" >&2
	log=build/fuzz-crashes/fuzz_$t.log
	if build/fuzz/bin/fuzz_$t -max_total_time="$secs" -timeout=10 \
	    -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
	    -artifact_prefix=build/fuzz-crashes/fuzz_$t- "$corpus" \
	    >"$log" 2>&1; then
		grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' \
		    "$log" | sed "s/^/  fuzz_$t /" >&2
	else
		failed="$failed $t"
		grep -E 'ERROR|SUMMARY|runtime error|fuzz_[a-z]+: |Test unit written' \
		    "$log" | head -n 12 | sed "s/^/  fuzz_$t /" >&2
	fi
done
found=$(ls build/fuzz-crashes/ | grep -v '\.log$' || true)
if [ -n "$found" ]; then
	echo "fuzz.sh: inputs in build/fuzz-crashes/:" >&2
	echo "$found" | sed 's/^/  /' >&2
fi
if [ -n "$failed" ]; then
	echo "fuzz.sh: FAILED:$failed (logs: build/fuzz-crashes/fuzz_<target>.log)" >&2
	exit 1
fi
echo "fuzz.sh: no crash in:$(echo " $TARGETS")" >&2
