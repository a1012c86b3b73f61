#!/bin/sh
# tsan.sh: build the tests of the code that runs on more than one thread
# (the logger, the webhook's HTTP server, the webhook in-process and under
# 8 concurrent clients with its metrics thread, the dashboard's state
# thread and its HTTP server) with ThreadSanitizer and run them.  Only
# those targets are built, so this stays small beside test.sh's full
# build.  Any report fails the run (exit status 66 from
# the test, ctest fails).  Where TSan cannot map its shadow memory (a
# kernel with more mmap randomisation bits than this TSan handles) the
# tests run again under setarch -R; if that cannot help either, it says
# SKIP with the reason and exits 77, never 0.
#   TSAN_BUILD_DIR  build directory (default build/tsan)
#   JOBS            parallel build/test jobs (default: nproc)
set -eu
cd "$(dirname "$0")/.."

BUILD_DIR=${TSAN_BUILD_DIR:-build/tsan}
JOBS=${JOBS:-$(nproc)}
TESTS="test_log test_httpd test_webhook_svc test_webhook_threads
    test_dash_gather test_dash_web"

cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DOPC_WERROR=ON -DSANITIZER=thread -DOPC_FUZZ=OFF >/dev/null
# shellcheck disable=SC2086
cmake --build "$BUILD_DIR" -j "$JOBS" --target $TESTS

# Can a TSan program start here at all?  It fails before main when it
# cannot lay out its shadow memory.
probe="$BUILD_DIR/tsan_probe"
printf 'int main(void) { return (0); }\n' >"$probe.c"
"${CC:-cc}" -fsanitize=thread "$probe.c" -o "$probe"
RUN=""
if ! why=$("$probe" 2>&1); then
	if command -v setarch >/dev/null 2>&1 &&
	    setarch "$(uname -m)" -R "$probe" >/dev/null 2>&1; then
		echo "tsan: TSan cannot start with ASLR on this kernel;" \
		    "running the tests under setarch -R" >&2
		RUN="setarch $(uname -m) -R"
	else
		echo "tsan: SKIP: a ThreadSanitizer program cannot start" \
		    "here, even under setarch -R: $(echo "$why" | head -n 1)" >&2
		exit 77
	fi
fi

export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 \
suppressions=$PWD/tests/tsan.supp"
re="^($(echo $TESTS | tr ' ' '|'))\$"
cd "$BUILD_DIR"
# shellcheck disable=SC2086
exec $RUN ctest --output-on-failure -j "$JOBS" -R "$re"
