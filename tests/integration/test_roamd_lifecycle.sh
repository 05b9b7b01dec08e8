#!/usr/bin/env bash
# roamd's life as a process (docs/protocol.md §7.6): command line, daemonising
# (the parent returns only once interface and socket exist), refusing a
# name already taken, replacing a stale socket, the three ways it must end
# cleanly (SIGTERM/SIGINT, its socket deleted, its interface deleted), logs
# that never show a key, and a run under AddressSanitizer + LeakSanitizer
# (build/san/roamd) that ends without a report on each of those exits.
# shellcheck disable=SC2317 # case functions are called through t_check
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROAMD=$ROOT/build/roamd
SAN_ROAMD=$ROOT/build/san/roamd
[ -x "$ROAMD" ] || t_abort "build/roamd is missing (run make)"

L=$(rt_name l) M=$(rt_name m)

# ---------------------------------------------------------------------------
# helpers

sock() { echo "$RT_WG_RUN/$1.sock"; }
link_exists() { ip -n "$1" link show "$2" >/dev/null 2>&1; }
pid_gone() { ! rt_pid_alive "$1"; }
# The daemon's pid: the last one wg_start recorded.
last_pid() { echo "${RT_PIDS[${#RT_PIDS[@]} - 1]}"; }

# ended NS IF PID — within 5 s the process is gone, and so are its socket
# and its interface.
ended() {
	local ns=$1 dev=$2 pid=$3
	if ! wait_until 5 pid_gone "$pid"; then
		echo "roamd $dev (pid $pid) still runs"
		return 1
	fi
	# The socket keeper removes it just after roamd is gone (privileges.h).
	wait_until 2 eval "[ ! -e '$(sock "$dev")' ]" || { echo "socket left: $(sock "$dev")"; return 1; }
	! link_exists "$ns" "$dev" || { echo "interface left: $dev"; return 1; }
}

# A configured interface with a peer, so exits have something to free.
configure() {
	local ns=$1 dev=$2
	wg_genkey "$dev" && wg_genkey "$dev-peer" && wg_psk "$dev" &&
		wg_set "$ns" "$dev" private-key "$(key_file "$dev")" listen-port 51820 \
			peer "$(key_pub "$dev-peer")" preshared-key "$(psk_file "$dev")" \
			endpoint 192.0.2.2:51820 allowed-ips 198.18.0.2/32,fd00:2::2/128 persistent-keepalive 1 &&
		ip -n "$ns" link set "$dev" up
}

t_check "lab comes up" ns_create "$L" "$M" || t_finish

# ---------------------------------------------------------------------------
# command line

version() {
	local out
	out=$("$ROAMD" --version) || return 1
	echo "$out"
	grep -q '^roamd [0-9]' <<<"$out"
}
t_check "roamd --version prints a banner and exits 0" version

bad_usage() {
	local out
	out=$("$ROAMD" 2>&1) && { echo "no argument accepted"; return 1; }
	grep -q Usage <<<"$out" || return 1
	out=$("$ROAMD" -f 'bad/name' 2>&1) && { echo "bad name accepted"; return 1; }
	echo "$out"
	grep -q "invalid interface name" <<<"$out" || return 1
	# 16 characters: the message says the limit and the rule.
	out=$("$ROAMD" -f abcdefghijklmnop 2>&1) && { echo "16-character name accepted"; return 1; }
	echo "$out"
	grep -qF "16 characters, the limit is 15 (any but '/', ':' and whitespace" <<<"$out" || return 1
	out=$("$ROAMD" --bogus x 2>&1) && { echo "unknown option accepted"; return 1; }
	out=$(LOG_LEVEL=chatty "$ROAMD" -f x 2>&1) && { echo "bad LOG_LEVEL accepted"; return 1; }
	grep -q LOG_LEVEL <<<"$out"
}
t_check "bad command lines exit 1 with a message" bad_usage

# ---------------------------------------------------------------------------
# daemonising

D1=$(rt_name d1)
daemonise() {
	# No -f, no WG_PROCESS_FOREGROUND: the way wg-quick runs it. When the
	# parent returns, both must already exist — no polling here.
	env -u WG_PROCESS_FOREGROUND ip netns exec "$L" "$ROAMD" "$D1" </dev/null >"$RT_TMP/d1.out" 2>&1 \
		{RT_OUT}>&- {RT_ERR}>&- || { cat "$RT_TMP/d1.out"; return 1; }
	[ -S "$(sock "$D1")" ] || { echo "socket missing when the parent returned"; return 1; }
	link_exists "$L" "$D1" || { echo "interface missing when the parent returned"; return 1; }
	ip -n "$L" link show "$D1" | grep -q "mtu 1420 .*state DOWN" || return 1
	# Socket 0700 in a 0755 directory, like wireguard-go.
	[ "$(stat -c %a "$(sock "$D1")")" = 700 ] && [ "$(stat -c %a "$RT_WG_RUN")" = 755 ] || return 1
	wg_show "$L" "$D1" >/dev/null
}
t_check "daemonises: parent exits 0 once interface (MTU 1420, down) and socket 0700 exist" daemonise

