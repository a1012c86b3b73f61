#!/bin/sh
# test_deb.sh BIN_DIR: the .deb of this build (issue 20.7).  cpack -G DEB
# from the build tree (no rebuild), its contents and Depends (dpkg-deb),
# lintian when installed (its errors fail, warnings are listed), then an
# install into a scratch root (dpkg --root with chrootless maintainer
# scripts: DPKG_ROOT, so only that root's passwd and /var/lib change),
# systemd-analyze verify of the installed unit, man -l of both pages,
# the bash completion against `opc --help`, and a purge.  Nothing of the
# real system changes.  SKIP (77) without cpack or dpkg-deb; the parts
# that need root or systemd-analyze say SKIP and why.
BIN=$(cd "$1" && pwd)
B=$(dirname "$BIN")
. "$(dirname "$0")/lib.sh"
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT

for c in cpack dpkg-deb dpkg; do
	command -v $c >/dev/null ||
	    { echo "SKIP: $c not installed (Debian's dpkg, cmake)"; exit 77; }
done
[ -f "$B/CPackConfig.cmake" ] ||
    { echo "SKIP: $B has no CPackConfig.cmake"; exit 77; }

# --- the package
(cd "$B" && cpack -G DEB -B "$T/pkg") >"$T/cpack.log" 2>&1 ||
    { cat "$T/cpack.log"; bad "cpack -G DEB"; }
DEB=$(ls "$T"/pkg/opcenter_*.deb 2>/dev/null | head -1)
check "cpack made $(basename "${DEB:-no .deb}")" test -f "$DEB"
[ -f "$DEB" ] || { finish; exit 1; }

dpkg-deb -c "$DEB" >"$T/contents" 2>&1
has() { grep -q " \./$1\$" "$T/contents"; }
for p in opc opc-supervisor opc-board-sync opc-router opc-executor \
    opc-exec-run opc-git-credential opc-recorder opc-escalator opc-webhook \
    opc-observer opc-observe-run opc-insighter opc-proposer; do
	has "usr/bin/$p" || bad "contents: no usr/bin/$p"
	[ $p = opc-git-credential ] || has "usr/share/man/man1/$p.1.gz" ||
	    bad "contents: no man1/$p.1.gz"
done
ok "contents: every program in usr/bin, each with its man page"
for f in lib/systemd/system/opc-supervisor.service \
    etc/opcenter/opcenter.yaml etc/opcenter/opcenter.env \
    usr/share/man/man1/opc.1.gz usr/share/man/man5/opcenter.yaml.5.gz \
    usr/share/bash-completion/completions/opc \
    usr/share/doc/opcenter/copyright \
    usr/share/doc/opcenter/changelog.Debian.gz \
    usr/share/doc/opcenter/examples/opcenter.example.yaml \
    usr/share/doc/opcenter/examples/opcenter.multihost.yaml; do
	check "contents: $f" has "$f"
done
check "contents: no test programs" \
    sh -c "! grep -E 'opc-(test|fixture)|bench_' '$T/contents'"
check "contents: opcenter.env is 0600 (secrets)" \
    grep -q '^-rw------- root/root .* \./etc/opcenter/opcenter.env$' \
    "$T/contents"

deps=$(dpkg-deb -f "$DEB" Depends)
echo "# Depends: $deps"
for d in libc6 libnng1 libsqlite3-0 libyaml-0-2 libjansson4 libcurl4 \
    bubblewrap git passwd; do
	case ", $deps" in
	*", $d "* | *", $d,"* | *", $d") ;;
	*) bad "Depends: no $d" ;;
	esac
done
ok "Depends: the libraries it links (dpkg-shlibdeps) and its programs"
dpkg-deb -e "$DEB" "$T/ctl"
check "conffiles: /etc/opcenter/opcenter.yaml and .env" sh -c \
    "grep -qx /etc/opcenter/opcenter.yaml '$T/ctl/conffiles' &&
     grep -qx /etc/opcenter/opcenter.env '$T/ctl/conffiles'"
check "maintainer scripts enable and start nothing" sh -c \
    "! cat '$T'/ctl/postinst '$T'/ctl/prerm '$T'/ctl/postrm |
    grep -v '^[[:space:]]*#' |
    grep -nE 'systemctl.* (enable|start)|invoke start|helper enable'"

