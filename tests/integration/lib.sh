# shellcheck shell=bash
# tests/integration/lib.sh — network-namespace lab for roam's integration tests.
#
# Source it from tests/integration/test_*.sh (run as root by tests/run-all):
#
#   set -u
#   . "$(dirname "$0")/lib.sh"
#   A=$(rt_name a) B=$(rt_name b) WA=$(rt_name wa) WB=$(rt_name wb)
#   ns_create "$A" "$B"
#   link_ns "$A" "$B" 192.0.2.1/24,fd00:1::1/64 192.0.2.2/24,fd00:1::2/64
#   wg_start wireguard-go "$A" "$WA"        # or: wg_start build/roamd "$A" "$WA"
#   ...
#   t_check "ping v4" ping_ok "$A" 198.18.0.2
#   t_finish                                # last line: "<script>: N passed, M failed"
#
# Naming. Everything a test creates is called rt<PID><letter>..., PID being the
# test shell's $$. Interface names are global where it matters: userspace
# WireGuard puts its UAPI socket at /var/run/wireguard/IFNAME.sock, and that
# directory is shared by all namespaces, so two tests (or both ends of one test)
# must never pick the same IFNAME. The letter after the PID keeps rt12a apart
# from rt123a when cleanup matches by prefix. IFNAMSIZ limits names to 15 chars.
#
# Cleanup. An EXIT trap kills every process started here and every process left
# in our namespaces, deletes the namespaces and our UAPI sockets, and removes the
# temp dir — also when the test dies half-way. t_finish cleans up *before*
# printing the summary so that line stays last (tests/run-all reads it).
#
# Addresses. Tests may only use 198.18.0.0/15, 192.0.2.0/24, 198.51.100.0/24,
# 203.0.113.0/24 and fd00::/8 (documentation/benchmark ranges, never routed
# anywhere real). link_ns, if_addr and wg endpoints refuse anything else.
#
# Synchronisation. Never sleep a fixed time: use wait_until, which polls every
# 50 ms up to a deadline. Every loop here is bounded in count and time.
#
# Data check. tcp_transfer sends N MiB of random bytes over TCP with Python's
# standard library (python3 is installed by scripts/install-deps.sh; no netcat
# variant or socat needed) and compares the SHA-256 computed by sender and
# receiver. iperf3 can't do that: it never checks the payload.

RT_PFX="rt$$"
RT_TMP=$(mktemp -d "/tmp/${RT_PFX}.XXXXXX")
RT_PIDS=()          # background processes we started (daemons, receivers)
RT_PASS=0
RT_FAIL=0
RT_FINISHED=0
RT_SCRIPT=$(basename "${0:-test}")
RT_WG_RUN=/var/run/wireguard
# Debian's interpreter is the one install-deps guarantees; any python3 will do.
RT_PY=$(command -v /usr/bin/python3 || command -v python3 || echo python3)
# The script's own stdout/stderr, kept on spare fds: a signal can arrive while
# t_check has a command's output redirected to a file, and the EXIT trap then
# runs with that redirection in force. Results always go to the real ones.
exec {RT_OUT}>&1 {RT_ERR}>&2

# ---------------------------------------------------------------------------
# Reporting

# t_ok NAME — record a passed case.
t_ok() {
	RT_PASS=$((RT_PASS + 1))
	echo "ok $1" >&"$RT_OUT"
}

# t_fail NAME REASON — record a failed case.
t_fail() {
	RT_FAIL=$((RT_FAIL + 1))
	echo "FAIL $1: ${2:-no reason given}" >&"$RT_OUT"
}

# t_check NAME CMD... — run CMD; pass if it exits 0, else fail with the tail of
# its output as the reason. CMD must bound its own run time. CMD runs in this
# shell (output to a file, not $(...)), so functions like wg_start can record
# the pids they start.
t_check() {
	local name=$1 rc
	shift
	"$@" >"$RT_TMP/check.out" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ]; then
		t_ok "$name"
	else
		t_fail "$name" "exit $rc: $(tail -n 5 "$RT_TMP/check.out" | tr '\n' ' ')"
	fi
	return "$rc"
}

# t_abort REASON — nothing can run here (e.g. not root): report one failed
# case and finish, so a broken lab can never look green.
t_abort() {
	t_fail "setup" "$1"
	t_finish
}

