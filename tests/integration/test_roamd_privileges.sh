#!/usr/bin/env bash
# roamd as it runs by default (README "Hardening and privileges"): brought up
# the normal way (wg_start), it must run as the user roamd with exactly
# CAP_NET_ADMIN + CAP_NET_BIND_SERVICE, NO_NEW_PRIVS, a seccomp filter, not
# dumpable; its socket keeper as uid 0 with no capability at all. And all
# of it must still work afterwards: a new listen port (also below 1024),
# fwmark, a peer, traffic to wireguard-go, deleting the interface (roamd exits,
# the keeper removes the socket). The switches ROAMD_NO_DROP, ROAMD_NO_SECCOMP
# and -u are checked too.
# shellcheck disable=SC2317 # case functions are called through t_check
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROAMD=$ROOT/build/roamd
[ -x "$ROAMD" ] || t_abort "build/roamd is missing (run make)"
command -v wireguard-go >/dev/null || t_abort "wireguard-go is missing (scripts/install-deps.sh)"

A=$(rt_name a) B=$(rt_name b)
WA=$(rt_name wa) WB=$(rt_name wb) WC=$(rt_name wc) WD=$(rt_name wd) WE=$(rt_name we) WF=$(rt_name wf)
CAPS=0000000000001400 # CAP_NET_BIND_SERVICE (10) | CAP_NET_ADMIN (12)
ROAMD_UID=$(id -u roamd)

last_pid() { echo "${RT_PIDS[${#RT_PIDS[@]} - 1]}"; }
# field PID NAME — a /proc/PID/status field ("Uid", "CapEff", ...), tabs
# squeezed to single spaces.
field() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s '\t ' ' '; }
pid_gone() { ! rt_pid_alive "$1"; }
sock_gone() { [ ! -e "$RT_WG_RUN/$1.sock" ]; }
keeper_of() { pgrep -P "$1" -x roamd-keeper; }

t_check "lab comes up" ns_create "$A" "$B" || t_finish
t_check "link" link_ns "$A" "$B" 192.0.2.1/24,fd00:7::1/64 192.0.2.2/24,fd00:7::2/64 || t_finish
t_check "roamd starts" wg_start "$ROAMD" "$A" "$WA" || t_finish
PID=$(last_pid)
t_check "wireguard-go starts" wg_start wireguard-go "$B" "$WB" || t_finish

status_daemon() {
	local pid=$1 uid caps
	grep -E '^(Name|Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' "/proc/$pid/status"
	uid=$(field "$pid" Uid)
	[ "$uid" = "$ROAMD_UID $ROAMD_UID $ROAMD_UID $ROAMD_UID" ] || { echo "Uid is '$uid', want roamd ($ROAMD_UID) four times"; return 1; }
	[ "$(field "$pid" Groups)" = "" ] || { echo "supplementary groups left: $(field "$pid" Groups)"; return 1; }
	for caps in CapEff CapPrm CapBnd; do
		[ "$(field "$pid" $caps)" = "$CAPS" ] || { echo "$caps is $(field "$pid" $caps), want $CAPS"; return 1; }
	done
	[ "$(field "$pid" CapInh)" = 0000000000000000 ] && [ "$(field "$pid" CapAmb)" = 0000000000000000 ] ||
		{ echo "inheritable or ambient capabilities left"; return 1; }
	[ "$(field "$pid" NoNewPrivs)" = 1 ] || { echo "NoNewPrivs is not 1"; return 1; }
	[ "$(field "$pid" Seccomp)" = 2 ] || { echo "Seccomp is not 2 (filter)"; return 1; }
}
t_check "roamd: Uid roamd, CapEff/CapPrm/CapBnd $CAPS, NoNewPrivs 1, Seccomp 2" status_daemon "$PID"

# /proc/PID/status has no dumpable field; the kernel shows it by ownership:
# a process that is not dumpable has its /proc/PID files owned by root, one
# that is by its own uid.
not_dumpable() {
	local owner
	owner=$(stat -c %u "/proc/$1/status") || return 1
	echo "/proc/$1/status owned by uid $owner (process uid $ROAMD_UID)"
	[ "$owner" = 0 ]
}
t_check "roamd: not dumpable (its /proc files stay root's)" not_dumpable "$PID"

