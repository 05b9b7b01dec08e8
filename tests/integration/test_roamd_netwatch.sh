#!/usr/bin/env bash
# roamd's netwatch: when the phone's own addresses or routes change, it tells
# the server at once instead of waiting for its next keepalive.
#
#   ns P (phone)                                   ns S (server)
#     path 1  v1: 198.51.100.2/24, fd00:a::2/64 ==== 198.51.100.1/24, fd00:a::1/64
#     path 2  v2: 203.0.113.2/24,  fd00:b::2/64 ==== 203.0.113.1/24,  fd00:b::1/64
#                                                  lo: 192.0.2.1, fd00:c::1 (the endpoint)
#   tunnel: phone 198.18.0.1  <=====>  server 198.18.0.2
#
# The phone uses one path at a time: its address on that path and the
# default route through it. Switching paths is make-before-break and the old
# address goes (a phone leaving Wi-Fi), so the server can only reach the
# phone once it has learnt the new address. The phone has PersistentKeepalive
# 25 and sends nothing else: the silent roam. Measured from the switch: ms
# until the server's `wg show endpoints` shows the new address, and until a
# ping from the server through the tunnel is answered (50 Hz pings, the
# reply's timestamp counts).
#
# Cases (phone/server):
#   roamd/roamd          IPv4: both under 1 s; the phone logs "network change",
#                        the server logs the endpoint change
#   roamd/roamd          the phone's own interface (routes, addresses, a fwmark
#                        table), address lifetime refreshes and links that
#                        carry nothing cause no round; one real change, one
#                        round, one keepalive
#   roamd/roamd          a change on the server: it notifies the phone from
#                        the address the phone writes to (on its lo), so the
#                        phone's endpoint for it stays
#   roamd/roamd          50 default-route flips in about 2 s: the rounds (and
#                        packets sent) stay within the rate limit, the last
#                        state is announced, the tunnel still works
#   roamd/wireguard-go   IPv4: under 1 s (only the phone has to react)
#   roamd/roamd          IPv6 outer addresses: under 1 s
#   roamd, ROAMD_NO_NETWATCH=1 / roamd: no reaction within 2 s (disabled)
#   wireguard-go/roamd   the comparison: measured, at most 30 s, never a
#                        failure (it waits for its next keepalive, ~25 s, or
#                        stays stuck on the deleted source; see sc_slow_switch)
# Each case prints a "measured:" line.
# shellcheck disable=SC2317 # case functions are called through t_check
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

ROAMD=${ROAM_ROAMD:-$(cd "$(dirname "$0")/../.." && pwd)/build/roamd}
[ -x "$ROAMD" ] || t_abort "build/roamd is missing (run make)"
command -v wireguard-go >/dev/null || t_abort "wireguard-go is not installed (scripts/install-deps.sh)"
PORT=51820
KEEPALIVE=25
# What a roamd phone must do here: it reacts to the route change (measured
# 150-400 ms; once 1.2 s on a loaded 2-core machine), where a phone without
# netwatch waits for its next keepalive (25 s). The NAT lab prints the 200 ms
# target.
FAST_MS=3000
SLOW_CAP_S=30       # how long the wireguard-go comparison may take

# The lab in use (one at a time).
T="" P="" S="" WP="" WS="" V1P="" V2P="" V2S="" PHONE_IMPL="" SERVER_IMPL="" FAM=4 PATH_NOW=0
LAB_PIDS=()

phone_addr() { # PATH(1|2) FAMILY(4|6)
	case $1$2 in
	14) echo 198.51.100.2 ;; 24) echo 203.0.113.2 ;;
	16) echo fd00:a::2 ;; 26) echo fd00:b::2 ;;
	esac
}
gateway() { # PATH FAMILY
	case $1$2 in
	14) echo 198.51.100.1 ;; 24) echo 203.0.113.1 ;;
	16) echo fd00:a::1 ;; 26) echo fd00:b::1 ;;
	esac
}
path_dev() { [ "$1" = 1 ] && echo "$V1P" || echo "$V2P"; }
has_addr() { ip -n "$P" addr show dev "$1" | grep -qF " $2 "; }

