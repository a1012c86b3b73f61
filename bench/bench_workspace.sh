#!/usr/bin/env bash
# bench/bench_workspace.sh BIN_DIR WORK_DIR: what a run's workspace costs
# on a large repository, with the repo mirror (executor.mirror, the
# default) and with a full clone per run, side by side, through the real
# opc-exec-run (stub backend, no push).  Called by scripts/bench.sh; also
# runs alone.
#
# The repository is generated once with git fast-import and cached under
# BENCH_CACHE (default ~/.cache/opcenter-bench): WS_COMMITS commits
# (default 50000) on main, each rewriting one of WS_FILES files (default
# 2000) with WS_BLOB bytes (default 4400) of random data, so the history
# is over 200 MiB of pack that neither compresses nor deltas; the tree at
# the tip is WS_FILES * WS_BLOB bytes.  The clone URL is file:// (a pack
# transfer as from a remote, without network time).
#
# Prints key=value lines:
#   ws_repo_commits, ws_repo_pack_mib, ws_tree_mib    the repository
#   ws_plain_checkout_ms      read-tree + checkout-index of the tip into
#                             an empty directory (the floor)
#   ws_mirror_first_ms        the first run's preparation: mirror made and
#                             fetched (once per repo per host)
#   ws_mirror_prep_ms         median preparation of WS_RUNS (default 3)
#                             later runs (mirror fresh: clone --shared,
#                             checkout, branch)
#   ws_full_prep_ms           median preparation with a full clone
#   ws_mirror_git_kib, ws_full_git_kib   .git of one workspace
#   ws_mirror_disk_kib, ws_full_disk_kib whole workspace (with the tree)
#   ws_tree_kib                the checked-out tree alone (the plain
#                              checkout's disk): the floor any workspace
#                              with the files in it pays, mirror or not
#   ws_mirror_kib_total        the mirror itself, once per repo per host
#   ws_mirror_prep_x_checkout  mirror preparation / plain checkout
#   ws_mirror_disk_pct_full    whole mirror workspace as % of a full one:
#                              the figure the issue's "disk per workspace
#                              under 2% of a full clone" names
#   ws_tree_pct_full           the tree alone as % of a full clone: the
#                              lowest ws_mirror_disk_pct_full can go
#   ws_mirror_git_pct_full     mirror .git as % of a full clone's disk:
#                              what the mirror workspace adds above the
#                              floor (not the whole workspace)
# "Preparation" is the worker's own figure (its run.workspace log line:
# from the start of the clone or mirror step to the branch checked out).
set -euo pipefail
BIN=$1 W=$2
COMMITS=${WS_COMMITS:-50000}
FILES=${WS_FILES:-2000}
BLOB=${WS_BLOB:-4400}
RUNS=${WS_RUNS:-3}
CACHE=${BENCH_CACHE:-$HOME/.cache/opcenter-bench}
REPO=$CACHE/repo-$COMMITS-$FILES-$BLOB.git
export GIT_CONFIG_NOSYSTEM=1
mkdir -p "$W" "$CACHE"

ms() { date +%s%3N; }

# --- the repository, built once -----------------------------------------
if [ ! -f "$REPO/opc-complete" ]; then
	echo "# generating $REPO ($COMMITS commits; once, then cached)" >&2
	rm -rf "$REPO"
	git init -q --bare -b main "$REPO"
	t0=$(ms)
	perl -e '
	    my ($n, $files, $blob) = @ARGV;
	    open(my $r, "<", "/dev/urandom") or die;
	    binmode STDOUT;
	    my $t = 1600000000;
	    for my $i (1 .. $n) {
	        my $f = $i <= $files ? $i - 1 : int(rand($files));
	        read($r, my $d, $blob) == $blob or die;
	        printf "commit refs/heads/main\nmark :%d\n", $i;
	        printf "committer Bench <bench\@example.com> %d +0000\n",
	            $t + $i;
	        my $m = "change $i\n";
	        printf "data %d\n%s", length($m), $m;
	        print "from :", $i - 1, "\n" if $i > 1;
	        printf "M 100644 inline d%02d/f%05d.bin\ndata %d\n",
	            $f % 64, $f, $blob;
	        print $d, "\n";
	    }' "$COMMITS" "$FILES" "$BLOB" |
	    git -c pack.compression=0 --git-dir="$REPO" fast-import --quiet \
	        --big-file-threshold=1m
	# (fast-import wrote one pack, as a served repository has; random
	# data does not compress, so zlib is told not to try)
	touch "$REPO/opc-complete"
	echo "# generated in $((($(ms) - t0) / 1000)) s" >&2
