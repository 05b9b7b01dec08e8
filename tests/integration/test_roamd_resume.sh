#!/usr/bin/env bash
# Resume detection (src/roamd/resume.c) in the NAT lab of lab_nat.sh. The
# phone's roamd is frozen with SIGSTOP for longer than the Wi-Fi NAT's UDP
# timeout (NAT_TIMEOUT s here), so the mapping the server reaches it by is
# gone; then it continues. Its persistent keepalive (25 s) is far away, so
# without resume detection the server could not reach the phone until then.
# roamd's CLOCK_BOOTTIME tick notices the missed time and tells the server
# at once: the server reaches the phone within RESUME_MAX_S of SIGCONT, and
# the phone's log says why. wireguard-go is measured the same way (never
# before its keepalive), for comparison only.
# About 45 s.
# shellcheck disable=SC2317 # case functions are called through t_check
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lab_nat.sh
. "$(dirname "$0")/lab_nat.sh"

ROAMD=$(cd "$(dirname "$0")/../.." && pwd)/build/roamd
NAT_TIMEOUT=5
FROZEN_S=9          # > NAT_TIMEOUT, and > 3 ticks of 2 s
RESUME_MAX_S=1

freeze_and_reach() {
	local phone=$1 t0 took bound=$2
	lab_tunnel_ok || { echo "no tunnel before the freeze"; return 1; }
	nsx "$LAB_SERVER" ping -n -q -c 3 -i 0.2 -w 3 "$LAB_TUN_PH4" >/dev/null || { echo "server cannot reach the phone"; return 1; }
	kill -STOP "$LAB_PHONE_PID" || return 1
	sleep "$FROZEN_S" # the freeze itself is what is measured: a fixed length
	if ! wait_until 10 lab_nat_gone wifi; then
		kill -CONT "$LAB_PHONE_PID"
		echo "the NAT mapping did not expire"
		return 1
	fi
	t0=$(lab_now)
	kill -CONT "$LAB_PHONE_PID" || return 1
	took=$(lab_reach "$LAB_SERVER" "$LAB_TUN_PH4" "$bound" "$t0")
	lab_figures resume "phone=$phone frozen_s=$FROZEN_S nat_timeout_s=$NAT_TIMEOUT server_reaches_phone_s=$took bound_s=$bound"
	[ "$took" != none ]
}

# The phone's events over the freeze: exactly one, the resume (its port is
# pinned, so no fresh_port; its session outlives the freeze, so no
# handshake is needed).
EXPECT_EVENTS="resume"

sc_roamd() {
	local ev=$RT_TMP/events.phone types
	events_follow "$LAB_WG_PHONE" "$ev"
	freeze_and_reach roamd "$RESUME_MAX_S" || { events_stop; return 1; }
	grep -E "resume: " "$RT_TMP/$LAB_WG_PHONE.log" | tail -n 1
	events_wait_for "$ev" resume
	events_stop || { echo "roam events did not end cleanly: $(cat "$ev.err")"; return 1; }
	types=$(events_types "$ev")
	echo "phone events: $types"
	cat "$ev"
	[ "$types" = "$EXPECT_EVENTS" ] || { echo "expected events: $EXPECT_EVENTS"; return 1; }
	grep -q '"reason":"frozen"' "$ev" || { echo "the resume event does not say frozen"; return 1; }
	awk -v t="$(lab_reach "$LAB_SERVER" "$LAB_TUN_PH4" 1)" 'BEGIN { exit !(t != "none") }' &&
		grep -q "resume: the event loop did not run for about" "$RT_TMP/$LAB_WG_PHONE.log"
}

sc_wggo() {
	# Measured only: nothing tells the server before the phone's keepalive.
	freeze_and_reach wireguard-go 3 || echo "wireguard-go: not within 3 s (its keepalive comes every 25 s)"
	return 0
}

up_lab() { lab_up "$1" && lab_start_tunnel "$2" "$ROAMD" 25 && lab_set_nat_timeout wifi "$NAT_TIMEOUT"; }

run() {
	local tag=$1 impl=$2 case=$3 name=$4 what=$5
	if t_check "[$name] lab and tunnel up, NAT timeout $NAT_TIMEOUT s" up_lab "$tag" "$impl"; then
		t_check "[$name] frozen past the NAT timeout, continued: $what" "$case"
	fi
	lab_down
}

run r "$ROAMD" sc_roamd roamd "the server reaches the phone within $RESUME_MAX_S s"
run g wireguard-go sc_wggo wireguard-go "measured only"

rt_cleanup
t_check "cleanup leaves no namespace or socket" rt_nothing_left
t_finish
