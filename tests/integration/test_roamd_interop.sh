#!/usr/bin/env bash
# roamd against wireguard-go, and against itself, over the whole matrix:
#
#   initiator  roamd | the other end
#   PSK        without | with
#   outer      IPv4 | IPv6      (the veth addresses the endpoints use)
#   inner      IPv4 | IPv6      (the tunnel addresses pinged and used for TCP)
#
# Each cell: a fresh handshake started by the chosen initiator (the responder
# has no endpoint for it, so it cannot be the one to start, and must learn
# the initiator's address from the initiation), pings both ways, and 20 MiB
# of TCP each way whose SHA-256 matches at the other end.
#
#   ns X  192.0.2.1/24, fd00:1::1/64  ==veth==  192.0.2.2/24, fd00:1::2/64  ns Y
#   roamd 198.18.0.1, fd00:2::1       <=====>   198.18.0.2, fd00:2::2  wireguard-go|roamd
#
# One pair of namespaces per pairing; between cells only `wg set` changes:
# removing a peer wipes its sessions, so re-adding it forces a new handshake.
# shellcheck disable=SC2317 # case functions are called through t_check
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# ROAM_ROAMD runs the cases against another build (e.g. build/san/roamd).
ROAMD=${ROAM_ROAMD:-$(cd "$(dirname "$0")/../.." && pwd)/build/roamd}
[ -x "$ROAMD" ] || t_abort "build/roamd is missing (run make)"
command -v wireguard-go >/dev/null || t_abort "wireguard-go is not installed (scripts/install-deps.sh)"
MIB=${ROAM_INTEROP_MIB:-20}
PORT=51820

# Set per pairing by lab_up.
X="" Y="" WX="" WY="" PAIR=""

lab_up() {
	local n=$1 other=$2
	X=$(rt_name "${n}x") Y=$(rt_name "${n}y") WX=$(rt_name "${n}wx") WY=$(rt_name "${n}wy")
	ns_create "$X" "$Y" &&
		link_ns "$X" "$Y" 192.0.2.1/24,fd00:1::1/64 192.0.2.2/24,fd00:1::2/64 &&
		wg_start "$ROAMD" "$X" "$WX" &&
		wg_start "$other" "$Y" "$WY" &&
		wg_genkey "${n}x" && wg_genkey "${n}y" && wg_psk "${n}xy" &&
		wg_set "$X" "$WX" private-key "$(key_file "${n}x")" listen-port "$PORT" &&
		wg_set "$Y" "$WY" private-key "$(key_file "${n}y")" listen-port "$PORT" &&
		wg_ifup "$X" "$WX" 198.18.0.1/32,fd00:2::1/128 198.18.0.2/32,fd00:2::2/128 &&
		wg_ifup "$Y" "$WY" 198.18.0.2/32,fd00:2::2/128 198.18.0.1/32,fd00:2::1/128
}

# configure_cell N INITIATOR(x|y) PSK(0|1) OUTER(4|6) — both ends drop the
# peer (wiping its sessions) and get it back; only the initiator knows where
# the other end is.
configure_cell() {
	local n=$1 init=$2 psk=$3 outer=$4 ep_x ep_y psk_args=()
	[ "$psk" = 1 ] && psk_args=(preshared-key "$(psk_file "${n}xy")")
	if [ "$outer" = 4 ]; then
		ep_x=192.0.2.1:$PORT ep_y=192.0.2.2:$PORT
	else
		ep_x="[fd00:1::1]:$PORT" ep_y="[fd00:1::2]:$PORT"
	fi
	local x_args=(peer "$(key_pub "${n}y")" "${psk_args[@]}" allowed-ips "198.18.0.2/32,fd00:2::2/128")
	local y_args=(peer "$(key_pub "${n}x")" "${psk_args[@]}" allowed-ips "198.18.0.1/32,fd00:2::1/128")
	if [ "$init" = x ]; then
		x_args+=(endpoint "$ep_y")
	else
		y_args+=(endpoint "$ep_x")
	fi
	wg_set "$X" "$WX" peer "$(key_pub "${n}y")" remove &&
		wg_set "$Y" "$WY" peer "$(key_pub "${n}x")" remove &&
		wg_set "$X" "$WX" "${x_args[@]}" &&
		wg_set "$Y" "$WY" "${y_args[@]}"
}