fi
pack_kib=$(du -sk "$REPO/objects/pack" | cut -f1)
echo "ws_repo_commits=$(git --git-dir="$REPO" rev-list --count main)"
echo "ws_repo_pack_mib=$((pack_kib / 1024))"

# --- the floor: a plain checkout of the same tree -----------------------
co=$W/plain
rm -rf "$co"
mkdir -p "$co"
t0=$(ms)
GIT_INDEX_FILE=$W/plain.index git --git-dir="$REPO" read-tree main
GIT_INDEX_FILE=$W/plain.index git --git-dir="$REPO" --work-tree="$co" \
    checkout-index -a
plain=$(($(ms) - t0))
tree_kib=$(du -sk "$co" | cut -f1)
echo "ws_tree_mib=$((tree_kib / 1024))"
echo "ws_tree_kib=$tree_kib"
echo "ws_plain_checkout_ms=$plain"

# --- runs through the worker --------------------------------------------
n=0
# run MODE N: one stub run (MODE mirror|full); prints its preparation ms
run() {
	local mode=$1 i=$2 req=$W/req.$1.$2.json mirror=null
	[ "$mode" = mirror ] &&
	    mirror="{\"dir\": \"$W/mirrors\", \"fetch_interval_ms\": 3600000, \"gc_interval_ms\": 86400000}"
	cat >"$req" <<JSON
{"run_id": "bench000-0000-4000-8000-$(printf '%012d' "$i")",
 "task_id": "T-$i", "goal_text": "bench", "repo_key": "bench",
 "clone_url": "file://$REPO", "base_branch": "main",
 "task_branch": "bench/$mode-$i", "timeout_seconds": 600,
 "push_on_success": false, "backend_spec": {"kind": "stub"},
 "mirror": $mirror}
JSON
	"$BIN/opc-exec-run" --request "$req" --workspace "$W/ws.$mode.$i" \
	    --out "$W/res.$mode.$i.json" >"$W/log.$mode.$i" 2>&1
	[ "$(jq -r .status "$W/res.$mode.$i.json")" = succeeded ] || {
		cat "$W/log.$mode.$i" >&2
		return 1
	}
	sed -n 's/.*workspace ready in \([0-9]*\) ms.*/\1/p' "$W/log.$mode.$i"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

rm -rf "$W/mirrors"
echo "ws_mirror_first_ms=$(run mirror 0)"
for i in $(seq "$RUNS"); do run mirror "$i"; done >"$W/mirror.ms"
for i in $(seq "$RUNS"); do run full "$i"; done >"$W/full.ms"
mp=$(median <"$W/mirror.ms")
fp=$(median <"$W/full.ms")
echo "ws_mirror_prep_ms=$mp"
echo "ws_full_prep_ms=$fp"
# disk: one workspace each, the run's .opcenter/ (artifacts) left out
kib() { du -sk --exclude=.opcenter "$1" | cut -f1; }
mg=$(kib "$W/ws.mirror.1/.git")
fg=$(kib "$W/ws.full.1/.git")
md=$(kib "$W/ws.mirror.1")
fd=$(kib "$W/ws.full.1")
echo "ws_mirror_git_kib=$mg"
echo "ws_full_git_kib=$fg"
echo "ws_mirror_disk_kib=$md"
echo "ws_full_disk_kib=$fd"
echo "ws_mirror_kib_total=$(du -sk "$W/mirrors" | cut -f1)"
awk -v m="$mp" -v p="$plain" -v mg="$mg" -v md="$md" -v fd="$fd" \
    -v t="$tree_kib" 'BEGIN {
    printf "ws_mirror_prep_x_checkout=%.2f\n", m / (p > 0 ? p : 1)
    printf "ws_mirror_disk_pct_full=%.2f\n", 100 * md / fd
    printf "ws_tree_pct_full=%.2f\n", 100 * t / fd
    printf "ws_mirror_git_pct_full=%.2f\n", 100 * mg / fd }'
