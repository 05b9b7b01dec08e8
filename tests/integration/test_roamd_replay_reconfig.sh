#!/usr/bin/env bash
# A captured handshake initiation stays refused after the responder is
# reconfigured (src/core/timestamp_memory.c): a peer removed and configured
# again keeps the newest TAI64N timestamp it had accepted, so an attacker who
# recorded one initiation cannot replay it once the peer is fresh and so
# steer the responder's endpoint for it to himself.
#
# Lab: the initiator I (roamd) and the attacker X each on a link to the
# responder R (roamd). A real handshake and a ping from I are captured at
# R's link; I then forgets R (nothing it sends can muddle what follows).
# Three reconfigurations of R, each followed by the replay of the capture
# from X (tests/integration/roam_attack.py replay: the initiation and the
# data, from fresh source ports):
#   - `wg setconf` with the same config (replace_peers=true, then the peer);
#   - `wg set ... peer I remove`, then the peer added again;
#   - a raw UAPI set with replace_peers=true and the peer (beside a second
#     one), as a management tool other than wg would send it.
# Each time: the replay reaches R and is dropped as a stale timestamp
# (roam_drop=stale_timestamp over get=2 grows; polled, bounded), the peer's
# endpoint stays the configured one, not X's, and no session starts: no
# handshake (latest-handshake stays 0 on the fresh peer) and no response
# sent (its transmit counter stays 0).
# Then R's roamd restarts (all timestamps forgotten): the replay is
# answered, but the endpoint stays where it was; I connects afterwards.
# shellcheck disable=SC2317 # case functions are called through t_check
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lab_nat.sh
. "$(dirname "$0")/lab_nat.sh" # lab_uapi_get2, lab_uapi_set, lab_roam_drops, lab_key_hex

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROAMD=${ROAM_TEST_ROAMD:-$ROOT/build/roamd}
[ -x "$ROAMD" ] || t_abort "build/roamd is missing (run make)"
command -v tcpdump >/dev/null || t_abort "tcpdump is missing (scripts/install-deps.sh --test)"

I=$(rt_name i) R=$(rt_name r) X=$(rt_name x)
WI=$(rt_name wi) WR=$(rt_name wr)
I_ADDR=192.0.2.1 R_ADDR=192.0.2.2 X_ADDR=198.51.100.3 R_X_ADDR=198.51.100.2
PORT_I=51821 PORT_R=51820
CAP=$RT_TMP/handshake.pcap

lab_up() {
	ns_create "$I" "$R" "$X" &&
		link_ns "$I" "$R" "$I_ADDR/24" "$R_ADDR/24" &&
		link_ns "$X" "$R" "$X_ADDR/24" "$R_X_ADDR/24"
}
t_check "lab comes up" lab_up || t_finish
R_DEV=$(link_name 1 b)
{ wg_genkey i && wg_genkey r && wg_genkey o; } || t_abort "wg genkey failed"

# R's whole configuration, as wg setconf reads it; the peer's endpoint is
# set, so "did not move" means one definite address.
cat >"$RT_TMP/r.conf" <<EOF
[Interface]
PrivateKey = $(cat "$(key_file r)")
ListenPort = $PORT_R

[Peer]
PublicKey = $(key_pub i)
AllowedIPs = 198.18.0.1/32
Endpoint = $I_ADDR:$PORT_I
EOF

daemons_up() { wg_start "$ROAMD" "$I" "$WI" && wg_start "$ROAMD" "$R" "$WR"; }
t_check "roamd starts on both ends" daemons_up || t_finish
R_PID=${RT_PIDS[1]:-0}
tunnel_up() {
	nsx "$R" wg setconf "$WR" "$RT_TMP/r.conf" &&
		wg_set "$I" "$WI" private-key "$(key_file i)" listen-port "$PORT_I" \
			peer "$(key_pub r)" endpoint "$R_ADDR:$PORT_R" allowed-ips 198.18.0.2/32 &&
		wg_ifup "$I" "$WI" 198.18.0.1/32 198.18.0.2/32 && wg_ifup "$R" "$WR" 198.18.0.2/32 198.18.0.1/32
}
t_check "tunnel configured" tunnel_up || t_finish

