#!/bin/sh
# test_multihost.sh BIN_DIR: one constellation split across three network
# namespaces ("hosts") joined by veth pairs on a bridge, over tcp:// and
# then over tls+tcp:// (mutual TLS, certificates made here with openssl):
#   hosta: board-sync, recorder, escalator   (10.77.0.1, the bridge)
#   hostb: router                            (10.77.0.2)
#   hostc: executor@hostc (stub backend)     (10.77.0.3)
# Every host gets a byte-identical copy of one config (relative state_dir
# and tls paths, so each host has its own state and certificate), names
# resolve through /etc/netns/<ns>/hosts.  Per round: MULTIHOST_TASKS tasks
# (default 30), then hostb's link is cut for CUT_S seconds (default 5) and
# its tcp connections reset while 10 more are added, and healed.  Checked: every task Done once, one
# successful run per task and no task run twice, one evidence record per
# finished run, every cursor caught up across hosts (time after the heal is
# printed), `opc down` ends on every host.
#
# Phase fence: an executor host cut off from everyone for longer than the
# lease while it runs tasks (a second executor on hosta takes them over):
# its workers stop at half the lease, before the router takes their runs
# back, push nothing, and after the heal every task is Done once with one
# success, the runs taken back recorded superseded (see fence below).
#
# MULTIHOST_PHASES picks the phases (default "tcp tls fence").  Needs root
# and `ip netns`; exits 77 (ctest SKIP_RETURN_CODE) otherwise.
set -u
BIN=$1
OPC="$BIN/opc"
N=${MULTIHOST_TASKS:-30}
M=10
CUT_S=${CUT_S:-5}
PHASES=${MULTIHOST_PHASES:-tcp tls fence}

skip() { echo "SKIP: needs root and ip netns ($1)"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "not root"
command -v ip >/dev/null 2>&1 || skip "no ip command (iproute2)"
command -v openssl >/dev/null 2>&1 || skip "no openssl"
SUF=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
NSA=opcmh-$SUF-a NSB=opcmh-$SUF-b NSC=opcmh-$SUF-c
. "$(dirname "$0")/lib.sh"

ms() { echo $(($(date +%s%N) / 1000000)); }
nsof() { case $1 in a) echo "$NSA" ;; b) echo "$NSB" ;; *) echo "$NSC" ;; esac; }
# on HOST CMD...: run CMD in HOST's namespace (a, b or c)
on() { h_=$1; shift; ip netns exec "$(nsof "$h_")" "$@"; }
# opch HOST ARGS...: opc on HOST with HOST's copy of the round's config
opch() { h_=$1; shift; ip netns exec "$(nsof "$h_")" "$OPC" -c "$R/host$h_/opcenter.yaml" "$@"; }
# reach HOST ADDR: a tcp connect from HOST to ADDR:9 is answered (accepted
# or refused) within 2 s; a cut link answers nothing
reach() { out_=$(on "$1" timeout 2 bash -c ": <>/dev/tcp/$2/9" 2>&1) ||
	echo "$out_" | grep -q "refused"; }
cut_off() { ! reach b hosta && ! reach b hostc; }

# teardown: stop every host (bounded: nng_close may hang on a vanished tcp
# peer), kill -9 what is left in our namespaces, delete them.
stop_hosts() {
	for h in a b c; do
		[ -f "$R/host$h/opcenter.yaml" ] || continue
		timeout 40 ip netns exec "$(nsof $h)" \
		    "$OPC" -c "$R/host$h/opcenter.yaml" down --wait 20 \
		    >"$R/host$h/down.out" 2>&1 &
	done
	wait
}
teardown() {
	[ -n "${R:-}" ] && stop_hosts
	for ns in "$NSA" "$NSB" "$NSC"; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -n "$pids" ] && kill -9 $pids 2>/dev/null
		ip netns del "$ns" 2>/dev/null
		rm -rf "/etc/netns/$ns"
	done
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap teardown EXIT
trap 'exit 1' INT TERM

