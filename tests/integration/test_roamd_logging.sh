#!/usr/bin/env bash
# Where a daemonised roamd's log lines go (src/roamd/main.c, log.c): to
# syslog when a syslog daemon listens on /dev/log; when none does, roamd
# says so on stderr before it detaches, so the loss is never silent. Each
# case runs roamd in a private /dev (a tmpfs with only /dev/null and
# /dev/net/tun, plus, for the second, a stand-in syslog socket at /dev/log
# that writes what it receives to a file), so the host's own /dev/log, if
# any, plays no part.
# shellcheck disable=SC2317 # case functions are called through t_check
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROAMD=${ROAM_TEST_ROAMD:-$ROOT/build/roamd}
[ -x "$ROAMD" ] || t_abort "build/roamd is missing (run make)"
command -v unshare >/dev/null || t_abort "unshare (util-linux) is missing"

A=$(rt_name a) W1=$(rt_name wl) W2=$(rt_name wm)

# A stand-in syslog daemon: a datagram socket at /dev/log, each message a
# line of argv[1], for up to 30 s.
PY_SYSLOG='
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log"); os.chmod("/dev/log", 0o666); s.settimeout(0.5)
out = open(sys.argv[1], "a", buffering=1)
t0 = time.time()
while time.time() - t0 < 30:
    try: out.write(s.recv(8192).decode(errors="replace") + "\n")
    except socket.timeout: pass
'

# private_dev WITH_SYSLOG CMD... — CMD in namespace A with a /dev of its own.
private_dev() {
	local with=$1
	shift
	nsx "$A" unshare -m --propagation private sh -c '
		mount -t tmpfs roamdev /dev && mkdir /dev/net &&
		mknod -m 666 /dev/null c 1 3 && mknod -m 600 /dev/net/tun c 10 200 || exit 97
		if [ "$1" = yes ]; then
			"$2" -c "$3" "$4" </dev/null >/dev/null 2>&1 &
			i=0; while [ ! -S /dev/log ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		fi
		shift 4
		exec "$@"' sh "$with" "$RT_PY" "$PY_SYSLOG" "$RT_TMP/syslog.txt" "$@"
}

t_check "lab comes up" ns_create "$A" || t_finish

without_syslog() {
	local err rc
	err=$(private_dev no timeout 10 "$ROAMD" "$W1" 2>&1)
	rc=$?
	echo "roamd exit $rc, stderr: $err"
	[ "$rc" = 0 ] && grep -q "no syslog daemon listens on /dev/log" <<<"$err" &&
		ip -n "$A" link show "$W1" >/dev/null
}
t_check "no syslog daemon: roamd says on stderr, before detaching, that its lines will be lost" without_syslog
ip -n "$A" link del "$W1" 2>/dev/null
t_check "and that roamd ends with its interface" wait_until 5 eval '! test -S "$RT_WG_RUN/$W1.sock"'

with_syslog() {
	local err rc
	: >"$RT_TMP/syslog.txt"
	err=$(private_dev yes timeout 10 "$ROAMD" "$W2" 2>&1)
	rc=$?
	echo "roamd exit $rc, stderr: '$err'"
	[ "$rc" = 0 ] && ! grep -q "syslog" <<<"$err" || return 1
	# A line logged after the start (and after the seccomp filter): the
	# interface going up.
	ip -n "$A" link set "$W2" up
	wait_until 5 grep -q "roamd.*$W2: interface up" "$RT_TMP/syslog.txt" || {
		echo "the stand-in syslog got:"
		cat "$RT_TMP/syslog.txt"
		return 1
	}
	grep -m1 "interface up" "$RT_TMP/syslog.txt"
}
t_check "a syslog daemon listens: nothing on stderr, the lines reach it (after the seccomp filter too)" with_syslog
ip -n "$A" link del "$W2" 2>/dev/null
t_check "and that roamd ends with its interface" wait_until 5 eval '! test -S "$RT_WG_RUN/$W2.sock"'

rt_cleanup
t_check "cleanup leaves no namespace or socket" rt_nothing_left
t_finish