d1_pid() { ip netns pids "$L" | head -n 1; }

second_instance() {
	local out
	out=$(ip netns exec "$L" env WG_PROCESS_FOREGROUND=1 "$ROAMD" "$D1" </dev/null 2>&1 {RT_OUT}>&- {RT_ERR}>&-) &&
		{ echo "a second roamd for $D1 started"; return 1; }
	echo "$out"
	grep -qE "already exists|in use" <<<"$out" && wg_show "$L" "$D1" >/dev/null
	# The failed start must not have removed the first one's socket.
	[ -S "$(sock "$D1")" ]
}
t_check "a second roamd for the same name exits 1 and leaves the first alone" second_instance

daemon_sigterm() {
	local pid
	configure "$L" "$D1" || return 1
	pid=$(d1_pid)
	[ -n "$pid" ] || { echo "no daemon in $L"; return 1; }
	kill -TERM "$pid" && ended "$L" "$D1" "$pid"
}
t_check "daemonised roamd: SIGTERM ends it, socket and interface removed" daemon_sigterm

# ---------------------------------------------------------------------------
# the ways to end, in the foreground

F1=$(rt_name f1) F2=$(rt_name f2) F3=$(rt_name f3) F4=$(rt_name f4)

sigint() {
	local pid
	wg_start "$ROAMD" "$L" "$F1" && configure "$L" "$F1" || return 1
	pid=$(last_pid)
	kill -INT "$pid" && ended "$L" "$F1" "$pid" && grep -q "exiting: SIGINT" "$RT_TMP/$F1.log"
}
t_check "SIGINT ends it, socket and interface removed" sigint

socket_deleted() {
	local pid
	wg_start "$ROAMD" "$L" "$F2" && configure "$L" "$F2" || return 1
	pid=$(last_pid)
	rm -f "$(sock "$F2")" && ended "$L" "$F2" "$pid" && grep -q "exiting: UAPI socket deleted" "$RT_TMP/$F2.log"
}
t_check "deleting the socket file ends it, interface removed" socket_deleted

link_deleted() {
	local pid
	wg_start "$ROAMD" "$L" "$F3" && configure "$L" "$F3" || return 1
	pid=$(last_pid)
	ip -n "$L" link del "$F3" && ended "$L" "$F3" "$pid" && grep -q "exiting: interface" "$RT_TMP/$F3.log"
}
t_check "ip link del ends it, socket removed" link_deleted

# A socket file nobody listens on (left by a daemon that was SIGKILLed) is
# replaced; a down/up cycle does not end the daemon.
stale_socket() {
	local pid
	"$RT_PY" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$(sock "$F4")" || return 1
	[ -S "$(sock "$F4")" ] || return 1
	wg_start "$ROAMD" "$L" "$F4" && configure "$L" "$F4" || return 1
	pid=$(last_pid)
	ip -n "$L" link set "$F4" down && ip -n "$L" link set "$F4" up &&
		wait_until 5 eval "[ -n \"\$(nsx '$L' ss -Huln 'sport = :51820')\" ]" &&
		rt_pid_alive "$pid" && wg_show "$L" "$F4" >/dev/null &&
		kill -TERM "$pid" && ended "$L" "$F4" "$pid"
}
t_check "a stale socket is replaced; down/up keeps the daemon" stale_socket

# ---------------------------------------------------------------------------
# logs never show a key

G1=$(rt_name g1) G2=$(rt_name g2)
no_keys_in_logs() {
	local f k
	link_ns "$L" "$M" 192.0.2.1/24 192.0.2.2/24 || return 1
	LOG_LEVEL=verbose wg_start "$ROAMD" "$L" "$G1" && LOG_LEVEL=verbose wg_start "$ROAMD" "$M" "$G2" || return 1
	wg_genkey g1 && wg_genkey g2 && wg_psk g &&
		wg_set "$L" "$G1" private-key "$(key_file g1)" listen-port 51820 peer "$(key_pub g2)" \
			preshared-key "$(psk_file g)" endpoint 192.0.2.2:51820 allowed-ips 198.18.0.2/32 &&
		wg_set "$M" "$G2" private-key "$(key_file g2)" listen-port 51820 peer "$(key_pub g1)" \
			preshared-key "$(psk_file g)" allowed-ips 198.18.0.1/32 &&
		wg_ifup "$L" "$G1" 198.18.0.1/24 "" && wg_ifup "$M" "$G2" 198.18.0.2/24 "" &&
		ping_ok "$L" 198.18.0.2 || return 1
	grep -q "handshake complete" "$RT_TMP/$G1.log" || { echo "no handshake in the log"; return 1; }
	for f in "$RT_TMP/$G1.log" "$RT_TMP/$G2.log"; do
		for k in "$(cat "$(key_file g1)")" "$(cat "$(key_file g2)")" "$(cat "$(psk_file g)")"; do
			if grep -qF "$k" "$f" || grep -qiF "$(base64 -d <<<"$k" | od -An -tx1 | tr -d ' \n')" "$f"; then
				echo "a key appears in $f"
				return 1
			fi
		done
	done
	wc -l "$RT_TMP/$G1.log"
}
t_check "LOG_LEVEL=verbose logs events but never a private or preshared key" no_keys_in_logs