status_keeper() {
	local k
	k=$(keeper_of "$1") || { echo "no roamd-keeper child of $1"; return 1; }
	grep -E '^(Name|Uid|CapPrm|CapEff|CapBnd|NoNewPrivs|Seccomp):' "/proc/$k/status"
	[ "$(field "$k" CapEff)" = 0000000000000000 ] && [ "$(field "$k" CapPrm)" = 0000000000000000 ] &&
		[ "$(field "$k" CapBnd)" = 0000000000000000 ] || { echo "keeper has capabilities"; return 1; }
	[ "$(field "$k" NoNewPrivs)" = 1 ] && [ "$(field "$k" Seccomp)" = 2 ] || { echo "keeper not confined"; return 1; }
	# It holds the pipe and /dev/null, nothing else: not the TUN device.
	[ "$(find "/proc/$k/fd" -mindepth 1 | wc -l)" -le 4 ] || { ls -l "/proc/$k/fd"; return 1; }
}
t_check "keeper: no capabilities at all, NoNewPrivs 1, Seccomp 2, only a pipe open" status_keeper "$PID"

# An fd the starting process leaves open (here a file; in life a shell's
# pipe or a supervisor's log) is not carried into the daemon or its keeper.
stray_fd_closed() {
	local stray=$RT_TMP/stray-fd pid fd k
	exec {fd}>"$stray"
	wg_start "$ROAMD" "$A" "$WF"
	local rc=$?
	exec {fd}>&-
	[ $rc -eq 0 ] || return 1
	pid=$(last_pid)
	k=$(keeper_of "$pid") || { echo "no keeper"; return 1; }
	if find "/proc/$pid/fd" "/proc/$k/fd" -mindepth 1 -lname "$stray" | grep -q .; then
		ls -l "/proc/$pid/fd" "/proc/$k/fd"
		return 1
	fi
	nsx "$A" ip link del "$WF" && wait_until 5 pid_gone "$pid"
}
t_check "an fd left open by the starter is closed in roamd and its keeper" stray_fd_closed

# ---------------------------------------------------------------------------
# everything still works after the drop

wg_genkey a && wg_genkey b
bound_on() { [ -n "$(nsx "$1" ss -Hulpn "sport = :$2" | grep roamd)" ]; }
configure() {
	wg_set "$A" "$WA" private-key "$(key_file a)" listen-port 51820 fwmark 0x1234 \
		peer "$(key_pub b)" endpoint 192.0.2.2:51821 allowed-ips 198.18.0.2/32 persistent-keepalive 1 &&
		wg_set "$B" "$WB" private-key "$(key_file b)" listen-port 51821 \
			peer "$(key_pub a)" allowed-ips 198.18.0.1/32 &&
		wg_ifup "$A" "$WA" 198.18.0.1/32 198.18.0.2/32 && wg_ifup "$B" "$WB" 198.18.0.2/32 198.18.0.1/32 &&
		wait_until 5 bound_on "$A" 51820
}
t_check "configure: key, port, fwmark, peer, up" configure
t_check "fwmark 0x1234 set (SO_MARK needs CAP_NET_ADMIN)" eval '[ "$(wg_show "$A" "$WA" fwmark)" = 0x1234 ]'
t_check "handshake with wireguard-go" wait_until 10 wg_has_handshake "$A" "$WA"
t_check "ping through the tunnel" ping_ok "$A" 198.18.0.2

# The private key as `wg set` sent it (hex, in a UAPI set request) is
# nowhere in roamd's stack or heap that a core dump or swap could hold:
# the request buffers are wiped (the key itself lives in locked,
# undumpable memory, which this does not read).
PY_FIND_KEY='
import binascii, base64, re, sys
pid, b64 = sys.argv[1], sys.argv[2]
needle = binascii.hexlify(base64.b64decode(b64))
found = []
with open("/proc/%s/maps" % pid) as maps, open("/proc/%s/mem" % pid, "rb", 0) as mem:
    for line in maps:
        f = line.split()
        name = f[5] if len(f) > 5 else ""
        if name not in ("[stack]", "[heap]"): continue
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        mem.seek(lo)
        if needle in mem.read(hi - lo): found.append(name)
print(" ".join(found) or "nowhere")
'
key_not_left() {
	local where
	where=$(python3 -c "$PY_FIND_KEY" "$PID" "$(cat "$(key_file a)")") || return 1
	echo "the private key's hex after wg set: $where"
	[ "$where" = nowhere ]
}
t_check "the key wg set sent is left in neither roamd's stack nor its heap" key_not_left