# --- lintian: errors fail (none is justified); warnings are listed.
# Known warnings: no-manual-page for opc-git-credential (git runs it),
# non-standard-file-perm (opcenter.env is 0600: secrets),
# initial-upload-closes-no-bugs, maintainer-script-should-not-parse-
# etc-passwd-or-group (DPKG_ROOT's passwd: getent reads this system's).
if command -v lintian >/dev/null; then
	lintian --tag-display-limit 0 "$DEB" >"$T/lintian" 2>&1
	sed 's/^/# lintian: /' "$T/lintian"
	check "lintian: no errors ($(grep -c '^W:' "$T/lintian") warnings)" \
	    sh -c "! grep -q '^E:' '$T/lintian'"
else
	echo "SKIP lintian: not installed (apt-get install lintian)"
fi

# --- install into a scratch root
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP install into a scratch root: dpkg must run as root" \
	    "(it chowns what it unpacks)"
	finish
	exit $?
fi
R=$T/root
mkdir -p "$R/etc" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/info" \
    "$R/var/lib/dpkg/triggers"
: >"$R/var/lib/dpkg/status"
echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
echo 'root:x:0:' >"$R/etc/group"
echo 'root:*:19000:0:99999:7:::' >"$R/etc/shadow"
echo 'root:*::' >"$R/etc/gshadow"
chmod 0640 "$R/etc/shadow" "$R/etc/gshadow"
# the libraries are this system's, not in R's dpkg database
dpkg --root="$R" --force-script-chrootless --force-depends --log=/dev/null \
    -i "$DEB" >"$T/dpkg-i.log" 2>&1 ||
    { cat "$T/dpkg-i.log"; bad "dpkg --root -i"; }
check "installed" sh -c "dpkg-query --admindir='$R/var/lib/dpkg' -W \
    -f='\${Status}' opcenter | grep -qx 'install ok installed'"
check "postinst: the opcenter system user in R (not here)" sh -c \
    "grep -q '^opcenter:x:[0-9]*:[0-9]*:.*:/var/lib/opcenter:/usr/sbin/nologin\$' \
    '$R/etc/passwd' && grep -q '^opcenter:' '$R/etc/group'"
uid=$(awk -F: '$1 == "opcenter" { print $3 }' "$R/etc/passwd")
check "postinst: /var/lib/opcenter 0700 of opcenter (uid ${uid:-?})" \
    sh -c "[ \"\$(stat -c '%a %u' '$R/var/lib/opcenter')\" = '700 $uid' ]"
check "the unit is not enabled" \
    sh -c "! ls '$R'/etc/systemd/system/*.wants/opc-supervisor.service \
    2>/dev/null"
check "installed opc runs" sh -c "'$R/usr/bin/opc' --help | grep -q demo"
check "installed config passes opc config check" \
    "$R/usr/bin/opc" config check -c "$R/etc/opcenter/opcenter.yaml"
U=$R/lib/systemd/system/opc-supervisor.service
check "unit: ExecStart is /usr/bin/opc-supervisor, config in /etc" grep -qx \
    'ExecStart=/usr/bin/opc-supervisor -c /etc/opcenter/opcenter.yaml $OPC_ARGS' \
    "$U"
check "unit: hardening kept, the sandbox's namespaces allowed" sh -c \
    "grep -qx 'NoNewPrivileges=yes' '$U' && grep -qx 'ProtectSystem=full' '$U' &&
     grep -qx 'RestrictNamespaces=user mnt pid net' '$U' &&
     ! grep -qE '^(PrivateUsers|ProtectKernelTunables|ProtectProc)=' '$U'"

