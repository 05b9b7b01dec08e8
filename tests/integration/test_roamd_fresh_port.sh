#!/usr/bin/env bash
# A fresh source port when the path's state goes bad (ports_fresh_port in
# src/roamd/ports.c), in the NAT lab of lab_nat.sh. The phone's Wi-Fi
# router is given a stale rule for the phone's current source port that
# sends the server's replies nowhere (an nft drop on the replies' port, as a
# wrong conntrack or DNAT entry would), under a 50 Hz ping:
#   unpinned  the phone listens on a random port (listen-port 0): after its
#             data went unanswered (15 s) and its first handshake too (5 s),
#             roamd moves to a new random port and the retry gets through:
#             traffic resumes within FRESH_MAX_S (two handshake retries).
#   pinned    the same with ListenPort pinned: roamd never changes the port
#             (asserted), and the traffic stays cut (measured).
#   refused   unpinned again; the phone's own firewall drops what leaves
#             from its current port (nft output drop: sendmsg fails with
#             EPERM, as for a stale rule on the host): at the first
#             unanswered handshake attempt with refused sends, while a route
#             to the server exists, roamd moves to a new port (reason
#             send_refused) and traffic resumes within FRESH_MAX_S.
# roam events follows the phone in all: unpinned, exactly "fresh_port
# handshake_completed" (the new port, then the retry's session); pinned,
# no fresh_port at all.
# About 100 s.
# shellcheck disable=SC2317 # case functions are called through t_check
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lab_nat.sh
. "$(dirname "$0")/lab_nat.sh"

ROAMD=$(cd "$(dirname "$0")/../.." && pwd)/build/roamd
FRESH_MAX_S=26      # 15 s of data, 5 s for the first handshake, one retry, jitter
PINNED_WATCH_S=26

phone_port() { wg_show "$LAB_PHONE" "$LAB_WG_PHONE" listen-port; }
phone_log() { cat "$RT_TMP/$LAB_WG_PHONE.log" 2>/dev/null; }

# stale_rule PORT — the Wi-Fi router drops what comes back for PORT.
stale_rule() {
	nsx "$LAB_WIFI" nft -f - <<EOF
table inet stale {
	chain forward {
		type filter hook forward priority -10; policy accept;
		ip daddr $LAB_PH_WIFI4 udp dport $1 drop
	}
}
EOF
}
clear_rule() { nsx "$LAB_WIFI" nft delete table inet stale 2>/dev/null; true; }

# cut_and_watch BOUND — ping, cut the replies to the current port, report
# when they came back (after BOUND + 2 s at most). Prints the port before.
cut_and_watch() {
	local bound=$1 port t0 after st
	port=$(phone_port)
	lab_ping_start "$LAB_PHONE" "$LAB_TUN_SRV4" 60
	wait_until 5 lab_ping_has 10 || { echo "no ping"; return 1; }
	t0=$(lab_now)
	stale_rule "$port" || return 1
	# From 0.2 s after the rule is in (nft takes a while on a loaded
	# machine; replies meanwhile are from before it).
	after=$(awk -v t="$(lab_now)" 'BEGIN { printf "%.6f", t + 0.2 }')
	wait_until $((bound + 2)) lab_ping_has 1 "$after"
	lab_ping_stop
	st=$(lab_ping_stats "$t0" "$after")
	clear_rule
	echo "$port $(lab_stat reach_s "$st")"
}

EV_UNPINNED="fresh_port handshake_completed"

