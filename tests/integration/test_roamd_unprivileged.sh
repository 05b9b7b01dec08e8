#!/usr/bin/env bash
# roamd never root (README "Hardening and privileges"): a small privileged
# helper opens the TUN device and binds the UAPI socket, then becomes nobody
# with no capability at all (setpriv) and execs roamd with the two fds in
# WG_TUN_FD and WG_UAPI_FD, as a service manager would. roamd must carry
# traffic to wireguard-go that way, and end when its interface is deleted.
# shellcheck disable=SC2317 # case functions are called through t_check
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROAMD=${ROAM_TEST_ROAMD:-$ROOT/build/roamd}
[ -x "$ROAMD" ] || t_abort "build/roamd is missing (run make)"
command -v setpriv >/dev/null || t_abort "setpriv (util-linux) is missing"
command -v wireguard-go >/dev/null || t_abort "wireguard-go is missing"

A=$(rt_name a) B=$(rt_name b) WA=$(rt_name wa) WB=$(rt_name wb) WC=$(rt_name wc)

# The helper: TUN (IFF_TUN | IFF_NO_PI | IFF_VNET_HDR) named argv[1], the
# socket /var/run/wireguard/argv[1].sock (0700, root's), both on fds 3 and
# 4, then exec argv[2:] (setpriv ... roamd).
PY_HELPER='
import fcntl, os, socket, struct, sys
name = sys.argv[1]
tun = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(tun, 0x400454ca, struct.pack("16sH", name.encode(), 0x0001 | 0x1000 | 0x4000))
os.makedirs("/var/run/wireguard", mode=0o755, exist_ok=True)
old = os.umask(0o077)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind("/var/run/wireguard/%s.sock" % name); s.listen(64)
os.umask(old)
os.dup2(tun, 3); os.dup2(s.fileno(), 4)
os.set_inheritable(3, True); os.set_inheritable(4, True)
os.execvp(sys.argv[2], sys.argv[2:])
'

t_check "lab comes up" eval 'ns_create "$A" "$B" && link_ns "$A" "$B" 192.0.2.1/24 192.0.2.2/24' || t_finish

# start_unprivileged IF — sets PID.
start_unprivileged() {
	ip netns exec "$A" env WG_PROCESS_FOREGROUND=1 WG_TUN_FD=3 WG_UAPI_FD=4 \
		"$RT_PY" -c "$PY_HELPER" "$1" setpriv --reuid=65534 --regid=65534 --clear-groups \
		--inh-caps=-all --bounding-set=-all --no-new-privs "$ROAMD" "$1" \
		</dev/null >"$RT_TMP/$1.log" 2>&1 {RT_OUT}>&- {RT_ERR}>&- &
	PID=$!
	RT_PIDS+=("$PID")
	disown "$PID" 2>/dev/null
	wait_until 10 rt_wg_settled "$A" "$1" "$PID"
	rt_wg_ready "$A" "$1" || { cat "$RT_TMP/$1.log"; return 1; }
}
PID=""
t_check "roamd starts from the helper's fds as nobody" start_unprivileged "$WA" || t_finish

field() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s '\t ' ' '; }
no_privilege() {
	grep -E '^(Uid|CapPrm|CapEff|CapBnd|NoNewPrivs|Seccomp):' "/proc/$PID/status"
	[ "$(field "$PID" Uid)" = "65534 65534 65534 65534" ] &&
		[ "$(field "$PID" CapPrm)" = 0000000000000000 ] && [ "$(field "$PID" CapEff)" = 0000000000000000 ] &&
		[ "$(field "$PID" CapBnd)" = 0000000000000000 ] && [ "$(field "$PID" Seccomp)" = 2 ] &&
		! pgrep -P "$PID" >/dev/null # no keeper: nothing to drop, the socket is the helper's
}
t_check "no capability at all, uid nobody, seccomp filter, no keeper" no_privilege

wg_genkey a && wg_genkey b
configure() {
	wg_start wireguard-go "$B" "$WB" &&
		wg_set "$A" "$WA" private-key "$(key_file a)" listen-port 51820 \
			peer "$(key_pub b)" endpoint 192.0.2.2:51821 allowed-ips 198.18.0.2/32 &&
		wg_set "$B" "$WB" private-key "$(key_file b)" listen-port 51821 \
			peer "$(key_pub a)" endpoint 192.0.2.1:51820 allowed-ips 198.18.0.1/32 &&
		wg_ifup "$A" "$WA" 198.18.0.1/32 198.18.0.2/32 && wg_ifup "$B" "$WB" 198.18.0.2/32 198.18.0.1/32
}
t_check "configure both ends" configure
t_check "ping through the tunnel both ways" eval 'ping_ok "$A" 198.18.0.2 && ping_ok "$B" 198.18.0.1'
t_check "1 MiB TCP, SHA-256 matches" tcp_transfer "$A" "$B" 198.18.0.2 5201 1 30

pid_gone() { ! rt_pid_alive "$1"; }
deleted() {
	ip -n "$A" link del "$WA" && wait_until 5 pid_gone "$PID" &&
		grep -q "exiting: interface" "$RT_TMP/$WA.log" &&
		! grep -q "seccomp: forbidden" "$RT_TMP/$WA.log"
}
t_check "ip link del ends it (the helper's socket is left to the helper)" deleted

socket_deleted() {
	start_unprivileged "$WC" || return 1
	rm -f "$RT_WG_RUN/$WC.sock" && wait_until 5 pid_gone "$PID" && grep -q "exiting: UAPI socket deleted" "$RT_TMP/$WC.log"
}
t_check "deleting the helper's socket ends it (watched through the directory)" socket_deleted

rt_cleanup
t_check "cleanup leaves no namespace or socket" rt_nothing_left
t_finish