# phone_attach PATH — address and default routes on PATH, then the other
# path's addresses go (and the routes through them).
phone_attach() {
	local to=$1 from dev odev
	from=$((3 - to)) dev=$(path_dev "$to") odev=$(path_dev "$from")
	has_addr "$dev" "$(phone_addr "$to" 4)/24" || if_addr "$P" "$dev" "$(phone_addr "$to" 4)/24" || return 1
	has_addr "$dev" "$(phone_addr "$to" 6)/64" || if_addr "$P" "$dev" "$(phone_addr "$to" 6)/64" || return 1
	ip -n "$P" -4 route replace default via "$(gateway "$to" 4)" dev "$dev" &&
		ip -n "$P" -6 route replace default via "$(gateway "$to" 6)" dev "$dev" || return 1
	if has_addr "$odev" "$(phone_addr "$from" 4)/24"; then
		ip -n "$P" addr del "$(phone_addr "$from" 4)/24" dev "$odev" || return 1
	fi
	if has_addr "$odev" "$(phone_addr "$from" 6)/64"; then
		ip -n "$P" addr del "$(phone_addr "$from" 6)/64" dev "$odev" || return 1
	fi
	PATH_NOW=$to
}

# lab_up TAG PHONE_IMPL SERVER_IMPL FAMILY — namespaces, both paths, the phone
# on path 1, both daemons, a session, and the server seeing the phone there
# (the server's ping after the switch is the first data in the tunnel).
lab_up() {
	local t=$1 ep
	T=$t PHONE_IMPL=$2 SERVER_IMPL=$3 FAM=$4
	P=$(rt_name "${t}p") S=$(rt_name "${t}s") WP=$(rt_name "${t}wp") WS=$(rt_name "${t}ws") || return 1
	ns_create "$P" "$S" || return 1
	link_ns "$P" "$S" "" 198.51.100.1/24,fd00:a::1/64 || return 1
	V1P=$(link_name "$RT_LINKS" a)
	link_ns "$P" "$S" "" 203.0.113.1/24,fd00:b::1/64 || return 1
	V2P=$(link_name "$RT_LINKS" a) V2S=$(link_name "$RT_LINKS" b)
	if_addr "$S" lo 192.0.2.1/32,fd00:c::1/128 && phone_attach 1 || return 1
	LAB_PIDS=()
	wg_start "$PHONE_IMPL" "$P" "$WP" || return 1
	LAB_PIDS+=("${RT_PIDS[-1]}")
	wg_start "$SERVER_IMPL" "$S" "$WS" || return 1
	LAB_PIDS+=("${RT_PIDS[-1]}")
	wg_genkey "${t}p" && wg_genkey "${t}s" || return 1
	[ "$FAM" = 4 ] && ep=192.0.2.1:$PORT || ep="[fd00:c::1]:$PORT"
	# The phone gets its peer last: with a keepalive it initiates at once,
	# and the server must be ready for it.
	wg_set "$S" "$WS" private-key "$(key_file "${t}s")" listen-port "$PORT" \
		peer "$(key_pub "${t}p")" allowed-ips 198.18.0.1/32 &&
		wg_ifup "$S" "$WS" 198.18.0.2/32 198.18.0.1/32 &&
		wg_set "$P" "$WP" private-key "$(key_file "${t}p")" listen-port "$PORT" &&
		wg_ifup "$P" "$WP" 198.18.0.1/32 198.18.0.2/32 &&
		wg_set "$P" "$WP" peer "$(key_pub "${t}s")" endpoint "$ep" \
			persistent-keepalive "$KEEPALIVE" allowed-ips 198.18.0.2/32 || return 1
	# Only the handshake and the keepalive confirming it: data would make
	# the phone owe a passive keepalive (10 s after receiving it), and the
	# phone must be silent until its persistent keepalive, 25 s from now.
	if ! wait_until 10 wg_has_handshake "$P" "$WP"; then
		echo "no handshake"
		wg_show "$P" "$WP"
		wg_show "$S" "$WS"
		return 1
	fi
	wait_until 5 server_ep_is "$(phone_addr 1 "$FAM")" && return 0
	echo "the server sees the phone at $(server_ep), not at $(phone_addr 1 "$FAM")"
	return 1
}

lab_down() {
	local ns p
	for p in "${LAB_PIDS[@]}"; do
		# shellcheck disable=SC2046 # only while still our child (pids get reused)
		rt_kill $(rt_children "$p")
		wait "$p" 2>/dev/null
		rt_forget "$p"
	done
	LAB_PIDS=()
	for ns in "$P" "$S"; do
		# shellcheck disable=SC2046
		rt_kill $(ip netns pids "$ns" 2>/dev/null)
		ip netns del "$ns" 2>/dev/null
	done
	rm -f "$RT_WG_RUN/$WP.sock" "$RT_WG_RUN/$WS.sock"
	return 0
}