# ---------------------------------------------------------------------------
# AddressSanitizer + LeakSanitizer

S1=$(rt_name s1) S2=$(rt_name s2) S3=$(rt_name s3)
build_san() {
	(cd "$ROOT" && make -s -j2 BUILD=build/san SAN=1 OPT=-O1 build/san/roamd) && [ -x "$SAN_ROAMD" ]
}
SAN_OK=0
t_check "sanitizer build (make BUILD=build/san SAN=1 OPT=-O1 build/san/roamd)" build_san && SAN_OK=1

san_start() {
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		wg_start "$SAN_ROAMD" "$@"
}
# clean_exit LOG — the daemon said why it left, and no sanitizer spoke.
san_clean() {
	grep -q "exiting:" "$1" || { echo "no exit line in $1"; tail -n 20 "$1"; return 1; }
	if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error|SUMMARY: " "$1"; then
		grep -A 20 -E "ERROR|runtime error" "$1" | head -n 40
		return 1
	fi
}

# A busy life first: keys, PSK, a handshake, traffic, reconfiguration,
# a port change, a peer removed and re-added, a client still connected at
# exit. Then SIGTERM.
san_sigterm() {
	local pid hold
	san_start "$L" "$S1" || return 1
	pid=$(last_pid)
	# G2 (in M) now talks to S1 instead of G1, which goes down; S1 uses
	# G1's key and a tunnel of its own.
	wg_set "$L" "$S1" private-key "$(key_file g1)" listen-port 51821 peer "$(key_pub g2)" \
		preshared-key "$(psk_file g)" endpoint 192.0.2.2:51820 allowed-ips 198.18.1.2/32 &&
		wg_set "$M" "$G2" peer "$(key_pub g1)" remove &&
		wg_set "$M" "$G2" peer "$(key_pub g1)" preshared-key "$(psk_file g)" allowed-ips 198.18.1.1/32 &&
		ip -n "$M" addr add 198.18.1.2/32 dev "$G2" &&
		ip -n "$M" route add 198.18.1.1/32 dev "$G2" src 198.18.1.2 &&
		ip -n "$L" link set "$G1" down &&
		wg_ifup "$L" "$S1" 198.18.1.1/24 "" &&
		ping_ok "$L" 198.18.1.2 &&
		tcp_transfer "$M" "$L" 198.18.1.1 5003 4 30 || return 1
	# The ICMP unreachable path (its result is ping's business).
	nsx "$L" ping -c 2 -i 0.2 -W 1 198.18.1.99 >/dev/null
	wg_set "$L" "$S1" listen-port 51822 fwmark 7 && ping_ok "$L" 198.18.1.2 &&
		wg_set "$L" "$S1" peer "$(key_pub g2)" remove &&
		wg_set "$L" "$S1" peer "$(key_pub g2)" preshared-key "$(psk_file g)" endpoint 192.0.2.2:51820 \
			allowed-ips 198.18.1.2/32 &&
		ping_ok "$L" 198.18.1.2 && nsx "$L" wg showconf "$S1" >/dev/null || return 1
	"$RT_PY" -c 'import socket, sys, time; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"get=1"); time.sleep(30)' \
		"$(sock "$S1")" {RT_OUT}>&- {RT_ERR}>&- &
	hold=$!
	RT_PIDS+=("$hold")
	wait_until 5 eval "[ \$(nsx '$L' ss -Hx src '$(sock "$S1")' | wc -l) -ge 1 ]"
	kill -TERM "$pid" && ended "$L" "$S1" "$pid" || return 1
	kill "$hold" 2>/dev/null
	wait "$hold" 2>/dev/null
	rt_forget "$hold"
	san_clean "$RT_TMP/$S1.log"
}
san_socket_deleted() {
	local pid
	san_start "$L" "$S2" && configure "$L" "$S2" || return 1
	pid=$(last_pid)
	rm -f "$(sock "$S2")" && ended "$L" "$S2" "$pid" && san_clean "$RT_TMP/$S2.log"
}
san_link_deleted() {
	local pid
	san_start "$L" "$S3" && configure "$L" "$S3" || return 1
	pid=$(last_pid)
	ip -n "$L" link del "$S3" && ended "$L" "$S3" "$pid" && san_clean "$RT_TMP/$S3.log"
}
if [ "$SAN_OK" = 1 ]; then
	t_check "ASan+LSan: traffic, reconfiguration, SIGTERM: no error, no leak" san_sigterm
	t_check "ASan+LSan: socket deleted: no error, no leak" san_socket_deleted
	t_check "ASan+LSan: interface deleted: no error, no leak" san_link_deleted
fi

rt_cleanup
t_check "cleanup leaves no namespace or socket" rt_nothing_left
t_finish