# --- the network: a bridge in hosta, a veth to each of hostb and hostc -----
ip netns add "$NSA" 2>/dev/null || skip "ip netns add failed"
ip netns add "$NSB" && ip netns add "$NSC" || { bad "netns"; exit 1; }
for ns in "$NSA" "$NSB" "$NSC"; do
	ip -n "$ns" link set lo up
	mkdir -p "/etc/netns/$ns"
	printf '127.0.0.1 localhost\n10.77.0.1 hosta\n10.77.0.2 hostb\n10.77.0.3 hostc\n' \
	    >"/etc/netns/$ns/hosts"
done
ip -n "$NSA" link add br0 type bridge &&
    ip -n "$NSA" addr add 10.77.0.1/24 dev br0 &&
    ip -n "$NSA" link set br0 up || { bad "bridge"; exit 1; }
n=2
for ns in "$NSB" "$NSC"; do
	v=v$n
	ip link add "$v" netns "$NSA" type veth peer name eth0 netns "$ns" &&
	    ip -n "$NSA" link set "$v" master br0 up &&
	    ip -n "$ns" addr add "10.77.0.$n/24" dev eth0 &&
	    ip -n "$ns" link set eth0 up || { bad "veth to $ns"; exit 1; }
	n=$((n + 1))
done
check "hostb reaches hostc through hosta's bridge" wait_for 10 reach b hostc

