#!/bin/sh
# run.sh: install missing Debian packages, build, start the constellation
# on the embedded default (config/opcenter.yaml: local board, stub backend,
# ipc sockets under ./state), create the demo git repo, run the demo task
# end to end and show `opc status`.  The constellation keeps running:
#   build/run/bin/opc -c config/opcenter.yaml status | sub | task list | down
# Environment: BUILD_DIR (default build/run), OPC_CONFIG (default
# config/opcenter.yaml), GOAL (the demo's goal).
set -eu
cd "$(dirname "$0")/.."
. scripts/deps.sh

BUILD_DIR=${BUILD_DIR:-build/run}
CONFIG=${OPC_CONFIG:-config/opcenter.yaml}
GOAL=${GOAL:-Write a tiny hello-world execution artifact}
OPC="$BUILD_DIR/bin/opc"

echo "== build ($BUILD_DIR)"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DOPC_TESTS=OFF >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"

# The demo repository the stub backend works on: a real git repo with a
# main branch, cloned by the executor for every run.
REPO=state/demo-repo
if [ ! -d "$REPO/.git" ]; then
	echo "== demo repo ($REPO)"
	mkdir -p "$REPO"
	git -C "$REPO" init -q -b main
	printf '# demo\n\nA repository for the opcenter demo.\n' >"$REPO/README.md"
	git -C "$REPO" add README.md
	git -C "$REPO" -c user.name="opcenter" \
	    -c user.email="opcenter@localhost" commit -q -m "initial commit"
	# pushes from runs land on branches in the repo, never on main
	git -C "$REPO" config receive.denyCurrentBranch refuse
fi

echo "== up"
"$OPC" -c "$CONFIG" up

echo "== demo"
set +e
"$OPC" -c "$CONFIG" demo --goal "$GOAL" --repo-key demo
rc=$?
set -e

echo "== status"
"$OPC" -c "$CONFIG" status || true
echo
echo "The constellation is still running.  Try:"
echo "  $OPC -c $CONFIG task list"
echo "  $OPC -c $CONFIG runs list"
echo "  $OPC -c $CONFIG sub"
echo "  $OPC -c $CONFIG down"
exit $rc