# t_finish — clean up, print "<script>: N passed, M failed" as the last line,
# exit 1 if any case failed (or none ran), else 0.
t_finish() {
	RT_FINISHED=1
	rt_cleanup
	echo "${RT_SCRIPT}: ${RT_PASS} passed, ${RT_FAIL} failed" >&"$RT_OUT"
	[ "$RT_FAIL" -eq 0 ] && [ "$RT_PASS" -gt 0 ] && exit 0
	exit 1
}

# ---------------------------------------------------------------------------
# Polling

# wait_until TIMEOUT_SECONDS CMD... — run CMD every 50 ms until it succeeds
# (return 0) or TIMEOUT_SECONDS pass (return 1). TIMEOUT may be fractional.
# CMD's output is discarded. Bounded by wall time and by iteration count.
wait_until() {
	local timeout=$1 deadline now i max
	shift
	deadline=$(( $(date +%s%N) + $(rt_secs_to_ns "$timeout") ))
	max=$(( $(rt_secs_to_ns "$timeout") / 50000000 + 2 ))
	for ((i = 0; i < max; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		now=$(date +%s%N)
		[ "$now" -ge "$deadline" ] && break
		sleep 0.05
	done
	return 1
}

# rt_secs_to_ns 1.5 -> 1500000000 (no bc/awk needed)
rt_secs_to_ns() {
	local s=$1 int frac
	int=${s%%.*}
	frac=""
	[ "$s" != "$int" ] && frac=${s#*.}
	frac=${frac}000000000
	echo $(( 10#${int:-0} * 1000000000 + 10#${frac:0:9} ))
}

# ---------------------------------------------------------------------------
# Names, namespaces, links

# rt_name SUFFIX — a run-unique name for a namespace or interface. SUFFIX must
# start with a lowercase letter; the whole name must fit IFNAMSIZ (15 chars).
rt_name() {
	local n="${RT_PFX}$1"
	case $1 in
	[a-z]*) ;;
	*) echo "rt_name: suffix '$1' must start with a-z" >&2; return 1 ;;
	esac
	if [ ${#n} -gt 15 ]; then
		echo "rt_name: '$n' is longer than 15 characters" >&2
		return 1
	fi
	echo "$n"
}

# Is NAME one of ours? Everything destructive checks this first.
rt_ours() {
	case $1 in "${RT_PFX}"[a-z]*) return 0 ;; esac
	echo "lib.sh: '$1' is not a name from rt_name (prefix ${RT_PFX}); refusing" >&2
	return 1
}

# nsx NS CMD... — run CMD inside namespace NS.
nsx() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# ns_create NS... — create namespaces (names from rt_name) with lo up.
ns_create() {
	local ns
	for ns in "$@"; do
		rt_ours "$ns" || return 1
		ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up || return 1
	done
}

# rt_addr_allowed ADDR[/LEN] — the hard rule on test addresses (see top).
rt_addr_allowed() {
	local a=${1%/*}
	case $a in
	198.18.*.* | 198.19.*.* | 192.0.2.* | 198.51.100.* | 203.0.113.*) return 0 ;;
	[fF][dD][0-9a-fA-F][0-9a-fA-F]:*) return 0 ;;
	esac
	echo "lib.sh: address '$1' is outside the test ranges" \
		"(198.18.0.0/15 192.0.2.0/24 198.51.100.0/24 203.0.113.0/24 fd00::/8)" >&2
	return 1
}

# if_addr NS IF ADDR[,ADDR...] — add addresses (IPv6 with nodad so they are
# usable at once instead of after duplicate address detection).
if_addr() {
	local ns=$1 dev=$2 a
	local IFS=,
	for a in $3; do
		[ -n "$a" ] || continue
		rt_addr_allowed "$a" || return 1
		case $a in
		*:*) ip -n "$ns" -6 addr add "$a" dev "$dev" nodad || return 1 ;;
		*) ip -n "$ns" -4 addr add "$a" dev "$dev" || return 1 ;;
		esac
	done
}

RT_LINKS=0
# link_ns A B ADDRS_A ADDRS_B — veth pair between namespaces A and B, each end
# with a comma-separated list of addresses ("192.0.2.1/24,fd00:1::1/64"), both
# ends up. Prints nothing; the ends are named <prefix>v<N>a / <prefix>v<N>b.
link_ns() {
	local a=$1 b=$2 ea eb
	RT_LINKS=$((RT_LINKS + 1))
	ea=$(rt_name "v${RT_LINKS}a") && eb=$(rt_name "v${RT_LINKS}b") || return 1
	# Create both ends directly inside their namespaces: no name ever
	# appears in the root namespace, so nothing there can collide.
	ip link add "$ea" netns "$a" type veth peer name "$eb" netns "$b" || return 1
	if_addr "$a" "$ea" "$3" && if_addr "$b" "$eb" "$4" || return 1
	ip -n "$a" link set "$ea" up && ip -n "$b" link set "$eb" up
}

# link_name N a|b — the veth end names link_ns made for its Nth link.
link_name() { rt_name "v$1$2"; }

# ping_ok NS ADDR — a few pings succeed within a couple of seconds.
ping_ok() {
	nsx "$1" ping -c 3 -i 0.2 -W 2 -w 5 -q "$2"
}

# ---------------------------------------------------------------------------
# Userspace WireGuard (wireguard-go or build/roamd)

# rt_impl_with_env NAME IMPL VAR=VALUE... — a command named NAME (the name
# figures and logs show) that runs IMPL with those variables set: what
# wg_start can run to start a roamd with ROAMD_NO_GSO=1 and the like.
rt_impl_with_env() {
	local name=$1 impl=$2
	shift 2
	printf '#!/bin/sh\nexec env %s "%s" "$@"\n' "$*" "$impl" >"$RT_TMP/$name"
	chmod +x "$RT_TMP/$name"
	echo "$RT_TMP/$name"
}

# wg_start IMPL NS IFNAME — start the daemon in the foreground inside NS (as
# docs/protocol.md §7.6: WG_PROCESS_FOREGROUND=1, exactly "IMPL IFNAME"), record its pid for
# cleanup, and wait until its UAPI socket exists and `wg show IFNAME` answers.
# Its output goes to $RT_TMP/IFNAME.log, shown if it fails to come up.
# A roamd must also be confined (rt_roamd_confined), or wg_start fails.
wg_start() {
	local impl=$1 ns=$2 dev=$3 pid
	rt_ours "$dev" || return 1
	if ! command -v "$impl" >/dev/null; then
		echo "wg_start: '$impl' not found" >&2
		return 1
	fi
	# ip netns exec and env both exec(), so $! is the daemon itself.
	# The spare fds are closed so a daemon never holds the test's stdout
	# (tests/run-all pipes it into tee, which would wait for it).
	ip netns exec "$ns" env WG_PROCESS_FOREGROUND=1 "$impl" "$dev" \
		</dev/null >"$RT_TMP/$dev.log" 2>&1 {RT_OUT}>&- {RT_ERR}>&- &
	pid=$!
	RT_PIDS+=("$pid")
	disown "$pid" 2>/dev/null # no "Terminated" job notices on cleanup
	# Poll until it answers or is gone; a daemon that died is reported at
	# once rather than after the full 10 s.
	wait_until 10 rt_wg_settled "$ns" "$dev" "$pid"
	if rt_wg_ready "$ns" "$dev" && kill -0 "$pid" 2>/dev/null; then
		# Every suite runs roamd as it runs by default: dropped to its
		# user and filtered (README "Hardening and privileges").
		case $(basename "$impl") in
		roamd*)
			wait_until 2 rt_roamd_confined "$pid" "$RT_TMP/$dev.log" && return 0
			echo "wg_start: $impl $dev runs without its confinement:" >&2
			rt_roamd_confined "$pid" "$RT_TMP/$dev.log" >&2
			return 1 ;;
		esac
		return 0
	fi
	if kill -0 "$pid" 2>/dev/null; then
		echo "wg_start: $impl $dev did not come up in 10 s; its log:" >&2
	else
		echo "wg_start: $impl $dev exited; its log:" >&2
	fi
	tail -n 20 "$RT_TMP/$dev.log" >&2
	return 1
}

# rt_roamd_confined PID LOG — roamd PID runs as an unprivileged user with
# NO_NEW_PRIVS and a seccomp filter, unless the test switched that off
# (ROAMD_NO_DROP, ROAMD_NO_SECCOMP) or the build has no filter (a sanitizer
# build says "no seccomp filter in" in its LOG).
rt_roamd_confined() {
	local st="/proc/$1/status" uid nnp sc
	uid=$(awk '/^Uid:/ {print $2}' "$st") nnp=$(awk '/^NoNewPrivs:/ {print $2}' "$st")
	sc=$(awk '/^Seccomp:/ {print $2}' "$st")
	if [ -z "${ROAMD_NO_DROP:-}" ] && { [ "$uid" = 0 ] || [ "$nnp" != 1 ]; }; then
		echo "pid $1: Uid $uid, NoNewPrivs $nnp: privileges not dropped"
		return 1
	fi
	if [ -z "${ROAMD_NO_SECCOMP:-}" ] && [ "$sc" != 2 ] && ! grep -q "no seccomp filter in" "$2"; then
		echo "pid $1: Seccomp $sc: no filter"
		return 1
	fi
}

# Its UAPI socket exists and `wg show` gets an answer through it.
rt_wg_ready() {
	[ -S "$RT_WG_RUN/$2.sock" ] && nsx "$1" timeout 5 wg show "$2" >/dev/null
}

# Ready, or the daemon (pid $3) is no longer running: either way stop polling.
rt_wg_settled() {
	rt_wg_ready "$1" "$2" || ! kill -0 "$3" 2>/dev/null
}

# wg_genkey NAME — make $RT_TMP/NAME.key (private) and NAME.pub (public).
# wg_psk NAME    — make $RT_TMP/NAME.psk.
# key_file NAME  — path of NAME.key; key_pub NAME — the public key (base64).
wg_genkey() {
	(umask 077 && wg genkey >"$RT_TMP/$1.key") &&
		wg pubkey <"$RT_TMP/$1.key" >"$RT_TMP/$1.pub"
}
wg_psk() { (umask 077 && wg genpsk >"$RT_TMP/$1.psk"); }
key_file() { echo "$RT_TMP/$1.key"; }
psk_file() { echo "$RT_TMP/$1.psk"; }
key_pub() { cat "$RT_TMP/$1.pub"; }

# wg_set NS IF ARGS... — `wg set IF ARGS...` inside NS, e.g.
#   wg_set "$A" "$WA" private-key "$(key_file a)" listen-port 51820 \
#       peer "$(key_pub b)" endpoint 192.0.2.2:51820 allowed-ips 198.18.0.2/32
# Endpoints are checked against the test ranges.
wg_set() {
	local ns=$1 dev=$2 prev="" arg ep
	shift 2
	for arg in "$@"; do
		if [ "$prev" = endpoint ]; then
			ep=${arg%:*}
			ep=${ep#[}
			ep=${ep%]}
			rt_addr_allowed "$ep" || return 1
		fi
		prev=$arg
	done
	nsx "$ns" timeout 10 wg set "$dev" "$@"
}

# wg_show NS IF [FIELD] — `wg show IF FIELD` inside NS.
wg_show() {
	local ns=$1
	shift
	nsx "$ns" timeout 10 wg show "$@"
}

# wg_ifup NS IF ADDRS ROUTES — addresses on the tunnel, link up, and a route via
# the tunnel for each prefix in ROUTES (comma lists). Up is what makes a
# userspace implementation bind its UDP sockets and start its peers.
wg_ifup() {
	local ns=$1 dev=$2 r
	local IFS=,
	if_addr "$ns" "$dev" "$3" || return 1
	ip -n "$ns" link set "$dev" up || return 1
	for r in $4; do
		[ -n "$r" ] || continue
		ip -n "$ns" route add "$r" dev "$dev" || return 1
	done
}

# wg_latest_handshake NS IF [PUBKEY] — Unix time of the last handshake with
# PUBKEY (or the newest over all peers); 0 if none.
wg_latest_handshake() {
	local ns=$1 dev=$2 pub=${3:-} t best=0 k
	while read -r k t; do
		[ -n "$pub" ] && [ "$k" != "$pub" ] && continue
		[ "${t:-0}" -gt "$best" ] 2>/dev/null && best=$t
	done < <(wg_show "$ns" "$dev" latest-handshakes)
	echo "$best"
}

# wg_has_handshake NS IF [PUBKEY] — true once a handshake has completed.
wg_has_handshake() {
	[ "$(wg_latest_handshake "$@")" -gt 0 ]
}

# wg_transfer_bytes NS IF PUBKEY — "RX TX" byte counters for that peer.
wg_transfer_bytes() {
	local k rx tx
	while read -r k rx tx; do
		[ "$k" = "$3" ] && { echo "$rx $tx"; return 0; }
	done < <(wg_show "$1" "$2" transfer)
	return 1
}

# ---------------------------------------------------------------------------
# TCP transfer with an end-to-end SHA-256 check

# One small program, two roles. recv: listen on ADDR:PORT, accept one
# connection, hash everything until EOF, print "BYTES SHA256". send: connect,
# send MIB MiB of random bytes, hash them, half-close, wait for the receiver
# to close (so it has read everything), print "BYTES SHA256". Socket timeouts
# bound both ends.
RT_PY_XFER='
import hashlib, os, socket, sys
role, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
h, n = hashlib.sha256(), 0
if role == "recv":
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port)); ls.listen(1); ls.settimeout(float(sys.argv[4]))
    c, _ = ls.accept(); c.settimeout(float(sys.argv[4]))
    while True:
        b = c.recv(1 << 16)
        if not b: break
        h.update(b); n += len(b)
    c.close()
else:
    c = socket.create_connection((addr, port), timeout=float(sys.argv[5]))
    left = int(sys.argv[4]) << 20
    while left > 0:
        b = os.urandom(min(left, 1 << 16))
        c.sendall(b); h.update(b); n += len(b); left -= len(b)
    c.shutdown(socket.SHUT_WR)
    c.recv(1)   # returns b"" when the receiver has read all and closed
    c.close()
print(n, h.hexdigest())
'

# tcp_transfer NS_SRC NS_DST DST_ADDR PORT MIB [TIMEOUT_S=60] — send MIB MiB
# from NS_SRC to DST_ADDR:PORT in NS_DST; succeed if both ends saw the same
# number of bytes and the same SHA-256. Prints both results.
tcp_transfer() {
	local src=$1 dst=$2 addr=$3 port=$4 mib=$5 tmo=${6:-60} rpid sent got
	local rout="$RT_TMP/xfer.$port.recv"
	rm -f "$rout"
	nsx "$dst" "$RT_PY" -c "$RT_PY_XFER" recv "$addr" "$port" "$tmo" \
		>"$rout" 2>&1 {RT_OUT}>&- {RT_ERR}>&- &
	rpid=$!
	RT_PIDS+=("$rpid")
	# Connect only once the listener is there (ss from iproute2).
	if ! wait_until 5 rt_listening "$dst" "$port"; then
		echo "tcp_transfer: receiver not listening on $addr:$port"
		cat "$rout"
		return 1
	fi
	sent=$(nsx "$src" "$RT_PY" -c "$RT_PY_XFER" send "$addr" "$port" "$mib" "$tmo" 2>&1)
	wait "$rpid" # bounded by the receiver's own socket timeouts
	rt_forget "$rpid"
	got=$(cat "$rout")
	echo "sent:     $sent"
	echo "received: $got"
	[ -n "$sent" ] && [ "$sent" = "$got" ] && [ "${sent%% *}" -eq $((mib << 20)) ]
}

rt_listening() {
	[ -n "$(nsx "$1" ss -Hltn "sport = :$2")" ]
}

# ---------------------------------------------------------------------------
# Cleanup

# rt_forget PID — drop a pid we have reaped from RT_PIDS: once reaped the
# number can be reused by someone else's process, which we must never signal.
rt_forget() {
	local p keep=()
	for p in "${RT_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	RT_PIDS=("${keep[@]}")
}

# rt_children PID... — those PIDs that are still our own children (a pid of a
# daemon that already exited and got reaped may belong to a stranger now).
rt_children() {
	local p
	for p in "$@"; do
		[ "$(ps -o ppid= -p "$p" 2>/dev/null | tr -d ' ')" = "$$" ] && echo "$p"
	done
	return 0
}

# rt_kill PID... — SIGTERM, up to 3 s for them to go, then SIGKILL.
rt_kill() {
	local p alive i
	[ $# -gt 0 ] || return 0
	kill -TERM "$@" 2>/dev/null
	for ((i = 0; i < 60; i++)); do
		alive=0
		for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ "$alive" -eq 0 ] && return 0
		sleep 0.05
	done
	kill -KILL "$@" 2>/dev/null
	return 0
}

# rt_our_namespaces — our namespaces that exist now.
rt_our_namespaces() {
	ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${RT_PFX}[a-z]" || true
}

# rt_cleanup — idempotent and quiet when there's nothing to do: stop the
# processes we started, then anything still running inside our namespaces
# (e.g. a daemon that forked), delete the namespaces (which removes veths and
# TUN devices), our UAPI sockets and the temp dir.
rt_cleanup() {
	local ns pids sock
	# shellcheck disable=SC2046
	rt_kill $(rt_children "${RT_PIDS[@]}")
	RT_PIDS=()
	for ns in $(rt_our_namespaces); do
		# shellcheck disable=SC2046
		pids=$(ip netns pids "$ns" 2>/dev/null)
		# shellcheck disable=SC2086
		rt_kill $pids
		ip netns del "$ns" 2>/dev/null || echo "lib.sh: could not delete namespace $ns" >&"$RT_ERR"
	done
	for sock in "$RT_WG_RUN/${RT_PFX}"[a-z]*.sock; do
		[ -e "$sock" ] && rm -f "$sock"
	done
	# Keep the temp dir (daemon logs) while a test still runs; drop it at exit.
	[ "$RT_FINISHED" -eq 1 ] && rm -rf "$RT_TMP"
	return 0
}

# rt_nothing_left — true if no namespace, UAPI socket or started process of
# this run remains (a test can report it as a case after rt_cleanup).
rt_nothing_left() {
	local left sock
	left=$(rt_our_namespaces)
	[ -z "$left" ] || { echo "namespaces left: $left"; return 1; }
	for sock in "$RT_WG_RUN/${RT_PFX}"[a-z]*.sock; do
		[ -e "$sock" ] && { echo "socket left: $sock"; return 1; }
	done
	return 0
}

# rt_sweep_stale — namespaces, sockets and temp dirs named rt<PID><letter>... whose PID is
# no longer running belong to an earlier run that was SIGKILLed (no trap ran).
# Remove them so they can't pile up or collide; live runs are never touched.
rt_sweep_stale() {
	local name pid path
	for name in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		[[ $name =~ ^rt([0-9]+)[a-z] ]] || continue
		pid=${BASH_REMATCH[1]}
		[ "$pid" = "$$" ] && continue
		rt_pid_alive "$pid" && continue
		# shellcheck disable=SC2046
		rt_kill $(ip netns pids "$name" 2>/dev/null)
		ip netns del "$name" 2>/dev/null
	done
	for path in "$RT_WG_RUN"/rt[0-9]*.sock; do
		name=$(basename "$path")
		[[ $name =~ ^rt([0-9]+)[a-z] ]] || continue
		pid=${BASH_REMATCH[1]}
		[ "$pid" = "$$" ] && continue
		rt_pid_alive "$pid" || rm -f "$path"
	done
	for path in /tmp/rt[0-9]*.??????; do
		[[ $(basename "$path") =~ ^rt([0-9]+)\. ]] || continue
		pid=${BASH_REMATCH[1]}
		[ "$pid" = "$$" ] || rt_pid_alive "$pid" || rm -rf "$path"
	done
}

# rt_pid_alive PID — running and not a zombie (a SIGKILLed test shell can stay
# a zombie for a while when PID 1 is slow to reap orphans).
rt_pid_alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null)
	[ -n "$st" ] && [ "${st#Z}" = "$st" ]
}

# On any exit: clean up; if the script never reached t_finish (error, signal,
# stray `exit`), count that as a failure and still print the summary line.
rt_on_exit() {
	local rc=$?
	trap - EXIT INT TERM HUP
	if [ "$RT_FINISHED" -eq 0 ]; then
		RT_FINISHED=1
		rt_cleanup
		t_fail "script" "exited before t_finish (status $rc)"
		echo "${RT_SCRIPT}: ${RT_PASS} passed, ${RT_FAIL} failed" >&"$RT_OUT"
		exit 1
	fi
}
trap rt_on_exit EXIT
# Signals become a normal exit so the EXIT trap runs (timeout(1) sends TERM).
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

# Preconditions every test needs; a test that can't run fails loudly.
if [ "$(id -u)" -ne 0 ]; then
	t_abort "integration tests need root (network namespaces)"
fi
[ -c /dev/net/tun ] || t_abort "/dev/net/tun is missing (userspace WireGuard needs TUN)"
# roamd drops to the user "roamd" after set-up (README "Hardening and
# privileges"); make install creates it, and so do we, the same way, so the
# tests run roamd as it runs when installed. Two tests racing here both call
# useradd; the loser's "already exists" is fine, the check after is what counts.
if ! id -u roamd >/dev/null 2>&1; then
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin roamd >/dev/null 2>&1
	id -u roamd >/dev/null 2>&1 || t_abort "could not create the user roamd"
fi
rt_sweep_stale

# rt_roam_stubbed NS ARGS... — $ROAM inside NS, bounded (RT_ROAM_TIMEOUT,
# 60 s), with a stand-in resolvconf first on its PATH that accepts what
# roam up gives it: roam up refuses DNS = without one, and the host's
# resolver is no test's to change.
rt_roam_stubbed() {
	local ns=$1 stub=$RT_TMP/bin
	shift
	if [ ! -x "$stub/resolvconf" ]; then
		mkdir -p "$stub" && printf '#!/bin/sh\ncat >/dev/null\nexit 0\n' >"$stub/resolvconf" &&
			chmod +x "$stub/resolvconf" || return 1
	fi
	nsx "$ns" env PATH="$stub:$PATH" timeout "${RT_ROAM_TIMEOUT:-60}" "$ROAM" "$@"
}

# rt_remove_ledgers_on_exit DIR — on exit, also remove the ledgers that roam
# up wrote in DIR for this test's interfaces (named with RT_PFX), whatever
# the test left behind.
rt_remove_ledgers_on_exit() {
	RT_LEDGER_DIR=$1
	trap 'rc=$?; rt_remove_ledgers; (exit $rc); rt_on_exit' EXIT
}
rt_remove_ledgers() {
	local f
	for f in "$RT_LEDGER_DIR/${RT_PFX}"[a-z]*.state; do [ -e "$f" ] && rm -f "$f"; done
	return 0
}

# ---------------------------------------------------------------------------
# roamd's events (roam events, docs/events-json.md)

RT_ROAM_CLI=${ROAM_CLI:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/roam}

# events_last_seq IFNAME — the newest event's seq (0: none yet).
events_last_seq() {
	local last
	last=$(timeout 10 "$RT_ROAM_CLI" events "$1" --no-follow 2>/dev/null | tail -n 1)
	last=$(sed -n 's/^{"seq":\([0-9]*\),.*/\1/p' <<<"$last")
	echo "${last:-0}"
}

# events_follow IFNAME FILE — `roam events IFNAME` in the background from
# the newest event on (none of the earlier ones), its JSON lines into FILE
# (stderr into FILE.err); the pid in RT_EVENTS_PID.
events_follow() {
	local after
	after=$(events_last_seq "$1")
	"$RT_ROAM_CLI" events "$1" --after "$after" >"$2" 2>"$2.err" &
	RT_EVENTS_PID=$!
	RT_PIDS+=("$RT_EVENTS_PID")
}

# events_stop — SIGINT to the follower, as an operator's Ctrl-C; waits up
# to 3 s for it. Returns its status (0: it ended cleanly), or 1 if it had
# already exited (it lost its daemon).
events_stop() {
	local pid=${RT_EVENTS_PID:-} rc
	[ -n "$pid" ] || return 1
	RT_EVENTS_PID=
	rt_pid_alive "$pid" || { wait "$pid" 2>/dev/null; rt_forget "$pid"; return 1; }
	kill -INT "$pid" 2>/dev/null
	wait_until 3 bash -c "! kill -0 $pid" || rt_kill "$pid"
	wait "$pid" 2>/dev/null
	rc=$?
	rt_forget "$pid"
	return "$rc"
}

# events_types FILE — the "type" of each event in FILE, space-separated.
events_types() {
	sed -n 's/.*"type":"\([a-z_]*\)".*/\1/p' "$1" | paste -sd' '
}

# events_wait_for FILE TYPE [SECONDS] — waits (5 s by default) until an
# event of TYPE is in FILE: the follower polls every 200 ms.
events_wait_for() {
	local file=$1 want=$2 secs=${3:-5}
	wait_until "$secs" bash -c "grep -q '\"type\":\"$want\"' '$file'"
}

# events_expect FILE "TYPE TYPE..." [SECONDS] — waits (3 s by default: the
# follower polls every 200 ms) until FILE holds exactly that sequence of
# event types; says what it holds either way.
events_expect() {
	local file=$1 want=$2 secs=${3:-3}
	wait_until "$secs" bash -c "[ \"\$(sed -n 's/.*\"type\":\"\\([a-z_]*\\)\".*/\\1/p' '$file' | paste -sd' ')\" = '$want' ]"
	local rc=$?
	echo "events: $(events_types "$file")${want:+ (expected: $want)}"
	return "$rc"
}