new_port() {
	wg_set "$A" "$WA" listen-port "$1" && wait_until 5 bound_on "$A" "$1" &&
		[ "$(wg_show "$A" "$WA" listen-port)" = "$1" ] && wg_set "$B" "$WB" peer "$(key_pub a)" endpoint "192.0.2.1:$1"
}
t_check "wg set listen-port 51830: bound, traffic flows" eval 'new_port 51830 && ping_ok "$B" 198.18.0.1'
t_check "wg set listen-port 443 (below 1024: CAP_NET_BIND_SERVICE)" eval 'new_port 443 && ping_ok "$B" 198.18.0.1'
t_check "peer added after the drop" wg_set "$A" "$WA" peer "$(wg genkey | wg pubkey)" allowed-ips 198.18.5.0/24 endpoint 192.0.2.9:51820
t_check "still the same process, nothing forbidden logged" eval \
	'rt_pid_alive "$PID" && ! grep -E "seccomp|forbidden" "$RT_TMP/$WA.log"'

deleted() {
	local k
	k=$(keeper_of "$PID")
	ip -n "$A" link del "$WA" || return 1
	wait_until 5 pid_gone "$PID" || { echo "roamd still runs"; return 1; }
	wait_until 5 sock_gone "$WA" || { echo "socket left"; return 1; }
	[ -z "$k" ] || wait_until 5 pid_gone "$k" || { echo "keeper still runs"; return 1; }
	grep -q "exiting: interface gone\|exiting: interface deleted" "$RT_TMP/$WA.log"
}
t_check "ip link del: roamd exits, keeper removes the socket and exits" deleted

# ---------------------------------------------------------------------------
# the switches

sigterm_ends() {
	local pid=$1 dev=$2
	kill -TERM "$pid" && wait_until 5 pid_gone "$pid" && wait_until 5 sock_gone "$dev"
}
no_drop() {
	export ROAMD_NO_DROP=1
	wg_start "$ROAMD" "$A" "$WC"
	local rc=$? pid
	unset ROAMD_NO_DROP
	[ "$rc" -eq 0 ] || return 1
	pid=$(last_pid)
	[ "$(field "$pid" Uid)" = "0 0 0 0" ] && grep -q "error: ROAMD_NO_DROP is set" "$RT_TMP/$WC.log" &&
		sigterm_ends "$pid" "$WC"
}
t_check "ROAMD_NO_DROP=1: stays root, says so as an error" no_drop

no_seccomp() {
	export ROAMD_NO_SECCOMP=1
	wg_start "$ROAMD" "$A" "$WD"
	local rc=$? pid
	unset ROAMD_NO_SECCOMP
	[ "$rc" -eq 0 ] || return 1
	pid=$(last_pid)
	[ "$(field "$pid" Seccomp)" = 0 ] && [ "$(field "$pid" CapEff)" = "$CAPS" ] &&
		grep -q "error: ROAMD_NO_SECCOMP is set" "$RT_TMP/$WD.log" && sigterm_ends "$pid" "$WD"
}
t_check "ROAMD_NO_SECCOMP=1: no filter (still dropped), says so as an error" no_seccomp

as_nobody() {
	printf '#!/bin/sh\nexec %s -u nobody "$@"\n' "$ROAMD" >"$RT_TMP/roamd-nobody" && chmod +x "$RT_TMP/roamd-nobody" &&
		wg_start "$RT_TMP/roamd-nobody" "$A" "$WE" || return 1
	local pid
	pid=$(last_pid)
	[ "$(field "$pid" Uid)" = "65534 65534 65534 65534" ] && sigterm_ends "$pid" "$WE"
}
t_check "-u nobody runs as nobody; SIGTERM removes its socket" as_nobody
unknown_user() {
	local out
	out=$("$ROAMD" -f -u rt-no-such-user-x "$(rt_name zz)" 2>&1) && return 1
	echo "$out"
	grep -q "no such user" <<<"$out" && sock_gone "$(rt_name zz)"
}
t_check "-u with an unknown user is refused before anything is made" unknown_user

rt_cleanup
t_check "cleanup leaves no namespace or socket" rt_nothing_left
t_finish
