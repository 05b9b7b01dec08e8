#!/usr/bin/env bash
# Several endpoints per peer (src/core/candidates.c) in the NAT lab of
# lab_nat.sh. The server is a dual-WAN site: reachable at LAB_SRV4 (its
# first address) and at SECOND, both holding the same key (one roamd,
# answering from the address it was written to). The phone knows both, the
# first preferred, through roam_endpoint_candidate lines.
#
# One scenario, each step printing its figures:
#   failover   the first address black-holed (nft drop on the internet
#              router) while a 50 Hz ping runs: traffic resumes through the
#              second within FAILOVER_MAX_S with default timers (15 s of
#              unanswered data, then one handshake). The phone's log shows
#              the sequence: a try of candidate 2, then the endpoint moved
#              by the server's authenticated answer.
#   no flap    the first stays dead past one return probe (the hold-down is
#              CANDIDATE_RETURN_MIN = 30 s): the endpoint never moves back,
#              the ping loses nothing after the failover.
#   return     the first answers again: the next probe moves the endpoint
#              back to it, within RETURN_MAX_S of its revival.
#   first never answered
#              the phone's peer made anew with a first address where
#              nobody listens: up through the second within FAILOVER_MAX_S.
# `roam events` follows the phone from before the failover; after each
# step its output holds exactly the expected sequence of events (EV_*):
# the probes of the first address are not events, only their answer is.
# (Garbage and replays from a candidate's address moving nothing and
# producing no event: tests/sim/test_sim_candidates.c.)
# About 95 s.
# shellcheck disable=SC2317 # case functions are called through t_check
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lab_nat.sh
. "$(dirname "$0")/lab_nat.sh"

ROAMD=$(cd "$(dirname "$0")/../.." && pwd)/build/roamd
SECOND=198.19.0.3
NOBODY=198.19.0.99	# on the server's subnet, held by no host
FAILOVER_MAX_S=16
# The first probe home comes 30 s after the failover; the first is revived
# 5 s after that probe went unanswered, so the next probe (30 s later)
# brings the endpoint back: 25 s after revival, plus a handshake (24.6 s
# measured). A probe waits REKEY_TIMEOUT behind another handshake in
# flight, and a loaded machine adds its share: 40 s.
RETURN_MAX_S=40

phone_endpoint() {
	wg_show "$LAB_PHONE" "$LAB_WG_PHONE" endpoints | awk '{ print $2 }'
}
phone_endpoint_is() { [ "$(phone_endpoint)" = "$1" ]; }
phone_log() { cat "$RT_TMP/$LAB_WG_PHONE.log" 2>/dev/null; }

# black_hole ADDR / revive — the internet router drops the server's
# WireGuard traffic to and from ADDR, or stops doing so.
black_hole() {
	nsx "$LAB_INET" nft -f - <<EOF
table inet cand {
	chain forward {
		type filter hook forward priority 0; policy accept;
		ip daddr $1 udp dport $LAB_PORT drop
		ip saddr $1 udp sport $LAB_PORT drop
	}
}
EOF
}
revive() { nsx "$LAB_INET" nft delete table inet cand; }

setup() {
	lab_up c && lab_start_tunnel "$ROAMD" "$ROAMD" 0 &&
		ip -n "$LAB_SERVER" addr add "$SECOND/24" dev "$LAB_SRV_DEV" &&
		lab_phone_candidates "$LAB_SRV4:$LAB_PORT" "$SECOND:$LAB_PORT" &&
		lab_uapi_get2 "$LAB_WG_PHONE" | grep -qx "roam_endpoint_candidate=$SECOND:$LAB_PORT" &&
		lab_uapi_get2 "$LAB_WG_PHONE" | grep -qx 'roam_endpoint_candidate_index=0'
}

EV_FAILOVER="failover endpoint_changed handshake_completed"
# The unanswered probe of the first is no event; the handshake that then
# goes to the endpoint in use again completes: that is one.
EV_NO_FLAP="$EV_FAILOVER handshake_completed"
EV_RETURN="$EV_NO_FLAP endpoint_changed handshake_completed"
EV=""

