#!/usr/bin/env bash
# roamd driven by the real tools: wg show / showconf / setconf / set /
# syncconf and wg-quick, with wireguard-go as the far end.
#
#   ns A  192.0.2.1/24 (+ .11), fd00:1::1/64 (+ ::11)  ==veth==  192.0.2.2/24, fd00:1::2/64  ns B
#   roamd WA 198.18.0.1/24, fd00:2::1/64               <=====>   198.18.0.2/24, fd00:2::2/64  wireguard-go WB
#
# The tunnel subnets are routed into WA as a whole, so 198.18.0.99 and
# fd00:2::99 reach roamd without any peer for them (ICMP unreachable case).
# shellcheck disable=SC2317 # case functions are called through t_check
# shellcheck disable=SC2015 # `a && b || { report; return 1; }` is meant
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# ROAM_ROAMD runs the cases against another build (e.g. build/san/roamd).
ROAMD=${ROAM_ROAMD:-$(cd "$(dirname "$0")/../.." && pwd)/build/roamd}
[ -x "$ROAMD" ] || t_abort "build/roamd is missing (run make)"
command -v wireguard-go >/dev/null || t_abort "wireguard-go is not installed (scripts/install-deps.sh)"
command -v wg-quick >/dev/null || t_abort "wg-quick is not installed (scripts/install-deps.sh)"

A=$(rt_name a) B=$(rt_name b) WA=$(rt_name wa) WB=$(rt_name wb) WQ=$(rt_name q)
PORT=51820
SOCK_A=$RT_WG_RUN/$WA.sock

# A's key changes in one case; this names the current one.
AKEY=a

# Both ends know each other (endpoints, AllowedIPs both families).
peer_a_on_b() {
	wg_set "$B" "$WB" peer "$(key_pub "$AKEY")" endpoint 192.0.2.1:"$PORT" \
		allowed-ips 198.18.0.1/32,fd00:2::1/128
}
peer_b_on_a() {
	wg_set "$A" "$WA" peer "$(key_pub b)" endpoint 192.0.2.2:"$PORT" \
		allowed-ips 198.18.0.2/32,fd00:2::2/128 "$@"
}

setup() {
	ns_create "$A" "$B" &&
		link_ns "$A" "$B" 192.0.2.1/24,fd00:1::1/64 192.0.2.2/24,fd00:1::2/64 &&
		if_addr "$A" "$(link_name 1 a)" 192.0.2.11/24,fd00:1::11/64 &&
		wg_start "$ROAMD" "$A" "$WA" &&
		wg_start wireguard-go "$B" "$WB" &&
		wg_genkey a && wg_genkey a2 && wg_genkey b && wg_genkey c && wg_genkey q && wg_genkey x &&
		wg_psk ab &&
		wg_set "$A" "$WA" private-key "$(key_file a)" listen-port "$PORT" &&
		wg_set "$B" "$WB" private-key "$(key_file b)" listen-port "$PORT" &&
		peer_b_on_a && peer_a_on_b &&
		wg_ifup "$A" "$WA" 198.18.0.1/24,fd00:2::1/64 "" &&
		wg_ifup "$B" "$WB" 198.18.0.2/24,fd00:2::2/64 ""
}
t_check "lab comes up (roamd <-> wireguard-go)" setup || t_finish

# handshake_fresh — traffic from A, then both ends have a handshake.
tunnel_up() {
	nsx "$A" ping -c 1 -W 1 -q 198.18.0.2 >/dev/null 2>&1
	wait_until 10 wg_has_handshake "$A" "$WA" "$(key_pub b)" &&
		wait_until 5 wg_has_handshake "$B" "$WB" "$(key_pub "$AKEY")" &&
		ping_ok "$A" 198.18.0.2 && ping_ok "$A" fd00:2::2
}
t_check "handshake and ping" tunnel_up

# --- wg show ------------------------------------------------------------------
show_human() {
	local out
	out=$(wg_show "$A" "$WA") || return 1
	echo "$out"
	grep -qF "interface: $WA" <<<"$out" &&
		grep -qF "public key: $(key_pub a)" <<<"$out" &&
		grep -qF "private key: (hidden)" <<<"$out" &&
		grep -qF "listening port: $PORT" <<<"$out" &&
		grep -qF "peer: $(key_pub b)" <<<"$out" &&
		grep -qF "endpoint: 192.0.2.2:$PORT" <<<"$out" &&
		grep -qF "allowed ips: 198.18.0.2/32, fd00:2::2/128" <<<"$out" &&
		grep -qF "latest handshake:" <<<"$out" &&
		grep -qE "transfer: .* received, .* sent" <<<"$out"
}
t_check "wg show" show_human

