#!/bin/sh
# test.sh: install missing Debian packages, build with -Werror and
# ASan+UBSan, run the whole ctest suite.  Exit status is ctest's.
#   BUILD_DIR   build directory (default build/test)
#   JOBS        parallel build/test jobs (default: nproc)
set -eu
cd "$(dirname "$0")/.."
. scripts/deps.sh

BUILD_DIR=${BUILD_DIR:-build/test}
JOBS=${JOBS:-$(nproc)}

cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DOPC_WERROR=ON -DSANITIZER=address,undefined >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$BUILD_DIR"
exec ctest --output-on-failure -j "$JOBS" "$@"
