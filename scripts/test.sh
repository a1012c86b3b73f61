#!/bin/sh
# test.sh: install missing Debian packages, build with -Werror and
# ASan+UBSan, run the whole ctest suite, then the threaded tests under
# ThreadSanitizer (scripts/tsan.sh, its own small build in build/tsan).
# Exit status: ctest's, else tsan.sh's; a TSan SKIP (it cannot run on
# this kernel) is said on stderr and does not fail the run.
#   BUILD_DIR   build directory (default build/test)
#   JOBS        parallel build jobs (default: nproc)
#   TEST_JOBS   parallel ctest jobs (default: nproc + 1: the long
#               integration tests mostly wait on their daemons, and on 2
#               cores two of them held both slots for 6 minutes)
#   OPC_TSAN    0: leave the TSan step out (it says so)
set -eu
cd "$(dirname "$0")/.."
OPC_DEPS_TEST=1
. scripts/deps.sh

BUILD_DIR=${BUILD_DIR:-build/test}
JOBS=${JOBS:-$(nproc)}
TEST_JOBS=${TEST_JOBS:-$(($(nproc) + 1))}

cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DOPC_WERROR=ON -DSANITIZER=address,undefined >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
rc=0
(cd "$BUILD_DIR" && ctest --output-on-failure -j "$TEST_JOBS" "$@") || rc=$?

if [ "${OPC_TSAN:-1}" = 0 ]; then
	echo "test.sh: TSan step left out (OPC_TSAN=0)" >&2
	exit "$rc"
fi
trc=0
JOBS=$JOBS sh scripts/tsan.sh || trc=$?
case $trc in
0) ;;
77) echo "test.sh: TSan step SKIPPED (see above)" >&2 ;;
*) echo "test.sh: TSan step failed ($trc)" >&2
   [ "$rc" -ne 0 ] || rc=$trc ;;
esac
exit "$rc"