# `wg show all` walks every socket in the shared directory (other tests'
# too), so only our interface's lines count.
show_dump() {
	local iface peer f
	nsx "$A" timeout 10 wg show all dump >"$RT_TMP/dump" || return 1
	iface=$(grep -P "^$WA\t" "$RT_TMP/dump" | head -n 1)
	peer=$(grep -P "^$WA\t" "$RT_TMP/dump" | sed -n 2p)
	echo "$iface"
	echo "$peer"
	IFS=$'\t' read -ra f <<<"$iface"
	[ "${#f[@]}" -eq 5 ] && [ "${f[1]}" = "$(cat "$(key_file a)")" ] && [ "${f[2]}" = "$(key_pub a)" ] &&
		[ "${f[3]}" = "$PORT" ] && [ "${f[4]}" = off ] || return 1
	IFS=$'\t' read -ra f <<<"$peer"
	[ "${#f[@]}" -eq 9 ] && [ "${f[1]}" = "$(key_pub b)" ] && [ "${f[2]}" = "(none)" ] &&
		[ "${f[3]}" = "192.0.2.2:$PORT" ] && [ "${f[4]}" = "198.18.0.2/32,fd00:2::2/128" ] &&
		[ "${f[5]}" -gt 0 ] && [ "${f[6]}" -gt 0 ] && [ "${f[7]}" -gt 0 ] && [ "${f[8]}" = off ]
}
t_check "wg show all dump" show_dump

# --- showconf -> setconf ------------------------------------------------------
roundtrip() {
	nsx "$A" wg showconf "$WA" >"$RT_TMP/conf1" &&
		nsx "$A" wg setconf "$WA" "$RT_TMP/conf1" &&
		nsx "$A" wg showconf "$WA" >"$RT_TMP/conf2" || return 1
	cat "$RT_TMP/conf1"
	diff "$RT_TMP/conf1" "$RT_TMP/conf2" && ping_ok "$A" 198.18.0.2
}
t_check "wg showconf | wg setconf round trip is identical, tunnel still works" roundtrip

# --- wg set, one option at a time ----------------------------------------------
set_fwmark() {
	wg_set "$A" "$WA" fwmark 0x1234 &&
		[ "$(wg_show "$A" "$WA" fwmark)" = 0x1234 ] &&
		nsx "$A" ss -uaneH "sport = :$PORT" | grep -q "fwmark:0x1234" &&
		ping_ok "$A" 198.18.0.2 &&
		wg_set "$A" "$WA" fwmark 0 &&
		[ "$(wg_show "$A" "$WA" fwmark)" = off ] &&
		! nsx "$A" ss -uaneH "sport = :$PORT" | grep -q "fwmark:"
}
t_check "wg set fwmark (SO_MARK on the sockets), then off" set_fwmark

set_psk() {
	wg_set "$A" "$WA" peer "$(key_pub b)" preshared-key "$(psk_file ab)" &&
		wg_set "$B" "$WB" peer "$(key_pub a)" preshared-key "$(psk_file ab)" || return 1
	wg_show "$A" "$WA" preshared-keys | grep -qF "$(cat "$(psk_file ab)")" || return 1
	# A new session must now be keyed with the PSK: drop ours and redo it.
	wg_set "$A" "$WA" peer "$(key_pub b)" remove && peer_b_on_a preshared-key "$(psk_file ab)" &&
		tunnel_up || return 1
	# /dev/null clears it (the live session stays; later cases re-add
	# peers without a PSK).
	wg_set "$A" "$WA" peer "$(key_pub b)" preshared-key /dev/null &&
		wg_set "$B" "$WB" peer "$(key_pub a)" preshared-key /dev/null &&
		wg_show "$A" "$WA" preshared-keys | grep -qF "(none)"
}
t_check "wg set peer preshared-key, new handshake with it" set_psk

# A has two IPv6 addresses on the wire; either may be its source.
b_sees_a_at_v6() { wg_show "$B" "$WB" endpoints | grep -qE "\[fd00:1::(1|11)\]:$PORT"; }
set_endpoint() {
	wg_set "$A" "$WA" peer "$(key_pub b)" endpoint "[fd00:1::2]:$PORT" &&
		wg_show "$A" "$WA" endpoints | grep -qF "[fd00:1::2]:$PORT" &&
		ping_ok "$A" 198.18.0.2 &&
		wait_until 5 b_sees_a_at_v6 &&
		wg_set "$A" "$WA" peer "$(key_pub b)" endpoint 192.0.2.2:"$PORT" &&
		ping_ok "$A" fd00:2::2
}
t_check "wg set peer endpoint (IPv6, then back to IPv4)" set_endpoint