impl_name() { basename "$1"; }
pair() { echo "[$(impl_name "$PHONE_IMPL")/$(impl_name "$SERVER_IMPL")]"; }

# The server's endpoint for the phone, and its address part.
server_ep() {
	local k ep
	while read -r k ep; do
		[ "$k" = "$(key_pub "${T}p")" ] && { echo "$ep"; return 0; }
	done < <(wg_show "$S" "$WS" endpoints 2>/dev/null)
	echo "(none)"
}
server_ep_is() {
	local h
	h=$(server_ep)
	h=${h%:*} h=${h#[} h=${h%]}
	[ "$h" = "$1" ]
}

# poll_ms T0_NS CAP_S CMD... — run CMD about every 10 ms until it succeeds;
# print the ms from T0_NS to that moment, or "none" after CAP_S seconds.
# Bounded by time and by count.
poll_ms() {
	local t0=$1 cap=$2 now i max
	shift 2
	max=$((cap * 100 + 2))
	for ((i = 0; i < max; i++)); do
		if "$@" >/dev/null 2>&1; then
			now=$(date +%s%N)
			echo $(((now - t0) / 1000000))
			return 0
		fi
		now=$(date +%s%N)
		[ $((now - t0)) -ge $((cap * 1000000000)) ] && break
		sleep 0.01
	done
	echo none
	return 1
}

# ping_ms_since T0_NS FILE — ms from T0_NS to the first reply in FILE (ping -D).
ping_ms_since() {
	awk -v s0="$(($1 / 1000000000))" -v u0="$((($1 % 1000000000) / 1000))" '
		/bytes from/ {
			ts = substr($1, 2, length($1) - 2); split(ts, p, ".")
			printf "%d\n", ((p[1] - s0) * 1000000 + (p[2] - u0)) / 1000; found = 1; exit
		}
		END { if (!found) print "none" }' "$2"
}

# roamd's log lines about network changes, and their count.
netchange_lines() { grep -F " info: network change: " "$RT_TMP/$WP.log" 2>/dev/null; }
netchange_count() { netchange_lines | wc -l; }
netchange_count_gt() { [ "$(netchange_count)" -gt "$1" ]; }
# A round logged at or after a local time "YYYY-MM-DD HH:MM:SS.mmm".
netchange_since() { netchange_lines | awk -v t="$1" '($1 " " $2) >= t { n++ } END { exit !n }'; }

# roam_counter IFNAME KEY — a roamd peer counter from UAPI get=2 (the first
# peer's; these labs have one), e.g. roam_tx_packets: every datagram sent.
RT_PY_COUNTER='
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(3.0)
s.connect(sys.argv[1])
s.sendall(b"get=2\n\n")
buf = b""
while not buf.endswith(b"\n\n"):
    b = s.recv(65536)
    if not b:
        break
    buf += b
for line in buf.decode().splitlines():
    if line.startswith(sys.argv[2] + "="):
        print(line.split("=", 1)[1])
        break
'
roam_counter() { "$RT_PY" -c "$RT_PY_COUNTER" "$RT_WG_RUN/$1.sock" "$2"; }
phone_tx() { roam_counter "$WP" roam_tx_packets; }
counter_gt() { [ "$(roam_counter "$1" "$2")" -gt "$3" ]; } # IFNAME KEY N
# log_rounds_gt IFNAME N — more than N "network change" lines in its log.
log_rounds_gt() { [ "$(grep -c " info: network change: " "$RT_TMP/$1.log")" -gt "$2" ]; }

measured() { echo "  measured: $(pair) $*" >&"$RT_OUT"; }

# ---------------------------------------------------------------------------
# Cases

# switch_paths CAP_S — the phone moves to path 2 while silent; the server then
# pings it. Sets EP_MS and PING_MS (ms since the switch began, or "none").
EP_MS=none PING_MS=none
switch_paths() {
	local cap=$1 t0 out pid new
	new=$(phone_addr 2 "$FAM")
	out="$RT_TMP/ping.$T.out"
	t0=$(date +%s%N)
	phone_attach 2 || return 1
	# Pings only from now on: the old path would have answered before.
	ip netns exec "$S" ping -n -D -c 1 -i 0.02 -W 1 -w "$cap" 198.18.0.1 \
		</dev/null >"$out" 2>&1 {RT_OUT}>&- {RT_ERR}>&- &
	pid=$!
	RT_PIDS+=("$pid")
	EP_MS=$(poll_ms "$t0" "$cap" server_ep_is "$new")
	wait "$pid" 2>/dev/null # ping's own deadline bounds it
	rt_forget "$pid"
	PING_MS=$(ping_ms_since "$t0" "$out")
}

sc_fast_switch() {
	local n0 line
	n0=$(netchange_count)
	switch_paths 5 || return 1
	measured "outer=IPv$FAM endpoint_ms=$EP_MS ping_ms=$PING_MS endpoint_after=$(server_ep)"
	[ "$EP_MS" != none ] || { echo "the server never saw the new address"; return 1; }
	[ "$PING_MS" != none ] || { echo "the server's ping never got through"; return 1; }
	[ "$EP_MS" -lt "$FAST_MS" ] || { echo "endpoint after ${EP_MS} ms (>= $FAST_MS)"; return 1; }
	[ "$PING_MS" -lt "$FAST_MS" ] || { echo "ping after ${PING_MS} ms (>= $FAST_MS)"; return 1; }
	wait_until 2 netchange_count_gt "$n0" || { echo "no 'network change' line in the phone's log"; return 1; }
	line=$(netchange_lines | tail -n 1)
	echo "phone log: $line"
	grep -q "1 peer notified" <<<"$line" || { echo "unexpected: $line"; return 1; }
	if [ "$(impl_name "$SERVER_IMPL")" = roamd ]; then
		local old new
		if [ "$FAM" = 4 ]; then
			old="$(phone_addr 1 4):$PORT" new="$(phone_addr 2 4):$PORT"
		else
			old="[$(phone_addr 1 6)]:$PORT" new="[$(phone_addr 2 6)]:$PORT"
		fi
		grep -F "endpoint $old -> $new" "$RT_TMP/$WS.log" ||
			{ echo "no endpoint change line in the server's log"; tail -n 5 "$RT_TMP/$WS.log"; return 1; }
	fi
}

# Disabled: the server must still see the old address 2 s after the switch
# (the phone's next keepalive is ~25 s away).
sc_disabled() {
	switch_paths 2 || return 1
	measured "ROAMD_NO_NETWATCH=1 endpoint_ms=$EP_MS ping_ms=$PING_MS endpoint_after=$(server_ep)"
	[ "$EP_MS" = none ] && [ "$PING_MS" = none ] || { echo "reacted although disabled"; return 1; }
	[ "$(netchange_count)" -eq 0 ] || { echo "a 'network change' line although disabled"; return 1; }
	grep -q "network change" "$RT_TMP/$WP.log" && { echo "netwatch ran although disabled"; return 1; }
	return 0
}

# The comparison: whatever it takes, up to SLOW_CAP_S; only printed.
# wireguard-go (0.0.20220316 at least) waits for its next keepalive, or
# never gets through: its route listener asks the kernel for the route from
# its cached source address, and when the answer comes too late (the address
# is gone) it keeps that source, and current kernels refuse it with
# ENETUNREACH, an error it does not recover from (it does on EINVAL). Which
# of the two happens is a race inside it; the line says which it was.
sc_slow_switch() {
	local why="" failed
	switch_paths "$SLOW_CAP_S" || return 1
	failed=$(grep -c "network is unreachable" "$RT_TMP/$WP.log")
	[ "$EP_MS" = none ] && [ "$failed" -gt 0 ] &&
		why=" (stuck: $failed sends from the deleted address refused with 'network is unreachable')"
	measured "outer=IPv$FAM endpoint_ms=$EP_MS ping_ms=$PING_MS (cap ${SLOW_CAP_S} s; keepalive $KEEPALIVE s)" \
		"endpoint_after=$(server_ep)$why"
	return 0
}

# Changes that must not cause a round, then one that must: exactly one
# round, one packet, and it counts only the real change.
sc_noise() {
	local n0 tx0 tx1 i line xa xb dev
	dev=$(path_dev "$PATH_NOW")
	n0=$(netchange_count)
	tx0=$(phone_tx) || return 1
	# Our own interface, as wg-quick uses it (routes, a fwmark table).
	for ((i = 1; i <= 20; i++)); do
		ip -n "$P" route add "198.19.$i.0/24" dev "$WP" || return 1
	done
	ip -n "$P" addr add 198.18.0.11/32 dev "$WP" &&
		ip -n "$P" -6 addr add fd00:2::11/128 dev "$WP" nodad &&
		ip -n "$P" route add default dev "$WP" table 51820 &&
		ip -n "$P" -6 route add fd00:99::/64 dev "$WP" || return 1
	# Lifetime refreshes of the addresses in use (router advertisements).
	ip -n "$P" addr change "$(phone_addr "$PATH_NOW" 4)/24" dev "$dev" valid_lft 3600 preferred_lft 3600 &&
		ip -n "$P" -6 addr change "$(phone_addr "$PATH_NOW" 6)/64" dev "$dev" valid_lft 3600 \
			preferred_lft 3600 nodad || return 1
	# A link that carries nothing comes and goes.
	xa=$(rt_name "${T}xa") xb=$(rt_name "${T}xb") || return 1
	ip -n "$P" link add "$xa" type veth peer name "$xb" && ip -n "$P" link del "$xa" || return 1
	# The real change: a second address on the path in use.
	ip -n "$P" addr add 203.0.113.3/24 dev "$dev" || return 1
	wait_until 2 netchange_count_gt "$n0" || { echo "no round for the real change"; return 1; }
	# Wait for the keepalive to be counted rather than assume it is.
	wait_until 2 counter_gt "$WP" roam_tx_packets "$tx0"
	tx1=$(phone_tx) || return 1
	line=$(netchange_lines | tail -n 1)
	measured "noise: rounds=$(($(netchange_count) - n0)) tx_packets=$((tx1 - tx0)) last: ${line#* info: }"
	[ "$(netchange_count)" -eq $((n0 + 1)) ] || { echo "expected 1 round:"; netchange_lines | tail -n 4; return 1; }
	grep -Eq "network change: 1 peer notified \(1 address(, [12] route)? events\)$" <<<"$line" ||
		{ echo "the round counted more than the real change: $line"; return 1; }
	[ $((tx1 - tx0)) -eq 1 ] || { echo "expected 1 packet, sent $((tx1 - tx0))"; return 1; }
	# Leave the interface as it was (no round expected: only our own).
	ip -n "$P" route del default dev "$WP" table 51820
}

# The server's own network changes: it tells the phone too, but from the
# address the phone writes to (192.0.2.1 on lo), not from whatever address
# routing would pick (its interface's): the phone would follow that one.
phone_ep() {
	local k ep
	while read -r k ep; do
		[ "$k" = "$(key_pub "${T}s")" ] && { echo "$ep"; return 0; }
	done < <(wg_show "$P" "$WP" endpoints 2>/dev/null)
	echo "(none)"
}
sc_server_change() {
	local rx0 ep0 n0
	ep0=$(phone_ep)
	rx0=$(roam_counter "$WP" roam_rx_packets) || return 1
	n0=$(grep -c " info: network change: " "$RT_TMP/$WS.log")
	ip -n "$S" addr add 203.0.113.9/24 dev "$V2S" || return 1
	wait_until 2 log_rounds_gt "$WS" "$n0" ||
		{ echo "the server did not react"; return 1; }
	# The keepalive it sent has arrived (and moved the phone's endpoint,
	# if it came from elsewhere).
	wait_until 2 counter_gt "$WP" roam_rx_packets "$rx0" ||
		{ echo "the server's keepalive did not reach the phone"; return 1; }
	measured "server change: the phone sees the server at $(phone_ep) (before: $ep0)"
	[ "$(phone_ep)" = "$ep0" ] || { echo "the server answered from another address"; return 1; }
	ip -n "$S" addr del 203.0.113.9/24 dev "$V2S"
}

# 50 flips of the default route between the two paths (both addresses
# present) in about 2 s. Bound: the first few rounds at least 100 ms apart,
# then one per 250 ms, plus the last state's own round.
sc_flap() {
	local n0 tx0 tx1 t0 t1 last rounds sent bound i to ep_ms
	# Both paths usable; the route alone decides. Wait out the round that
	# adding the address causes.
	n0=$(netchange_count)
	if_addr "$P" "$V1P" "$(phone_addr 1 4)/24,$(phone_addr 1 6)/64" || return 1
	wait_until 2 netchange_count_gt "$n0" || { echo "no round for the added address"; return 1; }
	wait_until 2 server_ep_is "$(phone_addr "$PATH_NOW" "$FAM")" || { echo "endpoint $(server_ep)"; return 1; }
	n0=$(netchange_count)
	tx0=$(phone_tx) || return 1
	t0=$(date +%s%N)
	for ((i = 1; i <= 50; i++)); do
		to=$((i % 2 ? 3 - PATH_NOW : PATH_NOW))
		[ "$i" -eq 50 ] && last=$(date +'%Y-%m-%d %H:%M:%S.%3N')
		ip -n "$P" -4 route replace default via "$(gateway "$to" 4)" dev "$(path_dev "$to")" || return 1
		sleep 0.04 # pacing the flaps, not waiting for anything
	done
	t1=$(date +%s%N)
	# The last flip gets a round of its own.
	wait_until 2 netchange_since "$last" || { echo "no round after the last flip"; return 1; }
	ep_ms=$(poll_ms "$t1" 2 server_ep_is "$(phone_addr "$PATH_NOW" "$FAM")")
	tx1=$(phone_tx) || return 1
	rounds=$(($(netchange_count) - n0)) sent=$((tx1 - tx0))
	bound=$((5 + (t1 - t0) / 250000000 + 1))
	measured "flap: 50 flips in $(((t1 - t0) / 1000000)) ms: rounds=$rounds tx_packets=$sent bound=$bound" \
		"final_endpoint=$(server_ep) (${ep_ms} ms after the last flip)"
	[ "$rounds" -ge 2 ] || { echo "only $rounds rounds: not reacting"; return 1; }
	[ "$rounds" -le "$bound" ] || { echo "$rounds rounds > $bound"; return 1; }
	[ "$sent" -le "$bound" ] || { echo "$sent packets > $bound"; return 1; }
	if [ "$ep_ms" = none ]; then
		echo "the server's endpoint is $(server_ep) after the flapping; the route:"
		ip -n "$P" route show default
		tail -n 12 "$RT_TMP/$WP.log" "$RT_TMP/$WS.log"
		return 1
	fi
	ping_ok "$S" 198.18.0.1 && ping_ok "$P" 198.18.0.2 || { echo "the tunnel does not work after the flapping"; return 1; }
}

run_lab() { # TAG PHONE SERVER FAMILY CASE...
	local t=$1 phone=$2 server=$3 fam=$4 c
	shift 4
	if ! t_check "[$(impl_name "$phone")/$(impl_name "$server")] IPv$fam lab up, session established" \
		lab_up "$t" "$phone" "$server" "$fam"; then
		tail -n 20 "$RT_TMP/$WP.log" "$RT_TMP/$WS.log" 2>/dev/null | sed 's/^/    /' >&"$RT_ERR"
		lab_down
		return 1
	fi
	for c in "$@"; do
		t_check "$(pair) IPv$fam ${c#*:}" "sc_${c%%:*}" || sed 's/^/    | /' "$RT_TMP/check.out" >&"$RT_OUT"
	done
	lab_down
}

run_lab a "$ROAMD" "$ROAMD" 4 \
	"fast_switch:silent roam, server reaches the phone within ${FAST_MS} ms" \
	"noise:own interface, lifetime refreshes, idle links: no round; a real change: one" \
	"server_change:the server's own change keeps the address it answers from" \
	"flap:50 route flips in ~2 s: bounded rounds and packets, tunnel works"
run_lab b "$ROAMD" wireguard-go 4 \
	"fast_switch:silent roam, server reaches the phone within ${FAST_MS} ms"
run_lab c "$ROAMD" "$ROAMD" 6 \
	"fast_switch:silent roam, server reaches the phone within ${FAST_MS} ms"
ROAMD_NO_NETWATCH=1 run_lab d "$ROAMD" "$ROAMD" 4 \
	"disabled:ROAMD_NO_NETWATCH=1: no reaction within 2 s"
run_lab e wireguard-go "$ROAMD" 4 \
	"slow_switch:silent roam for comparison (measured, up to ${SLOW_CAP_S} s)"

rt_cleanup
t_check "cleanup leaves no namespace or socket" rt_nothing_left
t_finish