# The capture: tcpdump at R's link to I, from before the first handshake.
capture_handshake() {
	nsx "$R" tcpdump -i "$R_DEV" -n --immediate-mode -U -w "$CAP" udp dst port "$PORT_R" \
		</dev/null >"$CAP.log" 2>&1 {RT_OUT}>&- {RT_ERR}>&- &
	local pid=$!
	RT_PIDS+=("$pid")
	wait_until 5 grep -q "listening on" "$CAP.log" || { echo "tcpdump did not start"; return 1; }
	ping_ok "$I" 198.18.0.2 || { echo "no ping through the tunnel"; rt_kill "$pid"; return 1; }
	wait_until 5 wg_has_handshake "$R" "$WR" "$(key_pub i)" || { echo "no handshake at R"; return 1; }
	rt_kill "$pid"
	wait "$pid" 2>/dev/null
	rt_forget "$pid"
	[ "$(stat -c %s "$CAP")" -gt 24 ] || { echo "nothing captured"; return 1; }
	# I forgets R: no keepalive or new initiation of its own from here.
	wg_set "$I" "$WI" peer "$(key_pub r)" remove
}
t_check "a real handshake captured at R" capture_handshake || t_finish

stale_drops() {
	lab_roam_drops "$WR" | awk '$1 == "stale_timestamp" { n = $2 } END { print n + 0 }'
}
stale_grew_past() { [ "$(stale_drops)" -gt "$1" ]; }

# replay_refused HOW — replays the capture from X at R, then checks what
# the replay left: dropped as stale, endpoint unmoved, no handshake.
replay_refused() {
	local before out ep hs tx
	ep=$(wg_show "$R" "$WR" endpoints | awk -v k="$(key_pub i)" '$1 == k { print $2 }')
	[ "$ep" = "$I_ADDR:$PORT_I" ] || { echo "after $1 the endpoint is '$ep', not the configured $I_ADDR:$PORT_I"; return 1; }
	[ "$(wg_latest_handshake "$R" "$WR" "$(key_pub i)")" = 0 ] || { echo "after $1 the peer is not fresh"; return 1; }
	before=$(stale_drops)
	out=$(nsx "$X" timeout 30 "$RT_PY" "$LAB_DIR/roam_attack.py" replay "$R_X_ADDR:$PORT_R" "$CAP" \
		--times 2 --to "$R_ADDR" 2>&1) || { echo "replay failed: $out"; return 1; }
	echo "$1: $out"
	case $out in *" init_replays=0 "* | *" captured_init=0 "*) echo "no initiation in the capture"; return 1 ;; esac
	wait_until 5 stale_grew_past "$before" ||
		{ echo "the replayed initiation was not dropped as stale (drops: $(lab_roam_drops "$WR" | tr '\n' ' '))"; return 1; }
	ep=$(wg_show "$R" "$WR" endpoints | awk -v k="$(key_pub i)" '$1 == k { print $2 }')
	hs=$(wg_latest_handshake "$R" "$WR" "$(key_pub i)")
	read -r _ tx < <(wg_transfer_bytes "$R" "$WR" "$(key_pub i)")
	echo "# $1: stale_timestamp drops $before -> $(stale_drops), endpoint $ep, latest handshake $hs," \
		"bytes sent to the peer $tx" >&"$RT_OUT"
	[ "$ep" = "$I_ADDR:$PORT_I" ] || { echo "the endpoint moved to $ep"; return 1; }
	[ "$hs" = 0 ] || { echo "a handshake happened at $hs"; return 1; }
	# A response to the replay would be the fresh peer's first bytes.
	[ "${tx:-x}" = 0 ] || { echo "R sent $tx bytes to the peer: a response to the replay"; return 1; }
}