# --- certificates: one CA, one per host (its name in subjectAltName) ---------
cert() { # cert DIR NAME CA_DIR: DIR/host.{pem,key} for NAME signed by CA_DIR
	mkdir -p "$1"
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	    -keyout "$1/host.key" -out "$1/host.csr" -subj "/CN=$2" &&
	    echo "subjectAltName=DNS:$2" >"$1/ext" &&
	    openssl x509 -req -in "$1/host.csr" -CA "$3/ca.pem" \
	    -CAkey "$3/ca.key" -CAcreateserial -days 2 -extfile "$1/ext" \
	    -out "$1/host.pem" && cp "$3/ca.pem" "$1/ca.pem"
}
ca() { mkdir -p "$1" && openssl req -x509 -newkey ec \
    -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$1/ca.key" \
    -out "$1/ca.pem" -days 2 -subj "/CN=$2"; }
{ ca "$T/ca" opcenter-test-ca && ca "$T/rogue-ca" rogue-ca &&
    for h in a b c; do cert "$T/certs/host$h" "host$h" "$T/ca"; done &&
    cert "$T/certs/rogue" hosta "$T/rogue-ca"; } >"$T/openssl.out" 2>&1
check "certificates generated" [ $? -eq 0 ]

# the round's tasks FROM to TO, each retried with its request id until added
addn() { # addn FROM TO
	i=$1
	while [ "$i" -le "$2" ]; do
		tries=0
		until opch a task add --repo demo --request-id "$name-$i" \
		    --goal "multihost task $i: write the artifact" \
		    >/dev/null 2>&1; do
			tries=$((tries + 1)); [ $tries -gt 100 ] && break
			sleep 0.1
		done
		i=$((i + 1))
	done
}
# db HOST INSTANCE SQL: a query of an instance's db (the hosts share the disk)
db() { sqlite3 "$R/host$1/st/$2.db" "$3" 2>/dev/null; }
ndone() { db a board-sync "select count(*) from task where state = 'Done'"; }

# --- one round ------------------------------------------------------------------
# round NAME SCHEME PORTBASE CUT: CUT "soft" takes hostb's link down (tcp
# connections survive and retransmit after the heal); "hard" also resets
# every tcp connection of hostb, as a long outage or a lost firewall state
# would: nng redials after the heal and what pub/sub dropped meanwhile
# comes back by replay from the producers' journals.
round() {
	name=$1 scheme=$2 p=$3 cut=$4
	R=$T/$name
	mkrepo "repo-$name"
	tls=""
	# plain tcp authenticates no peer: opc's task add over it is allowed
	# only by the opt-in (test_svc checks the refusal)
	[ "$scheme" = tcp ] && tls="  insecure_ctl: true"
	[ "$scheme" = tls+tcp ] && tls="  tls: { ca_file: tls/ca.pem, cert_file: tls/host.pem, key_file: tls/host.key }"
	mkdir -p "$R/hosta"
	cat >"$R/hosta/opcenter.yaml" <<YAML
opcenter:
  state_dir: st
  heartbeat_ms: 250
$tls
# stale_after: a TLS handshake under ASan on 2 busy cores can delay the
# first heartbeat past 10 x 250 ms
supervisor: { restart_backoff_min: 100ms, stop_grace: 5s, stale_after: 10s }
repos:
  demo: { clone_url: $T/repo-$name, default_branch: main }
instances:
  board-sync:
    pub: $scheme://hosta:$((p + 1))
    ctl: $scheme://hosta:$((p + 2))
    upstreams: [router, executor@hostc]
  recorder:
    pub: $scheme://hosta:$((p + 3))
    ctl: $scheme://hosta:$((p + 4))
    upstreams: [router, executor@hostc, board-sync]
  escalator:
    pub: $scheme://hosta:$((p + 5))
    ctl: $scheme://hosta:$((p + 6))
    upstreams: [router, executor@hostc, board-sync, recorder]
    urls: []
  router:
    pub: $scheme://hostb:$((p + 11))
    ctl: $scheme://hostb:$((p + 12))
    upstreams: [board-sync, executor@hostc]
    lease: 60s
    budget: { max_per_hour: 100000, max_per_day: 100000, max_retries: 3, max_concurrent: 2 }
    breaker: { threshold: 1.0, window: 5, min_samples: 5 }
    default: { lane: aider_local, backend: stub }
  executor@hostc:
    pub: $scheme://hostc:$((p + 21))
    ctl: $scheme://hostc:$((p + 22))
    upstreams: [router]
    max_parallel: 2
    backends: { stub: { kind: stub } }
YAML
	for h in b c; do
		mkdir -p "$R/host$h" && cp "$R/hosta/opcenter.yaml" "$R/host$h/"
	done
	for h in a b c; do cp -r "$T/certs/host$h" "$R/host$h/tls"; done

	opch c up --only executor@hostc --wait 30 >"$R/hostc/up.out" 2>&1 &
	opch b up --only router --wait 30 >"$R/hostb/up.out" 2>&1 &
	opch a up --only board-sync,recorder,escalator --wait 30 \
	    >"$R/hosta/up.out" 2>&1 &
	wait
	for h in a b c; do
		check "$name: host$h up" grep -q "opcenter is up" "$R/host$h/up.out"
	done
	check "$name: the router on hostb hears the executor on hostc" \
	    wait_for 20 sh -c "ip netns exec $NSB '$OPC' -c '$R/hostb/opcenter.yaml' status --json |
	    jq -e '[.router.status.executors[].heartbeat_age_ms | select(. >= 0)] | length == 1'"
	if [ "$scheme" = tls+tcp ]; then
		# the same config without TLS: the listeners refuse plain tcp
		mkdir -p "$R/plain" "$R/rogue/tls"
		sed -e 's/tls+tcp:/tcp:/' -e '/  tls: {/d' \
		    "$R/hosta/opcenter.yaml" >"$R/plain/opcenter.yaml"
		check "$name: a plain tcp:// client gets no answer" \
		    sh -c "! ip netns exec $NSA timeout 30 '$OPC' -c '$R/plain/opcenter.yaml' task list >'$R/plain/out' 2>&1"
		# the right CA but a certificate another CA signed
		cp "$R/hosta/opcenter.yaml" "$R/rogue/" &&
		    cp "$T/certs/rogue/host.pem" "$T/certs/rogue/host.key" \
		    "$T/ca/ca.pem" "$R/rogue/tls/"
		check "$name: a client whose certificate another CA signed is refused" \
		    sh -c "! ip netns exec $NSA timeout 30 '$OPC' -c '$R/rogue/opcenter.yaml' task list >'$R/rogue/out' 2>&1"
		check "$name: the same command with hosta's certificate works" \
		    sh -c "ip netns exec $NSA '$OPC' -c '$R/hosta/opcenter.yaml' task list >/dev/null"
	fi

	addn 1 "$N"
	ok "$name: added $N tasks"
	wait_for 60 sh -c "[ \$(sqlite3 '$R/hosta/st/board-sync.db' \"select count(*) from task where state = 'Done'\") -ge 3 ]"
	# cut hostb (the router) off for CUT_S seconds while M tasks come in
	cut_done=$(ndone)
	t_cut=$(ms)
	ip -n "$NSA" link set v2 down
	if [ "$cut" = hard ]; then
		on b ss -K dst 10.77.0.1 >/dev/null 2>&1
		on b ss -K dst 10.77.0.3 >/dev/null 2>&1
		check "$name: hostb's connections to hosta and hostc reset" \
		    sh -c "! ip netns exec $NSB ss -tn state established | grep -q -e 10.77.0.1: -e 10.77.0.3:"
	fi
	addn $((N + 1)) $((N + M)) &
	adder=$!
	check "$name: link down (hostb reaches neither hosta nor hostc)" cut_off
	left=$((CUT_S * 1000 - ($(ms) - t_cut)))
	[ $left -gt 0 ] && sleep "$((left / 1000)).$(printf %03d $((left % 1000)))"
	heal_done=$(ndone)
	bs_seq=$(opch a status --json | jq '.["board-sync"].status.journal_seq')
	ip -n "$NSA" link set v2 up
	t_heal=$(ms)
	cut_ms=$((t_heal - t_cut))
	wait $adder
	# catch-up: the router has every event board-sync journaled up to the
	# heal (the tasks added during the cut among them)
	rejoined() { [ "$(opch b status --json | jq ".router.status.upstreams[\"board-sync\"].cursor")" -ge "$bs_seq" ]; }
	check "$name: the router caught up with board-sync after the heal" \
	    wait_for 60 rejoined
	t_rejoin=$(ms)
	all=$((N + M))
	final() { [ "$(ndone)" = "$all" ]; }
	check "$name: every task Done after the heal" wait_for 240 final
	t_final=$(ms)
	# caught up: every consumer's cursor = its producer's journal seq,
	# across the three hosts' status
	caught_up() {
		for h in a b c; do opch $h status --json 2>/dev/null || echo '{}'; done |
		    jq -s -e 'add | . as $all |
		    [to_entries[] | .value.status.upstreams? // {} | to_entries[] |
		     .value.cursor == $all[.key].status.journal_seq] |
		    (length == 12) and all' >/dev/null
	}
	check "$name: every consumer caught up (cursor = producer seq on every host)" \
	    wait_for 60 caught_up
	t_caught=$(ms)
	# one host's status lists the other hosts' instances too, asked over
	# the same tcp/tls urls
	everyone() {
		opch a status --json | jq -e '.router.remote and .router.alive and
		    (.router.status.journal_seq | type == "number") and
		    .["executor@hostc"].alive and
		    (.["board-sync"].remote | not)' >/dev/null
	}
	check "$name: opc status on host a shows host b's and c's instances" everyone
	tasks=$(db a board-sync "select count(*) from task")
	check "$name: exactly $all tasks on the board (got $tasks)" [ "$tasks" = "$all" ]
	succ=$(db b router "select count(*) from rrun where status = 'succeeded'")
	dup=$(db b router "select count(*) from (select task_id from rrun where status = 'succeeded' group by task_id having count(*) > 1)")
	runs=$(db b router "select count(*) from rrun")
	check "$name: one successful run per task ($succ for $all)" [ "$succ" = "$all" ]
	check "$name: no task succeeded twice ($dup)" [ "$dup" = 0 ]
	twice=$(db c executor@hostc "select count(*) from (select task_id from erun group by task_id having count(*) > 1)")
	fin=$(db c executor@hostc "select count(*) from erun where state = 'finished'")
	check "$name: no task run twice on the executor ($twice)" [ "$twice" = 0 ]
	check "$name: one run per task on the executor ($fin finished)" [ "$fin" = "$all" ]
	rec=$(db a recorder "select count(*) from runs where written = 1")
	recdup=$(db a recorder "select count(*) from (select task_id from runs where written = 1 group by task_id having count(*) > 1)")
	check "$name: one evidence record per executed run ($rec for $fin)" [ "$rec" = "$fin" ]
	check "$name: no task recorded twice ($recdup)" [ "$recdup" = 0 ]
	unpushed=0
	for r in $(db b router "select run_id from rrun where status = 'succeeded'"); do
		br=$(jq -r .branch_name "$R/hostc/st/workspaces/$r.result.json" 2>/dev/null)
		git -C "$T/repo-$name" rev-parse -q --verify "refs/heads/$br" \
		    >/dev/null 2>&1 || unpushed=$((unpushed + 1))
	done
	check "$name: every successful run's branch is in the repo ($unpushed missing)" [ "$unpushed" = 0 ]
	redials=$(cat "$R"/host?/st/log/*.log | grep -c '"svc.upstream_silent"')
	echo "# $name: $redials redials of silent upstreams during the run (svc.upstream_silent: the cut, and any half-open connection after it)"
	echo "# $name: $all tasks ($M added during a ${cut_ms} ms $cut cut), $tasks on the board, $succ successful runs of $runs, $fin executed, $rec records, $dup duplicates; Done: $cut_done at the cut, $heal_done at the heal; after the heal: router caught up with board-sync (seq $bs_seq) in $((t_rejoin - t_heal)) ms, all Done in $((t_final - t_heal)) ms, every cursor caught up in $((t_caught - t_heal)) ms"
	t0=$(ms)
	stop_hosts
	for h in a b c; do
		check "$name: opc down ends on host$h" grep -q "opcenter is down" "$R/host$h/down.out"
		check "$name: no process left on host$h" \
		    sh -c "[ -z \"\$(ip netns pids $(nsof $h))\" ]"
		pids=$(ip netns pids "$(nsof $h)"); [ -n "$pids" ] && kill -9 $pids
	done
	echo "# $name: opc down on the three hosts took $(($(ms) - t0)) ms"
	R=""
}

# --- fence: an executor host cut off for longer than the lease ------------------
# fence PORTBASE: the router on hostb, an executor on hostc and one on hosta
# (beside board-sync, recorder, escalator), plain tcp; a slow backend
# (FENCE_RUN_S, default 10 s) that notes in marks when it starts, is
# stopped and is done.  FENCE_TASKS (default 6) tasks go in; once hostc
# runs some, its link goes down for FENCE_CUT_S (default 2 leases of
# FENCE_LEASE_S, default 6 s).  A soft cut: tcp holds what was in flight
# and retransmits it after the heal, the router's old grants among it.
# Checked: hostc's workers stop during the cut (half a lease after their
# last grant, before the router takes their runs back), its executor says
# it has no grant, the router takes the runs back and hosta runs them;
# after the heal every task is Done once, one success per task (router and
# recorder), the runs taken back are superseded everywhere (router,
# recorder, one "Run taken back" comment each), interrupted with
# lease_lost on hostc, their backends never finished, no branch of theirs
# was pushed, and no task ever had two backends at once.
fence() {
	p=$1 name=fence
	lease_s=${FENCE_LEASE_S:-6} run_s=${FENCE_RUN_S:-10}
	cut_s=${FENCE_CUT_S:-$((2 * lease_s))} nt=${FENCE_TASKS:-6}
	R=$T/$name
	mkrepo "repo-$name"
	mkdir -p "$R/hosta"
	cat >"$R/slow.sh" <<'SH'
#!/bin/sh
# a slow run; its workspace is named after its run id
run=$(basename "$PWD")
ms() { echo $(($(date +%s%N) / 1000000)); }
trap 'echo "stop $run $(ms)" >>"$MARKS"; exit 143' TERM INT
echo "start $run $(ms)" >>"$MARKS"
sleep "$RUN_S" &
wait $!
echo fenced >src/fence.txt
echo "done $run $(ms)" >>"$MARKS"
SH
	chmod +x "$R/slow.sh"
	bk="backends: { slow: { kind: command, argv: [$R/slow.sh], env: { MARKS: $R/marks, RUN_S: \"$run_s\" }, sandbox: \"off\" } }"
	cat >"$R/hosta/opcenter.yaml" <<YAML
opcenter:
  state_dir: st
  heartbeat_ms: 250
  insecure_ctl: true
supervisor: { restart_backoff_min: 100ms, stop_grace: 5s, stale_after: 10s }
repos:
  demo: { clone_url: $T/repo-$name, default_branch: main }
instances:
  board-sync:
    pub: tcp://hosta:$((p + 1))
    ctl: tcp://hosta:$((p + 2))
    upstreams: [router, executor@hostc, executor@hosta]
  recorder:
    pub: tcp://hosta:$((p + 3))
    ctl: tcp://hosta:$((p + 4))
    upstreams: [router, executor@hostc, executor@hosta, board-sync]
  escalator:
    pub: tcp://hosta:$((p + 5))
    ctl: tcp://hosta:$((p + 6))
    upstreams: [router, executor@hostc, executor@hosta, board-sync, recorder]
    urls: []
  executor@hosta:
    pub: tcp://hosta:$((p + 7))
    ctl: tcp://hosta:$((p + 8))
    upstreams: [router]
    max_parallel: 2
    $bk
  router:
    pub: tcp://hostb:$((p + 11))
    ctl: tcp://hostb:$((p + 12))
    upstreams: [board-sync, executor@hostc, executor@hosta]
    lease: ${lease_s}s
    timeout_seconds: 120
    budget: { max_per_hour: 100000, max_per_day: 100000, max_retries: 5, max_concurrent: 4 }
    breaker: { threshold: 1.0, window: 5, min_samples: 5 }
    default: { lane: aider_local, backend: slow }
  executor@hostc:
    pub: tcp://hostc:$((p + 21))
    ctl: tcp://hostc:$((p + 22))
    upstreams: [router]
    max_parallel: 2
    $bk
YAML
	for h in b c; do
		mkdir -p "$R/host$h" && cp "$R/hosta/opcenter.yaml" "$R/host$h/"
	done
	opch c up --only executor@hostc --wait 30 >"$R/hostc/up.out" 2>&1 &
	opch b up --only router --wait 30 >"$R/hostb/up.out" 2>&1 &
	opch a up --only board-sync,recorder,escalator,executor@hosta \
	    --wait 30 >"$R/hosta/up.out" 2>&1 &
	wait
	for h in a b c; do
		check "$name: host$h up" grep -q "opcenter is up" "$R/host$h/up.out"
	done
	check "$name: the router on hostb hears both executors" \
	    wait_for 20 sh -c "ip netns exec $NSB '$OPC' -c '$R/hostb/opcenter.yaml' status --json |
	    jq -e '[.router.status.executors[].heartbeat_age_ms | select(. >= 0)] | length == 2'"
	addn 1 "$nt"
	ok "$name: added $nt tasks"
	# hostc's runs in flight: their backends started
	crun() { db c executor@hostc "select run_id from erun where state = 'running' order by run_id"; }
	backends_up() {
		[ -n "$(crun)" ] || return 1
		for r in $(crun); do grep -q "^start $r " "$R/marks" || return 1; done
	}
	check "$name: hostc runs tasks (their backends started)" wait_for 120 backends_up
	stale=$(crun)
	pids=$(db c executor@hostc "select pid from erun where state = 'running'")
	nstale=$(echo "$stale" | wc -w)

	# the cut: hostc reaches no one; nothing is reset, tcp holds it all
	t_cut=$(ms)
	ip -n "$NSA" link set v3 down
	check "$name: link down (hostc reaches neither hosta nor hostb)" \
	    sh -c "! ip netns exec $NSC timeout 2 bash -c ': <>/dev/tcp/hosta/9' 2>&1 | grep -q refused &&
	    ! ip netns exec $NSC timeout 2 bash -c ': <>/dev/tcp/hostb/9' 2>&1 | grep -q refused"
	gone() { for pid in $pids; do kill -0 "$pid" 2>/dev/null && return 1; done; return 0; }
	t_stop=-1
	k=$((cut_s * 10))
	while [ $k -gt 0 ]; do
		if gone; then t_stop=$(ms); break; fi
		sleep 0.1; k=$((k - 1))
	done
	check "$name: hostc's $nstale cut-off worker(s) stopped during the cut" [ "$t_stop" -ge 0 ]
	taken() { [ "$(db b router "select count(*) from rrun where state = 'superseded' and executor = 'executor@hostc'")" -ge "$nstale" ]; }
	check "$name: the router took hostc's runs back during the cut" \
	    wait_for $((cut_s)) taken
	# when the router took the first run back (its log; older routers
	# said "lease expired")
	t_taken=$(grep '"router.lease"' "$R/hostb/st/log/router.log" |
	    grep -e 'taken back' -e 'lease expired' |
	    sed 's/^{"ts":\([0-9]*\),.*/\1/' | awk -v c="$t_cut" '$1 >= c { print; exit }')
	stopped_first() { [ "$t_stop" -ge 0 ] && [ -n "$t_taken" ] && [ "$t_stop" -lt "$t_taken" ]; }
	check "$name: the cut-off workers stopped before the router took their runs back" \
	    stopped_first
	check "$name: hostc's executor says it has no grant" \
	    grep -q "no grant from the router" "$R/hostc/st/log/executor@hostc.log"
	left=$((cut_s * 1000 - ($(ms) - t_cut)))
	[ $left -gt 0 ] && sleep "$((left / 1000)).$(printf %03d $((left % 1000)))"
	ip -n "$NSA" link set v3 up
	t_heal=$(ms)

	final() { [ "$(ndone)" = "$nt" ]; }
	check "$name: every task Done after the heal" wait_for 300 final
	t_final=$(ms)
	caught_up() {
		for h in a b c; do opch $h status --json 2>/dev/null || echo '{}'; done |
		    jq -s -e 'add | . as $all |
		    [to_entries[] | .value.status.upstreams? // {} | to_entries[] |
		     .value.cursor == $all[.key].status.journal_seq] |
		    (length == 17) and all' >/dev/null
	}
	check "$name: every consumer caught up" wait_for 60 caught_up
	hostc_done() { [ -z "$(crun)" ]; }
	check "$name: hostc finished its stale runs" wait_for 60 hostc_done

	# every task Done once, one success each
	moves=$(grep '"board.move"' "$R/hosta/st/log/board-sync.log" | grep -c -- '-> Done')
	check "$name: each task moved to Done once ($moves moves for $nt)" [ "$moves" = "$nt" ]
	succ=$(db b router "select count(*) from rrun where status = 'succeeded'")
	check "$name: one successful run per task in the router ($succ)" [ "$succ" = "$nt" ]
	rsucc=$(db a recorder "select count(*) from runs where success = 1")
	rdup=$(db a recorder "select count(*) from (select task_id from runs where success = 1 group by task_id having count(*) > 1)")
	check "$name: one success per task in the recorder ($rsucc, $rdup twice)" \
	    [ "$rsucc/$rdup" = "$nt/0" ]
	recsup() { [ "$(db a recorder "select count(*) from runs where superseded = 1 and status = 'superseded' and coalesce(success, 0) = 0")" -ge "$nstale" ]; }
	check "$name: the recorder has the runs taken back superseded" wait_for 30 recsup
	# the runs taken back, one by one
	bad_runs=0
	for r in $stale; do
		task=$(db c executor@hostc "select task_id from erun where run_id = '$r'")
		why=""
		[ "$(db b router "select state from rrun where run_id = '$r'")" = superseded ] ||
		    why="$why not-superseded-in-router"
		[ "$(db a recorder "select superseded from runs where run_id = '$r'")" = 1 ] ||
		    why="$why not-superseded-in-recorder"
		res=$R/hostc/st/workspaces/$r.result.json
		[ "$(jq -r '.status + " " + (.lease_lost | tostring)' "$res" 2>/dev/null)" = "interrupted true" ] ||
		    why="$why result:$(jq -c '[.status, .lease_lost]' "$res" 2>/dev/null)"
		grep -q "lease lost" "$R/hostc/st/workspaces/$r.worker.log" ||
		    why="$why no-lease-lost-log"
		grep -q "^done $r " "$R/marks" && why="$why backend-finished"
		git -C "$T/repo-$name" for-each-ref --format='%(refname)' refs/heads |
		    grep -q -- "-$(echo "$r" | cut -c1-8)\$" && why="$why branch-pushed"
		nc=$(opch a task show "$task" --json | jq --arg r "$r" \
		    '[.comments[].body | select(startswith("Run taken back") and contains($r))] | length')
		[ "$nc" = 1 ] || why="$why taken-back-comments:$nc"
		# never two backends of one task at once: the stale backend
		# ended (stopped) before any other run of its task started
		end=$(sed -n -e "s/^stop $r //p" -e "s/^done $r //p" "$R/marks" | head -1)
		for o in $(db b router "select run_id from rrun where task_id = '$task' and run_id <> '$r'"); do
			st=$(sed -n "s/^start $o //p" "$R/marks")
			[ -z "$st" ] && continue
			if [ -z "$end" ] || [ "$end" -ge "$st" ]; then
				why="$why overlap-with-$o"
			fi
		done
		if [ -n "$why" ]; then
			bad_runs=$((bad_runs + 1))
			echo "# $name: run $r (task $task):$why"
		fi
	done
	check "$name: each run taken back: superseded, interrupted with lease_lost, stopped before its task ran again, no branch, one comment ($bad_runs bad)" \
	    [ "$bad_runs" = 0 ]
	branches=$(git -C "$T/repo-$name" for-each-ref refs/heads/opcenter/goal | wc -l)
	check "$name: one branch per task in the repo ($branches)" [ "$branches" = "$nt" ]
	echo "# $name: lease ${lease_s} s, cut ${cut_s} s (soft), $nstale run(s) in flight on hostc: its workers stopped $((t_stop - t_cut)) ms after the cut, the router took their runs back $((${t_taken:-0} - t_cut)) ms after it; all $nt tasks Done $((t_final - t_heal)) ms after the heal"
	t0=$(ms)
	stop_hosts
	for h in a b c; do
		check "$name: opc down ends on host$h" grep -q "opcenter is down" "$R/host$h/down.out"
		check "$name: no process left on host$h" \
		    sh -c "[ -z \"\$(ip netns pids $(nsof $h))\" ]"
		pids=$(ip netns pids "$(nsof $h)"); [ -n "$pids" ] && kill -9 $pids
	done
	echo "# $name: opc down on the three hosts took $(($(ms) - t0)) ms"
	R=""
}

R=""
for ph in $PHASES; do
	case $ph in
	tcp) round tcp tcp 7100 hard ;;
	tls) round tls tls+tcp 7200 hard ;;
	fence) fence 7300 ;;
	*) bad "unknown phase $ph (MULTIHOST_PHASES: tcp tls fence)" ;;
	esac
done
finish