sc_unpinned() {
	wg_set "$LAB_PHONE" "$LAB_WG_PHONE" listen-port 0 || return 1
	local before out reach now ev=$RT_TMP/events.unpinned
	before=$(phone_port)
	[ "$before" != "$LAB_PORT" ] || { echo "listen-port 0 kept $LAB_PORT"; return 1; }
	wait_until 5 lab_tunnel_ok || return 1
	events_follow "$LAB_WG_PHONE" "$ev"
	out=$(cut_and_watch "$FRESH_MAX_S") || { echo "$out"; events_stop; return 1; }
	reach=${out#* }
	now=$(phone_port)
	lab_figures fresh_port "pinned=no port_before=$before port_after=$now resumed_s=$reach bound_s=$FRESH_MAX_S"
	phone_log | grep "new source port" | tail -n 1
	[ "$now" != "$before" ] && [ "$reach" != none ] &&
		awk -v r="$reach" -v b="$FRESH_MAX_S" 'BEGIN { exit !(r + 0 <= b) }' || { events_stop; return 1; }
	events_expect "$ev" "$EV_UNPINNED" || { events_stop; return 1; }
	events_stop || { echo "roam events did not end cleanly: $(cat "$ev.err")"; return 1; }
	grep '"type":"fresh_port"' "$ev"
	grep -q "\"type\":\"fresh_port\",\"old_port\":$before,\"new_port\":$now,\"reason\":\"unanswered\"" "$ev"
}

sc_pinned() {
	local port=$((LAB_PORT + 1)) out reach lines ev=$RT_TMP/events.pinned
	wg_set "$LAB_PHONE" "$LAB_WG_PHONE" listen-port "$port" || return 1
	wait_until 5 lab_tunnel_ok || return 1
	lines=$(phone_log | grep -c "new source port")
	events_follow "$LAB_WG_PHONE" "$ev"
	out=$(cut_and_watch "$PINNED_WATCH_S") || { echo "$out"; events_stop; return 1; }
	reach=${out#* }
	events_stop || { echo "roam events did not end cleanly: $(cat "$ev.err")"; return 1; }
	lab_figures fresh_port "pinned=yes port_before=$port port_after=$(phone_port) resumed_s=$reach watched_s=$PINNED_WATCH_S" \
		"events=\"$(events_types "$ev")\""
	[ "$(phone_port)" = "$port" ] && [ "$(phone_log | grep -c "new source port")" -eq "$lines" ] &&
		! grep -q '"type":"fresh_port"' "$ev"
}

# refuse_rule PORT — the phone's own output drops datagrams from PORT.
refuse_rule() {
	nsx "$LAB_PHONE" nft -f - <<EOF
table inet refuse {
	chain output {
		type filter hook output priority 0; policy accept;
		udp sport $1 drop
	}
}
EOF
}

phone_settled() { lab_uapi_get2 "$LAB_WG_PHONE" | grep -qx 'roam_handshake_attempts=0'; }

sc_refused() {
	local before now t0 after st reach ev=$RT_TMP/events.refused
	# The pinned case's unanswered attempts are over first: unpinned
	# with one of them pending, roamd would move at once, for that.
	wait_until 10 lab_tunnel_ok && wait_until 10 phone_settled || { echo "the tunnel did not settle"; return 1; }
	wg_set "$LAB_PHONE" "$LAB_WG_PHONE" listen-port 0 || return 1
	before=$(phone_port)
	wait_until 5 lab_tunnel_ok || return 1
	events_follow "$LAB_WG_PHONE" "$ev"
	lab_ping_start "$LAB_PHONE" "$LAB_TUN_SRV4" 60
	wait_until 5 lab_ping_has 10 || { echo "no ping"; events_stop; return 1; }
	t0=$(lab_now)
	refuse_rule "$before" || { events_stop; return 1; }
	after=$(awk -v t="$(lab_now)" 'BEGIN { printf "%.6f", t + 0.2 }')
	wait_until $((FRESH_MAX_S + 2)) lab_ping_has 1 "$after"
	lab_ping_stop
	st=$(lab_ping_stats "$t0" "$after")
	nsx "$LAB_PHONE" nft delete table inet refuse
	reach=$(lab_stat reach_s "$st")
	now=$(phone_port)
	events_expect "$ev" "$EV_UNPINNED"
	events_stop || { echo "roam events did not end cleanly: $(cat "$ev.err")"; return 1; }
	lab_figures fresh_port "refused=EPERM port_before=$before port_after=$now resumed_s=$reach bound_s=$FRESH_MAX_S" \
		"send_refused_drops=$(lab_uapi_get2 "$LAB_WG_PHONE" | sed -n 's/^roam_drop=send_refused:\([0-9]*\)$/\1/p' | head -n 1)"
	phone_log | grep "new source port" | tail -n 1
	[ "$now" != "$before" ] && [ "$reach" != none ] &&
		awk -v r="$reach" -v b="$FRESH_MAX_S" 'BEGIN { exit !(r + 0 <= b) }' &&
		grep -q "\"type\":\"fresh_port\",\"old_port\":$before,\"new_port\":$now,\"reason\":\"send_refused\"" "$ev"
}

up_lab() { lab_up p && lab_start_tunnel "$ROAMD" "$ROAMD" 0; }
if t_check "lab and tunnel up" up_lab; then
	t_check "unpinned: a fresh source port gets past the stale state within $FRESH_MAX_S s" sc_unpinned
	t_check "pinned: the port never changes" sc_pinned
	t_check "refused sends (EPERM): a fresh source port within $FRESH_MAX_S s" sc_refused
fi
lab_ping_stop
lab_down
rt_cleanup
t_check "cleanup leaves no namespace or socket" rt_nothing_left
t_finish