after_setconf() {
	nsx "$R" wg setconf "$WR" "$RT_TMP/r.conf" && replay_refused "wg setconf"
}
after_remove_and_add() {
	wg_set "$R" "$WR" peer "$(key_pub i)" remove &&
		wg_set "$R" "$WR" peer "$(key_pub i)" endpoint "$I_ADDR:$PORT_I" allowed-ips 198.18.0.1/32 &&
		replay_refused "remove, add"
}
after_replace_peers() {
	lab_uapi_set "$WR" replace_peers=true \
		"public_key=$(lab_key_hex o)" allowed_ip=198.18.0.3/32 \
		"public_key=$(lab_key_hex i)" "endpoint=$I_ADDR:$PORT_I" allowed_ip=198.18.0.1/32 &&
		replay_refused "replace_peers"
}
t_check "replayed after wg setconf: refused" after_setconf
t_check "replayed after peer remove and add: refused" after_remove_and_add
t_check "replayed after replace_peers: refused" after_replace_peers
t_check "roamd on R still runs" rt_pid_alive "$R_PID"

# A restart forgets every timestamp (as the kernel and wireguard-go do), so
# the capture is accepted once more and R answers it, to X. But the first
# initiation from a key since start cannot prove it is fresh: the endpoint
# waits for the data that confirms the session, which X cannot send. I then
# comes back, and its own handshake moves the endpoint as ever.
endpoint_of_i() { wg_show "$R" "$WR" endpoints | awk -v k="$(key_pub i)" '$1 == k { print $2 }'; }
r_sent_bytes() { local tx; read -r _ tx < <(wg_transfer_bytes "$R" "$WR" "$(key_pub i)"); echo "${tx:-0}"; }
r_answered() { [ "$(r_sent_bytes)" -gt 0 ]; }
after_restart() {
	local out ep
	rt_kill "$R_PID"
	wait "$R_PID" 2>/dev/null
	rt_forget "$R_PID"
	wg_start "$ROAMD" "$R" "$WR" || return 1
	R_PID=${RT_PIDS[${#RT_PIDS[@]} - 1]}
	nsx "$R" wg setconf "$WR" "$RT_TMP/r.conf" && wg_ifup "$R" "$WR" 198.18.0.2/32 198.18.0.1/32 || return 1
	out=$(nsx "$X" timeout 30 "$RT_PY" "$LAB_DIR/roam_attack.py" replay "$R_X_ADDR:$PORT_R" "$CAP" \
		--times 1 --to "$R_ADDR" 2>&1) || { echo "replay failed: $out"; return 1; }
	echo "after restart: $out"
	# The response to the replay is what shows the replay got in.
	wait_until 5 r_answered || { echo "R did not answer the replay: was the restart real?"; return 1; }
	ep=$(endpoint_of_i)
	echo "# restart: replay answered ($(r_sent_bytes) bytes sent), endpoint $ep" >&"$RT_OUT"
	[ "$ep" = "$I_ADDR:$PORT_I" ] || { echo "the replay moved the endpoint to $ep"; return 1; }
}
i_comes_back() {
	local ep
	wg_set "$I" "$WI" peer "$(key_pub r)" endpoint "$R_ADDR:$PORT_R" allowed-ips 198.18.0.2/32 &&
		ip -n "$I" route replace 198.18.0.2/32 dev "$WI" || return 1
	ping_ok "$I" 198.18.0.2 || { echo "no ping through the tunnel after the restart"; return 1; }
	ep=$(endpoint_of_i)
	[ "$ep" = "$I_ADDR:$PORT_I" ] || { echo "endpoint $ep after I's handshake"; return 1; }
}
t_check "replayed after a restart of R: answered, endpoint stays" after_restart
t_check "the real initiator connects after the restart" i_comes_back

t_finish
