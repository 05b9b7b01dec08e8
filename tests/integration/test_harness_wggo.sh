#!/usr/bin/env bash
# The lab itself, proven with wireguard-go on both ends (no roamd needed):
#
#   ns A  192.0.2.1/24, fd00:1::1/64  ==veth==  192.0.2.2/24, fd00:1::2/64  ns B
#   tunnel 198.18.0.1, fd00:2::1      <=====>   198.18.0.2, fd00:2::2
#
# Cases: handshake completes, inner ping both ways over IPv4 and IPv6, outer
# IPv6 endpoints work too, a 20 MiB TCP transfer arrives with the same
# SHA-256, and cleanup leaves no namespace or UAPI socket behind.
# ROAM_IMPL_A / ROAM_IMPL_B choose the implementation of each end (default
# wireguard-go), so the same lab can later pit build/roamd against it.
# shellcheck disable=SC2317 # case functions are called through t_check
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

IMPL_A=${ROAM_IMPL_A:-wireguard-go}
IMPL_B=${ROAM_IMPL_B:-wireguard-go}
PORT=51820 # each end in its own namespace, so both can use it

A=$(rt_name a) B=$(rt_name b) WA=$(rt_name wa) WB=$(rt_name wb)

# --- lab: namespaces, wire, daemons, keys -----------------------------------
# Any failure here makes every later case meaningless: report it and stop.
setup() {
	ns_create "$A" "$B" &&
		link_ns "$A" "$B" 192.0.2.1/24,fd00:1::1/64 192.0.2.2/24,fd00:1::2/64 &&
		wg_start "$IMPL_A" "$A" "$WA" &&
		wg_start "$IMPL_B" "$B" "$WB" &&
		wg_genkey a && wg_genkey b && wg_psk ab &&
		wg_set "$A" "$WA" private-key "$(key_file a)" listen-port "$PORT" \
			peer "$(key_pub b)" preshared-key "$(psk_file ab)" \
			endpoint 192.0.2.2:"$PORT" allowed-ips 198.18.0.2/32,fd00:2::2/128 &&
		wg_set "$B" "$WB" private-key "$(key_file b)" listen-port "$PORT" \
			peer "$(key_pub a)" preshared-key "$(psk_file ab)" \
			endpoint 192.0.2.1:"$PORT" allowed-ips 198.18.0.1/32,fd00:2::1/128 &&
		wg_ifup "$A" "$WA" 198.18.0.1/32,fd00:2::1/128 198.18.0.2/32,fd00:2::2/128 &&
		wg_ifup "$B" "$WB" 198.18.0.2/32,fd00:2::2/128 198.18.0.1/32,fd00:2::1/128
}
t_check "lab comes up ($IMPL_A <-> $IMPL_B)" setup || t_finish

# --- handshake ---------------------------------------------------------------
# Nothing initiates until there is traffic: one ping (whose own result does not
# matter here) makes A handshake; then both ends must record it.
handshake() {
	nsx "$A" ping -c 1 -W 1 -q 198.18.0.2 >/dev/null 2>&1
	if ! wait_until 10 wg_has_handshake "$A" "$WA" "$(key_pub b)" ||
		! wait_until 5 wg_has_handshake "$B" "$WB" "$(key_pub a)"; then
		wg_show "$A" "$WA"
		wg_show "$B" "$WB"
		return 1
	fi
	echo "A: $(wg_latest_handshake "$A" "$WA")  B: $(wg_latest_handshake "$B" "$WB")"
}
t_check "handshake completes" handshake

# --- inner pings ---------------------------------------------------------------
t_check "ping A->B inner IPv4" ping_ok "$A" 198.18.0.2
t_check "ping B->A inner IPv4" ping_ok "$B" 198.18.0.1
t_check "ping A->B inner IPv6" ping_ok "$A" fd00:2::2
t_check "ping B->A inner IPv6" ping_ok "$B" fd00:2::1

# --- outer IPv6 ----------------------------------------------------------------
# Point both ends at each other's IPv6 veth address; the tunnel must still
# carry traffic, and the peers' endpoints must now be the IPv6 ones.
outer_v6() {
	wg_set "$A" "$WA" peer "$(key_pub b)" endpoint "[fd00:1::2]:$PORT" &&
		wg_set "$B" "$WB" peer "$(key_pub a)" endpoint "[fd00:1::1]:$PORT" &&
		ping_ok "$A" 198.18.0.2 && ping_ok "$B" fd00:2::1 || return 1
	wg_show "$A" "$WA" endpoints | grep -F "[fd00:1::2]:$PORT" &&
		wg_show "$B" "$WB" endpoints | grep -F "[fd00:1::1]:$PORT"
}
t_check "tunnel over outer IPv6 endpoints" outer_v6

# --- bulk data ---------------------------------------------------------------
# The SHA-256 check is end to end; A's byte counter for B then proves the
# data really went through the tunnel (20 MiB plus WireGuard overhead).
bulk() {
	local tx
	tcp_transfer "$A" "$B" 198.18.0.2 5001 20 60 || return 1
	read -r _ tx < <(wg_transfer_bytes "$A" "$WA" "$(key_pub b)")
	echo "A->B tunnel tx bytes: $tx"
	[ "${tx:-0}" -gt $((20 << 20)) ]
}
t_check "20 MiB TCP A->B, SHA-256 matches" bulk

# --- cleanup -----------------------------------------------------------------
rt_cleanup
t_check "cleanup leaves no namespace or socket" rt_nothing_left

t_finish