rx_of_a_on_b() {
	local rx
	read -r rx _ < <(wg_transfer_bytes "$B" "$WB" "$(key_pub "$AKEY")")
	echo "${rx:-0}"
}
rx_grew() { [ "$(rx_of_a_on_b)" -ge $(($1 + 64)) ]; }
set_keepalive() {
	local before
	wg_set "$A" "$WA" peer "$(key_pub b)" persistent-keepalive 1 &&
		[ "$(wg_show "$A" "$WA" persistent-keepalive | cut -f2)" = 1 ] || return 1
	# Two keepalives (32 bytes each) arrive at B without any traffic.
	before=$(rx_of_a_on_b)
	wait_until 5 rx_grew "$before" || { echo "B received nothing from A: $(rx_of_a_on_b) vs $before"; return 1; }
	wg_set "$A" "$WA" peer "$(key_pub b)" persistent-keepalive off &&
		[ "$(wg_show "$A" "$WA" persistent-keepalive | cut -f2)" = off ]
}
t_check "wg set peer persistent-keepalive (keepalives arrive), then off" set_keepalive

set_allowed_ips() {
	local got
	wg_set "$A" "$WA" peer "$(key_pub b)" allowed-ips 198.18.0.2/32,fd00:2::2/128,203.0.113.0/25 || return 1
	got=$(wg_show "$A" "$WA" allowed-ips | cut -f2)
	echo "$got"
	[ "$got" = "198.18.0.2/32 fd00:2::2/128 203.0.113.0/25" ] || return 1
	wg_set "$A" "$WA" peer "$(key_pub b)" allowed-ips 198.18.0.2/32,fd00:2::2/128 || return 1
	got=$(wg_show "$A" "$WA" allowed-ips | cut -f2)
	[ "$got" = "198.18.0.2/32 fd00:2::2/128" ] && ping_ok "$A" 198.18.0.2
}
t_check "wg set peer allowed-ips (add a prefix, replace)" set_allowed_ips

# Keeping its sessions means: no new handshake, and B follows A's new
# source port like any roaming.
handshake_time() { wg_latest_handshake "$A" "$WA" "$(key_pub b)"; }
set_listen_port() {
	local hs
	ping_ok "$A" 198.18.0.2 || return 1
	hs=$(handshake_time)
	wg_set "$A" "$WA" listen-port 51821 &&
		[ "$(wg_show "$A" "$WA" listen-port)" = 51821 ] &&
		[ -n "$(nsx "$A" ss -Huln "sport = :51821")" ] &&
		[ -z "$(nsx "$A" ss -Huln "sport = :$PORT")" ] &&
		ping_ok "$A" 198.18.0.2 && ping_ok "$B" 198.18.0.1 || return 1
	wg_show "$B" "$WB" endpoints | grep -qF "192.0.2.1:51821" || { wg_show "$B" "$WB" endpoints; return 1; }
	[ "$(handshake_time)" = "$hs" ] || { echo "a new handshake happened: $hs -> $(handshake_time)"; return 1; }
	wg_set "$A" "$WA" listen-port "$PORT" && ping_ok "$A" 198.18.0.2
}
t_check "wg set listen-port while a session is up keeps it" set_listen_port

set_private_key() {
	AKEY=a2
	wg_set "$A" "$WA" private-key "$(key_file a2)" &&
		[ "$(wg_show "$A" "$WA" public-key)" = "$(key_pub a2)" ] || return 1
	# B learns the new key; roamd handshakes again under it by itself
	# once traffic flows.
	wg_set "$B" "$WB" peer "$(key_pub a)" remove && peer_a_on_b && tunnel_up || return 1
	wg_show "$B" "$WB" latest-handshakes | grep -qF "$(key_pub a2)"
}
t_check "wg set private-key, handshake under the new key" set_private_key