# systemd-analyze verify in R: its targets copied from this system (the
# unit pulls in sysinit.target and the rest); any message fails
if command -v systemd-analyze >/dev/null &&
    [ -d /lib/systemd/system ]; then
	mkdir -p "$R/usr/lib/systemd/system"
	cp /lib/systemd/system/*.target /lib/systemd/system/*.slice \
	    "$R/usr/lib/systemd/system/" 2>/dev/null
	systemd-analyze verify --man=no --root="$R" \
	    /lib/systemd/system/opc-supervisor.service >"$T/verify" 2>&1
	rc=$?
	sed 's/^/# verify: /' "$T/verify"
	check "systemd-analyze verify: clean" \
	    sh -c "[ $rc -eq 0 ] && [ ! -s '$T/verify' ]"
else
	echo "SKIP systemd-analyze verify: systemd-analyze not installed" \
	    "(Debian package systemd)"
fi

# man -l: both pages render, with every command and top-level section
if command -v man >/dev/null; then
	export MANWIDTH=100 LC_ALL=C.UTF-8
	man -l "$R/usr/share/man/man1/opc.1.gz" >"$T/man1" 2>"$T/man1.err"
	man -l "$R/usr/share/man/man5/opcenter.yaml.5.gz" >"$T/man5" \
	    2>"$T/man5.err"
	check "man -l opc.1: renders, no warnings" \
	    sh -c "grep -q '^COMMANDS' '$T/man1' && [ ! -s '$T/man1.err' ]"
	check "man -l opcenter.yaml.5: renders, no warnings" \
	    sh -c "grep -q '^INSTANCES' '$T/man5' && [ ! -s '$T/man5.err' ]"
	n=0
	for m in "$R"/usr/share/man/man1/opc-*.1.gz; do
		man -l "$m" 2>&1 >"$T/m" | grep . && n=$((n + 1))
		grep -q '^SYNOPSIS' "$T/m" || n=$((n + 1))
	done
	check "man -l: the daemons' pages render, no warnings" test $n -eq 0
	"$BIN/opc" --help | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' \
	    >"$T/cmds"
	n=0
	while read -r c; do
		grep -q "^       $c" "$T/man1" || { bad "opc(1): no $c"; n=1; }
	done <"$T/cmds"
	[ $n -eq 0 ] && ok "opc(1): all $(wc -l <"$T/cmds") commands"
	# explain's top-level sections and services, each in the page
	"$BIN/opc" config explain | sed -n -e '/^instances:/d' \
	    -e 's/^\([a-z_]*\):.*/       \1 /p' \
	    -e 's/^  <name>: *# service \([a-z-]*\):.*/   service: \1 /p' \
	    >"$T/sections"
	n=0
	while IFS= read -r s; do
		sed 's/$/ /' "$T/man5" | grep -q "^$s" ||
		    { bad "opcenter.yaml(5): no '$s'"; n=1; }
	done <"$T/sections"
	check "opcenter.yaml(5): explain's $(wc -l <"$T/sections") sections, services" \
	    sh -c "[ $n -eq 0 ] &&
	    grep -q 'instances.<name>.max_parallel' '$T/man5'"
else
	echo "SKIP man -l: man not installed"
fi
# the build's pages are what opc --doc writes (exit 0: under ASan, no
# leak), and an unknown page is refused
for w in man1:opc.1 man5:opcenter.yaml.5 bash:opc.bash; do
	check "opc --doc ${w%%:*}: exit 0, the build's ${w#*:}" sh -c \
	    "'$BIN/opc' --doc ${w%%:*} >'$T/doc' && cmp -s '$T/doc' '$B/doc/${w#*:}'"
done
"$BIN/opc" --doc man2 >/dev/null 2>"$T/doc.err"
check "opc --doc man2: refused (2)" sh -c "[ $? -eq 2 ] &&
    grep -q 'man1, man5 or bash' '$T/doc.err'"

# the completion loads in bash and offers what opc --help lists
if command -v bash >/dev/null; then
	C=$R/usr/share/bash-completion/completions/opc
	# comp WORD...: what _opc offers for the last word, one a line
	comp() {
		bash -c '. "$1" && shift && COMP_WORDS=("$@") &&
		    COMP_CWORD=$(($# - 1)) && _opc &&
		    printf "%s\n" "${COMPREPLY[@]}"' comp "$C" "$@"
	}
	check "completion loads: complete -F _opc opc" sh -c \
	    "bash -c '. \"$C\" && complete -p opc' | grep -q '_opc opc\$'"
	comp opc "" | grep -v '^-' | sort >"$T/comp"
	check "completion: exactly opc --help's commands" \
	    sh -c "sort '$T/cmds' | cmp -s - '$T/comp'"
	check "completion: opc -c F ta -> task" \
	    test "$(comp opc -c F ta)" = task
	check "completion: opc task -> add list show move comment resume" \
	    test "$(comp opc task "" | tr '\n' ' ')" = \
	    "add list show move comment resume "
	check "completion: opc config explain ex -> executor" \
	    test "$(comp opc config explain ex)" = executor
	check "completion: opc pause --st -> --stop-running" \
	    test "$(comp opc pause --st)" = --stop-running
	check "completion: opc -c F<TAB> completes files" \
	    test "$(cd "$T" && comp opc -c con)" = contents
else
	echo "SKIP completion: bash not installed"
fi

# purge: the programs go, the operator's records stay
dpkg --root="$R" --force-script-chrootless --log=/dev/null --purge opcenter \
    >"$T/dpkg-p.log" 2>&1 || { cat "$T/dpkg-p.log"; bad "dpkg --purge"; }
check "purge: programs, unit and conffiles gone; /var/lib/opcenter kept" \
    sh -c "[ ! -e '$R/usr/bin/opc' ] && [ ! -e '$U' ] &&
    [ ! -e '$R/etc/opcenter/opcenter.yaml' ] && [ -d '$R/var/lib/opcenter' ]"
finish