# handshake N INITIATOR OUTER INNER — one packet from the initiator starts
# it; both ends record it and the responder learns the initiator's address.
cell_handshake() {
	local n=$1 init=$2 outer=$3 inner=$4 ins=$X ns_r=$Y dev_r=$WY dst want
	[ "$init" = y ] && ins=$Y ns_r=$X dev_r=$WX
	if [ "$inner" = 4 ]; then
		dst=198.18.0.2
		[ "$init" = y ] && dst=198.18.0.1
	else
		dst=fd00:2::2
		[ "$init" = y ] && dst=fd00:2::1
	fi
	if [ "$outer" = 4 ]; then
		want=192.0.2.1:$PORT
		[ "$init" = y ] && want=192.0.2.2:$PORT
	else
		want="[fd00:1::1]:$PORT"
		[ "$init" = y ] && want="[fd00:1::2]:$PORT"
	fi
	nsx "$ins" ping -c 1 -W 1 -q "$dst" >/dev/null 2>&1
	if ! wait_until 10 wg_has_handshake "$X" "$WX" "$(key_pub "${n}y")" ||
		! wait_until 5 wg_has_handshake "$Y" "$WY" "$(key_pub "${n}x")"; then
		wg_show "$X" "$WX"
		wg_show "$Y" "$WY"
		return 1
	fi
	wg_show "$ns_r" "$dev_r" endpoints | grep -F -- "$want" || {
		echo "responder's endpoint is not $want:"
		wg_show "$ns_r" "$dev_r" endpoints
		return 1
	}
}

cell_ping() {
	local inner=$1
	if [ "$inner" = 4 ]; then
		ping_ok "$X" 198.18.0.2 && ping_ok "$Y" 198.18.0.1
	else
		ping_ok "$X" fd00:2::2 && ping_ok "$Y" fd00:2::1
	fi
}

cell_bulk() {
	local inner=$1 ax=198.18.0.1 ay=198.18.0.2
	[ "$inner" = 6 ] && ax=fd00:2::1 ay=fd00:2::2
	tcp_transfer "$X" "$Y" "$ay" 5001 "$MIB" 60 && tcp_transfer "$Y" "$X" "$ax" 5002 "$MIB" 60
}

# run_pairing N LABEL OTHER_IMPL
run_pairing() {
	local n=$1 label=$2 other=$3 init psk outer inner who name
	if ! t_check "$label: lab comes up" lab_up "$n" "$other"; then
		return 1
	fi
	for init in x y; do
		for psk in 0 1; do
			for outer in 4 6; do
				for inner in 4 6; do
					who="roamd initiates"
					[ "$init" = y ] && who="$PAIR initiates"
					name="$label, $who, $([ "$psk" = 1 ] && echo psk || echo no psk), outer v$outer, inner v$inner"
					if ! t_check "$name: configure" configure_cell "$n" "$init" "$psk" "$outer"; then
						continue
					fi
					t_check "$name: handshake" cell_handshake "$n" "$init" "$outer" "$inner" &&
						t_check "$name: ping both ways" cell_ping "$inner" &&
						t_check "$name: ${MIB} MiB TCP each way, SHA-256 matches" cell_bulk "$inner"
				done
			done
		done
	done
	# The next pairing gets fresh namespaces; this one's go now.
	rt_cleanup
}

PAIR=wireguard-go
run_pairing p roamd-wggo wireguard-go
PAIR="the other roamd"
run_pairing q roamd-roamd "$ROAMD"

t_check "cleanup leaves no namespace or socket" rt_nothing_left
t_finish