# --- syncconf -----------------------------------------------------------------
# sync_conf WITH_C — A's configuration as a file, with or without peer C.
sync_conf() {
	cat <<-EOF
		[Interface]
		PrivateKey = $(cat "$(key_file a2)")
		ListenPort = $PORT

		[Peer]
		PublicKey = $(key_pub b)
		Endpoint = 192.0.2.2:$PORT
		AllowedIPs = 198.18.0.2/32, fd00:2::2/128
	EOF
	[ "$1" = 1 ] && printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = 198.51.100.0/24\n' "$(key_pub c)"
	return 0
}
syncconf() {
	local hs
	hs=$(handshake_time)
	sync_conf 1 >"$RT_TMP/sync.conf"
	nsx "$A" wg syncconf "$WA" "$RT_TMP/sync.conf" &&
		wg_show "$A" "$WA" peers | grep -qF "$(key_pub c)" &&
		wg_show "$A" "$WA" allowed-ips | grep -qF "198.51.100.0/24" &&
		[ "$(handshake_time)" = "$hs" ] && ping_ok "$A" 198.18.0.2 || return 1
	# Without C in the file, syncconf removes it and only it.
	sync_conf 0 >"$RT_TMP/sync.conf"
	nsx "$A" wg syncconf "$WA" "$RT_TMP/sync.conf" &&
		! wg_show "$A" "$WA" peers | grep -qF "$(key_pub c)" &&
		wg_show "$A" "$WA" peers | grep -qF "$(key_pub b)" &&
		[ "$(handshake_time)" = "$hs" ] && ping_ok "$A" 198.18.0.2
}
t_check "wg syncconf adds and removes peers, keeps the live session" syncconf

# --- ICMP unreachable -----------------------------------------------------------
icmp_unreachable() {
	local out
	out=$(nsx "$A" ping -c 1 -W 2 198.18.0.99 2>&1)
	echo "$out"
	grep -q "Destination Host Unreachable" <<<"$out" || return 1
	out=$(nsx "$A" ping -6 -c 1 -W 2 fd00:2::99 2>&1)
	echo "$out"
	grep -qi "Destination unreachable: Address unreachable" <<<"$out" || return 1
	# A peer that has no endpoint is no better.
	wg_set "$A" "$WA" peer "$(key_pub c)" allowed-ips 198.18.0.77/32 || return 1
	out=$(nsx "$A" ping -c 1 -W 2 198.18.0.77 2>&1)
	echo "$out"
	wg_set "$A" "$WA" peer "$(key_pub c)" remove
	grep -q "Destination Host Unreachable" <<<"$out"
}
t_check "ICMP/ICMPv6 unreachable for destinations without a peer or endpoint" icmp_unreachable

# --- removal and wrong keys ------------------------------------------------------
remove_stops_traffic() {
	ping_ok "$A" 198.18.0.2 || return 1
	wg_set "$A" "$WA" peer "$(key_pub b)" remove || return 1
	[ -z "$(wg_show "$A" "$WA" peers)" ] || return 1
	if nsx "$A" ping -c 2 -W 1 -q 198.18.0.2 >/dev/null; then
		echo "A still reaches B"
		return 1
	fi
	if nsx "$B" ping -c 2 -W 1 -q 198.18.0.1 >/dev/null; then
		echo "B still reaches A"
		return 1
	fi
	return 0
}
t_check "wg set peer remove stops traffic both ways" remove_stops_traffic

wrong_key() {
	# A believes B has key x: its initiations are sealed to a key B does
	# not hold, so B can never answer.
	wg_set "$A" "$WA" peer "$(key_pub x)" endpoint 192.0.2.2:"$PORT" allowed-ips 198.18.0.2/32 || return 1
	nsx "$A" ping -c 3 -i 0.5 -W 1 -q 198.18.0.2 >/dev/null 2>&1
	if wait_until 3 wg_has_handshake "$A" "$WA"; then
		echo "a handshake completed with the wrong key"
		return 1
	fi
	wg_set "$A" "$WA" peer "$(key_pub x)" remove && peer_b_on_a && tunnel_up
}
t_check "a peer with the wrong public key never completes a handshake" wrong_key

# --- failures leave the configuration alone ----------------------------------------
showconf_is() { nsx "$A" wg showconf "$WA" | diff "$1" -; }

RT_PY_UAPI='
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode())
data = b""
while not data.endswith(b"\n\n"):
    b = s.recv(4096)
    if not b:
        break
    data += b
sys.stdout.write(data.decode())
'
uapi() { nsx "$A" "$RT_PY" -c "$RT_PY_UAPI" "$SOCK_A" "$1"; }

