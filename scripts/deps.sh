#!/bin/sh
# deps.sh: install the Debian packages opcenter needs, if missing.
# Sourced by run.sh, test.sh and bench.sh; safe to run twice.
OPC_PKGS="build-essential cmake ninja-build pkg-config git ca-certificates \
libnng-dev libmsgpack-dev libcurl4-openssl-dev libyaml-dev libsqlite3-dev \
libjansson-dev libmbedtls-dev libcmocka-dev sqlite3 jq procps curl \
openssl iproute2 clang libclang-rt-14-dev clang-format bubblewrap \
util-linux"
# what only the tests need (test.sh sets OPC_DEPS_TEST=1): the browser
# test_dash.sh drives; lintian, systemd-analyze and man for test_deb's
# checks of the package (each SKIPs its part, saying why, when missing)
OPC_TEST_PKGS="chromium lintian systemd man-db"

opc_deps() {
	missing=""
	for p in $OPC_PKGS ${OPC_DEPS_TEST:+$OPC_TEST_PKGS}; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q "install ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "deps: installing:$missing" >&2
	SUDO=""
	[ "$(id -u)" -ne 0 ] && SUDO="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -q >/dev/null &&
	    $SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null ||
	    { echo "deps: apt-get install failed" >&2; return 1; }
}

opc_deps