T_DEAD=""
sc_failover() {
	EV=$RT_TMP/events.phone
	events_follow "$LAB_WG_PHONE" "$EV"
	lab_ping_start "$LAB_PHONE" "$LAB_TUN_SRV4" 120
	wait_until 5 lab_ping_has 10 || { echo "no ping through the tunnel"; return 1; }
	T_DEAD=$(lab_now)
	black_hole "$LAB_SRV4" || return 1
	if ! wait_until $((FAILOVER_MAX_S + 4)) lab_ping_has 1 "$(awk -v t="$T_DEAD" 'BEGIN { printf "%.6f", t + 0.2 }')"; then
		echo "no reply in $((FAILOVER_MAX_S + 4)) s after the first address died"
		lab_diag
		return 1
	fi
	local st reach
	st=$(lab_ping_stats "$T_DEAD" "$(awk -v t="$T_DEAD" 'BEGIN { printf "%.6f", t + 0.2 }')")
	reach=$(lab_stat reach_s "$st")
	lab_ping_stop
	lab_figures failover "resumed_s=$reach bound_s=$FAILOVER_MAX_S endpoint=$(phone_endpoint)"
	phone_endpoint_is "$SECOND:$LAB_PORT" || { echo "endpoint $(phone_endpoint)"; return 1; }
	lab_uapi_get2 "$LAB_WG_PHONE" | grep -qx 'roam_endpoint_candidate_index=1' || return 1
	awk -v r="$reach" -v b="$FAILOVER_MAX_S" 'BEGIN { exit !(r != "none" && r + 0 <= b) }' ||
		{ echo "resumed after $reach s"; return 1; }
	# The log's sequence: the try, then the move by an authenticated answer.
	local seq
	seq=$(phone_log | grep -oE 'handshakes now go to endpoint candidate [0-9]+, [0-9.:]+|endpoint [0-9.:]+ -> [0-9.:]+|probing|in use again' |
		tr '\n' '|')
	echo "sequence: $seq"
	[ "$seq" = "handshakes now go to endpoint candidate 2, $SECOND:$LAB_PORT|endpoint $LAB_SRV4:$LAB_PORT -> $SECOND:$LAB_PORT|" ] || return 1
	events_expect "$EV" "$EV_FAILOVER" || return 1
	grep '"type":"failover"' "$EV"
	grep -q "\"type\":\"failover\".*\"from\":\"$LAB_SRV4:$LAB_PORT\",\"to\":\"$SECOND:$LAB_PORT\",\"candidate\":2" "$EV" &&
		grep -q "\"type\":\"endpoint_changed\".*\"new_endpoint\":\"$SECOND:$LAB_PORT\",\"candidate\":2" "$EV"
}

sc_no_flap() {
	local t0 moved=0 i
	t0=$(lab_now)
	lab_ping_start "$LAB_PHONE" "$LAB_TUN_SRV4" 60
	# Until the first probe home has gone out and gone unanswered: 30 s
	# after the failover, plus REKEY_TIMEOUT. Polled every 0.5 s.
	for ((i = 0; i < 90; i++)); do
		phone_endpoint_is "$SECOND:$LAB_PORT" || moved=$((moved + 1))
		phone_log | grep -q 'in use again' && break
		sleep 0.5
	done
	local probes backs st
	probes=$(phone_log | grep -c 'probing the preferred endpoint candidate 1')
	backs=$(phone_log | grep -c 'in use again')
	lab_ping_stop
	st=$(lab_ping_stats)
	lab_figures no_flap "watched_s=$(awk -v a="$t0" -v b="$(lab_now)" 'BEGIN { printf "%.1f", b - a }')" \
		"moves_back=$moved probes_home=$probes unanswered=$backs ping_$st"
	[ "$moved" -eq 0 ] && [ "$probes" -eq 1 ] && [ "$backs" -eq 1 ] && [ "$(lab_stat lost "$st")" -le 2 ] || return 1
	events_expect "$EV" "$EV_NO_FLAP"
}