RT_PY_HOLD_UDP='
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
time.sleep(60)
'
malformed_set() {
	local before="$RT_TMP/before.conf" hold reply
	nsx "$A" wg showconf "$WA" >"$before" || return 1
	# Rejected by wg itself.
	if wg_set "$A" "$WA" peer "$(key_pub b)" persistent-keepalive 7 endpoint 192.0.2.2:notaport; then
		echo "wg accepted a bad endpoint"
		return 1
	fi
	showconf_is "$before" || return 1
	# Rejected by the daemon: the port is taken, and nothing of the
	# request may stick (the keepalive came after the port).
	nsx "$A" "$RT_PY" -c "$RT_PY_HOLD_UDP" 52000 {RT_OUT}>&- {RT_ERR}>&- &
	hold=$!
	RT_PIDS+=("$hold")
	wait_until 5 eval "[ -n \"\$(nsx '$A' ss -Huln 'sport = :52000')\" ]" || return 1
	if wg_set "$A" "$WA" listen-port 52000 peer "$(key_pub b)" persistent-keepalive 7; then
		echo "wg set listen-port of a busy port succeeded"
		return 1
	fi
	kill "$hold"
	wait "$hold" 2>/dev/null
	rt_forget "$hold"
	showconf_is "$before" || return 1
	# Rejected mid-request at the UAPI: an unknown key after valid lines.
	reply=$(uapi $'set=1\nlisten_port=52001\npublic_key='"$(wg pubkey <"$(key_file c)" | base64 -d | od -An -tx1 | tr -d ' \n')"$'\nbogus_key=1\n\n')
	echo "UAPI reply: $reply"
	grep -q '^errno=-22$' <<<"$reply" && showconf_is "$before" && ping_ok "$A" 198.18.0.2
}
t_check "malformed or failing wg set exits non-zero and changes nothing" malformed_set

# --- several clients ------------------------------------------------------------
RT_PY_SILENT='
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode())
time.sleep(30)
'
silent_clients() {
	local p1 p2 i pids=() rc=0
	"$RT_PY" -c "$RT_PY_SILENT" "$SOCK_A" "" {RT_OUT}>&- {RT_ERR}>&- &
	p1=$!
	"$RT_PY" -c "$RT_PY_SILENT" "$SOCK_A" $'get=1' {RT_OUT}>&- {RT_ERR}>&- &
	p2=$!
	RT_PIDS+=("$p1" "$p2")
	# Both are connected before wg asks.
	wait_until 5 eval "[ \$(nsx '$A' ss -Hx src '$SOCK_A' | wc -l) -ge 2 ]"
	for ((i = 0; i < 10; i++)); do
		nsx "$A" timeout 5 wg show "$WA" >/dev/null &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || rc=1; done
	kill "$p1" "$p2"
	wait "$p1" "$p2" 2>/dev/null
	rt_forget "$p1"
	rt_forget "$p2"
	[ "$rc" -eq 0 ] && wg_show "$A" "$WA" >/dev/null
}
t_check "silent clients do not block; 10 wg show at once all answered" silent_clients

# --- sticky source address ----------------------------------------------------------
# B writes to A's secondary address; A must answer from it (without
# IP_PKTINFO the kernel would pick the primary one and B would roam to it).
sticky() {
	local ep_v4=192.0.2.11:$PORT ep_v6="[fd00:1::11]:$PORT" ep
	for ep in "$ep_v4" "$ep_v6"; do
		# Both drop the peer (and its session), so B handshakes anew
		# to the address it is given; A does not know where B is.
		wg_set "$A" "$WA" peer "$(key_pub b)" remove &&
			wg_set "$B" "$WB" peer "$(key_pub a2)" remove &&
			wg_set "$A" "$WA" peer "$(key_pub b)" allowed-ips 198.18.0.2/32,fd00:2::2/128 &&
			wg_set "$B" "$WB" peer "$(key_pub a2)" endpoint "$ep" allowed-ips 198.18.0.1/32,fd00:2::1/128 ||
			return 1
		ping_ok "$B" 198.18.0.1 && ping_ok "$A" 198.18.0.2 && ping_ok "$B" fd00:2::1 || return 1
		wg_show "$B" "$WB" endpoints | grep -qF "$ep" || {
			echo "B's endpoint for A moved off $ep:"
			wg_show "$B" "$WB" endpoints
			return 1
		}
	done
	peer_b_on_a && peer_a_on_b && ping_ok "$A" 198.18.0.2
}
t_check "replies leave from the local address the peer wrote to (IPv4 and IPv6)" sticky

