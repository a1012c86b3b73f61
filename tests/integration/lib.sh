# lib.sh - shared helpers of the integration scripts (sourced).
# Sets T (a temp dir removed on exit unless KEEP is set) and fails.
T=$(mktemp -d /tmp/opcit.XXXXXX)
fails=0
export GIT_CONFIG_NOSYSTEM=1 HOME=$T
# ctest gives every test tests/lsan.supp (cmake/Helpers.cmake); a script
# run by hand from a checkout gets it here
if [ -z "${LSAN_OPTIONS:-}" ] &&
    top=$(git -C "$(dirname "$0")" rev-parse --show-toplevel 2>/dev/null); then
	export LSAN_OPTIONS="suppressions=$top/tests/lsan.supp"
fi

ok()    { echo "ok - $*"; }
bad()   { echo "FAIL - $*"; fails=$((fails + 1)); }
# check DESC CMD...: run CMD (a command or shell function), report.
check() { desc=$1; shift; if "$@"; then ok "$desc"; else bad "$desc"; fi; }
# wait_for SECONDS CMD...: retry CMD every 0.2 s until it succeeds.
# The polls skip LeakSanitizer's scan at exit, 40% of an opc call's CPU
# under ASan (the opc CLI, mostly polled here, was a sixth of the CPU in
# a sample of the suite); the checks' own calls keep it.
wait_for() {
	n=$(($1 * 5)); shift
	_asan=${ASAN_OPTIONS-}
	export ASAN_OPTIONS="${_asan:+$_asan:}detect_leaks=0"
	while [ "$n" -gt 0 ]; do
		if "$@" >/dev/null 2>&1; then
			ASAN_OPTIONS=$_asan
			return 0
		fi
		sleep 0.2; n=$((n - 1))
	done
	ASAN_OPTIONS=$_asan
	return 1
}
# is_up FILE: whether `opc up`'s output FILE says it is up; if not, that
# output, `opc status` and the supervisor's log go into the test's, so a
# CI log shows why (needs OPC and CFG; the state dir st beside CFG)
is_up() {
	grep -q "opcenter is up" "$1" && return 0
	sed 's|^|# opc up: |' "$1"
	"$OPC" -c "$CFG" status 2>&1 | sed 's|^|# opc status: |'
	tail -n 40 "$(dirname "$CFG")/st/log/supervisor.log" 2>/dev/null |
	    sed 's|^|# supervisor.log: |'
	return 1
}
# show_task ID: a task's board record and comments, its runs in the
# router's db and its lines in the daemons' logs, into the test's output
# (for a check about ID that failed; needs OPC and CFG, state dir st)
show_task() {
	"$OPC" -c "$CFG" task show "$1" 2>&1 | sed 's|^|# task: |'
	sqlite3 "$(dirname "$CFG")/st/router.db" "select run_id, attempt,
	    executor, state, coalesce(status, '') from rrun where task_id =
	    '$1'" 2>&1 | sed 's|^|# rrun: |'
	for r in $(sqlite3 "$(dirname "$CFG")/st/router.db" "select run_id
	    from rrun where task_id = '$1'" 2>/dev/null); do
		tail -n 20 "$(dirname "$CFG")/st/workspaces/$r.worker.log" \
		    2>/dev/null | sed "s|^|# $r.worker.log: |"
	done
	grep -h -- "$1" "$(dirname "$CFG")"/st/log/*.log 2>/dev/null |
	    tail -n 40 | sed 's|^|# log: |'
}
# finish: fail on any sanitizer report a (restarted) process left in its
# output, then print the tally and exit with it.
finish() {
	if grep -rl -e "ERROR: AddressSanitizer" -e "ERROR: LeakSanitizer" \
	    -e "runtime error:" "$T" --include='*.out' --include='*.log' \
	    --include='*.err' >"$T/.san" 2>/dev/null; then
		bad "sanitizer reports in: $(tr '\n' ' ' <"$T/.san")"
		# the report itself, so a CI log shows what it was
		while read -r f; do
			grep -m1 -A40 -e "ERROR: AddressSanitizer" \
			    -e "ERROR: LeakSanitizer" -e "runtime error:" "$f" |
			    sed "s|^|# $(basename "$f"): |"
		done <"$T/.san"
	else
		ok "no sanitizer reports"
	fi
	echo "$fails failures"
	[ "$fails" -eq 0 ]
}
# cleanup CONFIG: stop the constellation and remove T (trap helper).
cleanup() {
	"$OPC" -c "$1" down --wait 30 >/dev/null 2>&1
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
# mkrepo NAME: a git repo under T with src/a.txt on main.
mkrepo() {
	mkdir -p "$T/$1/src" && git -C "$T/$1" init -q -b main &&
	    echo "x" >"$T/$1/src/a.txt" && git -C "$T/$1" add -A &&
	    git -C "$T/$1" -c user.name=t -c user.email=t@t commit -qm init
}
# task helpers (need OPC and CFG)
task_state() { "$OPC" -c "$CFG" task show "$1" --json | jq -r .task.state; }
state_is() { [ "$(task_state "$1")" = "$2" ]; }
add() { "$OPC" -c "$CFG" task add "$@" | cut -d' ' -f1; }
has_comment() { "$OPC" -c "$CFG" task show "$1" --json |
    jq -r '.comments[].body' | grep -q "$2"; }