sc_return() {
	local t0 took
	revive || return 1
	t0=$(lab_now)
	lab_ping_start "$LAB_PHONE" "$LAB_TUN_SRV4" 60
	if ! wait_until "$RETURN_MAX_S" phone_endpoint_is "$LAB_SRV4:$LAB_PORT"; then
		echo "still at $(phone_endpoint) $RETURN_MAX_S s after the first came back"
		phone_log | grep -E 'candidate|endpoint |probing|in use|handshake' | tail -n 8
		return 1
	fi
	took=$(awk -v a="$t0" -v b="$(lab_now)" 'BEGIN { printf "%.1f", b - a }')
	lab_ping_stop
	local st
	st=$(lab_ping_stats)
	lab_figures return "back_after_s=$took bound_s=$RETURN_MAX_S lost=$(lab_stat lost "$st") endpoint=$(phone_endpoint)"
	lab_uapi_get2 "$LAB_WG_PHONE" | grep -qx 'roam_endpoint_candidate_index=0' &&
		phone_log | grep -q "endpoint $SECOND:$LAB_PORT -> $LAB_SRV4:$LAB_PORT" || return 1
	events_expect "$EV" "$EV_RETURN" || return 1
	events_stop || { echo "roam events did not end cleanly: $(cat "$EV.err")"; return 1; }
	tail -n 2 "$EV"
	grep '"type":"endpoint_changed"' "$EV" | tail -n 1 | grep -q "\"new_endpoint\":\"$LAB_SRV4:$LAB_PORT\",\"candidate\":1"
}

# The phone's peer made anew, its first address one where nobody listens
# (the server's subnet, no host): the first initiation goes there, and the
# 50 Hz ping asks for another one every REKEY_TIMEOUT; that unanswered
# attempt still moves on to the second, so the tunnel is up within
# FAILOVER_MAX_S of the first packet (before the fix: never).
sc_first_never_answered() {
	local key t0 st reach
	key=$(lab_key_hex "${LAB_TAG}s")
	lab_uapi_set "$LAB_WG_PHONE" "public_key=$key" "remove=true" || return 1
	lab_uapi_set "$LAB_WG_PHONE" "public_key=$key" "endpoint=$NOBODY:$LAB_PORT" \
		"allowed_ip=$LAB_TUN_SRV4/32" "allowed_ip=$LAB_TUN_SRV6/128" || return 1
	lab_phone_candidates "$NOBODY:$LAB_PORT" "$LAB_SRV4:$LAB_PORT" || return 1
	t0=$(lab_now)
	lab_ping_start "$LAB_PHONE" "$LAB_TUN_SRV4" 30
	if ! wait_until $((FAILOVER_MAX_S + 4)) lab_ping_has 1; then
		echo "no reply in $((FAILOVER_MAX_S + 4)) s"
		phone_log | grep -E 'candidate|endpoint |handshake' | tail -n 8
		lab_ping_stop
		return 1
	fi
	st=$(lab_ping_stats "$t0")
	reach=$(lab_stat reach_s "$st")
	lab_ping_stop
	lab_figures first_never_answered "up_s=$reach bound_s=$FAILOVER_MAX_S endpoint=$(phone_endpoint)"
	phone_endpoint_is "$LAB_SRV4:$LAB_PORT" || { echo "endpoint $(phone_endpoint)"; return 1; }
	awk -v r="$reach" -v b="$FAILOVER_MAX_S" 'BEGIN { exit !(r != "none" && r + 0 <= b) }'
}

if t_check "lab up, tunnel up, the phone knows the server's two addresses" setup; then
	t_check "failover to the second address within $FAILOVER_MAX_S s, events in order" sc_failover &&
		t_check "no move back while the first is dead, one probe of it" sc_no_flap &&
		t_check "back to the first within $RETURN_MAX_S s of its revival" sc_return
	lab_ping_stop
	t_check "a first address that never answered: up through the second within $FAILOVER_MAX_S s" \
		sc_first_never_answered
	lab_ping_stop
fi
lab_down
rt_cleanup
t_check "cleanup leaves no namespace or socket" rt_nothing_left
t_finish