# The address A answered from goes away (a phone leaving a network): A's
# next packets leave from what routing picks, and B follows.
sticky_gone() {
	wg_set "$A" "$WA" peer "$(key_pub b)" remove &&
		wg_set "$B" "$WB" peer "$(key_pub a2)" remove &&
		wg_set "$A" "$WA" peer "$(key_pub b)" allowed-ips 198.18.0.2/32,fd00:2::2/128 &&
		wg_set "$B" "$WB" peer "$(key_pub a2)" endpoint 192.0.2.11:"$PORT" \
			allowed-ips 198.18.0.1/32,fd00:2::1/128 &&
		ping_ok "$B" 198.18.0.1 || return 1
	wg_show "$B" "$WB" endpoints | grep -qF "192.0.2.11:$PORT" || return 1
	ip -n "$A" addr del 192.0.2.11/24 dev "$(link_name 1 a)" &&
		ping_ok "$A" 198.18.0.2 &&
		wg_show "$B" "$WB" endpoints | grep -qF "192.0.2.1:$PORT" || {
		wg_show "$B" "$WB" endpoints
		return 1
	}
	peer_b_on_a && peer_a_on_b && ping_ok "$A" 198.18.0.2
}
t_check "a sticky source address that disappears is dropped, the peer follows" sticky_gone

# --- wg-quick --------------------------------------------------------------------
# wg-quick falls back to the userspace implementation only when the kernel
# has no WireGuard; check that first so a kernel with the module fails loudly
# instead of testing the wrong thing.
wg_quick_up() {
	local out
	[ ! -e /sys/module/wireguard ] || { echo "this kernel has WireGuard: wg-quick would not use roamd"; return 1; }
	(umask 077 && cat >"$RT_TMP/$WQ.conf") <<-EOF
		[Interface]
		PrivateKey = $(cat "$(key_file q)")
		ListenPort = 51830
		Address = 198.18.5.1/24, fd00:5::1/64
		MTU = 1380
		Table = 12345
		PostUp = ip rule add to 198.18.6.0/24 lookup 12345 pref 1000; touch $RT_TMP/postup.%i
		PostDown = ip rule del to 198.18.6.0/24 lookup 12345 pref 1000; touch $RT_TMP/postdown.%i

		[Peer]
		PublicKey = $(key_pub b)
		Endpoint = 192.0.2.2:$PORT
		AllowedIPs = 198.18.6.2/32
	EOF
	# B: the far end of this second tunnel.
	wg_set "$B" "$WB" peer "$(key_pub q)" allowed-ips 198.18.5.1/32 &&
		ip -n "$B" addr add 198.18.6.2/32 dev "$WB" &&
		ip -n "$B" route add 198.18.5.1/32 dev "$WB" || return 1
	out=$(nsx "$A" env WG_QUICK_USERSPACE_IMPLEMENTATION="$ROAMD" timeout 30 wg-quick up "$RT_TMP/$WQ.conf" 2>&1)
	echo "$out"
	grep -qF "Falling back to slow userspace implementation" <<<"$out" &&
		grep -qF "$ROAMD $WQ" <<<"$out" || return 1
	[ -S "$RT_WG_RUN/$WQ.sock" ] &&
		ip -n "$A" link show "$WQ" | grep -q "mtu 1380" &&
		ip -n "$A" addr show "$WQ" | grep -qF "198.18.5.1/24" &&
		ip -n "$A" addr show "$WQ" | grep -qF "fd00:5::1/64" &&
		ip -n "$A" route show table 12345 | grep -qF "198.18.6.2 dev $WQ" &&
		[ -e "$RT_TMP/postup.$WQ" ] &&
		[ "$(wg_show "$A" "$WQ" listen-port)" = 51830 ] &&
		ping_ok "$A" 198.18.6.2
}
t_check "wg-quick up (userspace fallback to roamd: Address, MTU, Table, PostUp), ping" wg_quick_up

quick_gone() {
	[ ! -e "$RT_WG_RUN/$WQ.sock" ] && ! ip -n "$A" link show "$WQ" >/dev/null 2>&1 &&
		! pgrep -f -- "roamd $WQ\$" >/dev/null
}
wg_quick_down() {
	nsx "$A" timeout 30 wg-quick down "$RT_TMP/$WQ.conf" || return 1
	[ -e "$RT_TMP/postdown.$WQ" ] && wait_until 5 quick_gone
}
t_check "wg-quick down (PostDown ran; daemon, interface and socket gone)" wg_quick_down

t_check "tunnel still fine after all that" ping_ok "$A" 198.18.0.2

rt_cleanup
t_check "cleanup leaves no namespace or socket" rt_nothing_left
t_finish
