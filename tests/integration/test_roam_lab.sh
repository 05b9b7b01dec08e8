#!/usr/bin/env bash
# The roaming lab (lab_nat.sh): a phone with a Wi-Fi and an LTE uplink, each
# behind its own NAT with short UDP timeouts, a server across an "internet",
# and an attacker there too. Every scenario is a case and prints a line
#   figures: scenario=NAME impl=PHONE/SERVER key=value ...
# with its measurements (lost packets, longest gap between replies in ms,
# seconds from the event to the first reply, endpoints seen by the server).
#
# Matrix (phone/server): roamd/roamd, wireguard-go/roamd, roamd/wireguard-go,
# and roamd-no-netwatch/wireguard-go (roamd with ROAMD_NO_NETWATCH=1, which
# like wireguard-go has no netwatch: the active roams only). The end prints
# each scenario's longest gap side by side for every phone implementation.
# Without build/roamd the run falls back to wireguard-go/wireguard-go and
# reports a failed case "roamd not built". ROAM_LAB_PAIRS overrides the list,
# e.g. ROAM_LAB_PAIRS="wireguard-go/wireguard-go".
#
# Scenarios per pair (phone persistent keepalive K=2 s unless said otherwise):
#   active_roam        phone pings the server at 50 Hz, Wi-Fi -> LTE mid-stream
#   roam_back          the same, LTE -> Wi-Fi
#   server_after_roam  idle phone roams, then the server pings it: through
#                      within one keepalive interval
#   server_sending     the server pings at 50 Hz while the phone roams
#   rekey_roam         the phone roams while its handshake is in flight (the
#                      Wi-Fi router eats the response; the server has a session)
#   v4_to_v6           LTE IPv4 -> LTE IPv6-only (endpoint changes family)
#   nat_idle_pk0/pk2   NAT UDP timeout 5 s: an idle phone without keepalive is
#                      unreachable from the server (expected), with K=2 it is not
#   attack             10,000 random/typed datagrams (+2,000 over IPv6), then
#                      replays of captured data packets (as is and bit-flipped)
#                      and of a captured initiation, from the attacker: the
#                      endpoint never moves, the tunnel keeps working, the
#                      daemons stay up
#   attack_drops       (server roamd only) each kind of attack datagram was
#                      dropped under its own cause in roamd's counters (UAPI
#                      get=2, roam_drop=REASON:COUNT)
#   both_up, both_up_back, both_up6, both_up6_back
#                      active roams with both links up (LAB_SWITCH_MODE=both-up):
#                      the phone streams while its default route moves Wi-Fi ->
#                      LTE (and back; IPv4 outer, then IPv6 outer), the old
#                      address stays, the old router forgets its NAT state. A
#                      capture on the new link counts ARP requests and packets
#                      that carry the old address (both routers filter by
#                      reverse path, so each is lost and what queues behind it
#                      waits for ARP's 1 s retry). A roamd phone must send none
#                      and keep its longest gap under BOTH_UP_MAX_GAP_MS.
#   silent_roam        phone with keepalive 25 s sends only keepalives, its uplink
#                      changes right after one, the server pings: ms until
#                      through. Once per phone implementation. A roamd phone
#                      must get through within 2 s (it reacts to rtnetlink,
#                      netwatch.c; the 200 ms target is printed as met=yes|no);
#                      ROAM_EXPECT_FAST_ROAM=0 relaxes that to the keepalive
#                      interval (e.g. ROAMD_NO_NETWATCH=1 runs).
#                      wireguard-go is measured, within the keepalive interval.
#
# Roams are "radio loss" (lab_nat.sh): the old uplink's link dies, the new one
# comes up, the old address goes. LAB_SWITCH_MODE=make-before-break or
# break-before-make tries the others. Other knobs: ROAM_LAB_SCENARIOS="a b"
# runs only those scenarios; ROAM_LAB_LOGDIR=DIR keeps the daemons' logs
# (LOG_LEVEL=verbose makes both daemons chatty); ROAM_LAB_MAX_GAP_MS.
# shellcheck disable=SC2317 # case functions are called through t_check
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lab_nat.sh
. "$(dirname "$0")/lab_nat.sh"

ROAMD=${ROAM_LAB_ROAMD:-$(cd "$(dirname "$0")/../.." && pwd)/build/roamd} # override: tests only
K=2                 # the phone's persistent keepalive in the scenarios
NAT_SHORT=5         # the NAT timeout of the idle-expiry scenario
SILENT_K=25         # the silent roam's keepalive
# A roamd phone's silent roam (unless ROAM_EXPECT_FAST_ROAM=0). 200 ms is the
# target: printed with the figures (target_ms=, met=yes|no), not asserted. It
# has no headroom as a bound: a radio-loss switch can cost netwatch two rounds
# NW_MIN_GAP (100 ms) apart (the link loss, then the new address and route),
# and quiet 2-core runs measure 150-220 ms. What
# proves the mechanism (a reaction to the route change) is FAST_MAX_MS: ~10x
# the measured figure, yet over 10x under the ~25 s (SILENT_K) that a phone
# without it takes (wireguard-go: its next keepalive, measured 24.9 s).
FAST_TARGET_MS=200
FAST_MAX_MS=2000
MAX_ACTIVE_GAP_MS=${ROAM_LAB_MAX_GAP_MS:-1000} # active roams: longest gap allowed
# A roamd phone's both-up roams. What proves that nothing waits on a stale
# source is the capture: no ARP request and no datagram with the old address
# on the new link (roamd before the fix sent both, and stalled 1035-1055 ms
# for ARP's retry). The gap is measured at 30-50 ms (wireguard-go 35-145 ms,
# and over IPv6 it never gets through); once in many runs an IPv6 roam back
# to Wi-Fi took 1032 ms with no stale packet at all (a neighbour-discovery
# retry in the lab), so the bound only catches stalls of several seconds,
# such as a phone that never moves (8 s and more).
BOTH_UP_MAX_GAP_MS=2000

command -v wireguard-go >/dev/null || t_abort "wireguard-go is not installed (scripts/install-deps.sh)"
for tool in nft conntrack tcpdump; do
	command -v "$tool" >/dev/null || t_abort "$tool is not installed (scripts/install-deps.sh)"
done

if [ -n "${ROAM_LAB_PAIRS:-}" ]; then
	PAIRS=$ROAM_LAB_PAIRS
elif [ -x "$ROAMD" ]; then
	PAIRS="roamd/roamd wireguard-go/roamd roamd/wireguard-go roamd-no-netwatch/wireguard-go"
else
	t_fail "roamd not built" "build/roamd is missing: the roamd pairs were skipped; running wireguard-go/wireguard-go only"
	PAIRS="wireguard-go/wireguard-go"
fi

impl_path() {
	case $1 in
	roamd) echo "$ROAMD" ;;
	roamd-no-netwatch) no_netwatch_roamd ;;
	*) echo "$1" ;;
	esac
}

# roamd with ROAMD_NO_NETWATCH=1, under a name the figures show.
no_netwatch_roamd() { rt_impl_with_env roamd-no-netwatch "$ROAMD" ROAMD_NO_NETWATCH=1; }
is_roamd_phone() { case ${LAB_PHONE_IMPL##*/} in roamd*) return 0 ;; esac; return 1; }

# float comparison: fle A B — A <= B
fle() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }
# seconds -> ms (integer); "none" stays "none"
to_ms() {
	if [ "$1" = none ]; then echo none; else awk -v s="$1" 'BEGIN { printf "%d", s * 1000 + 0.5 }'; fi
}

# check_roamed UPLINK — the server's endpoint for the phone is UPLINK's NAT.
check_roamed() {
	lab_wait_server_endpoint "$(pub_of "$1")" 2 && return 0
	echo "server endpoint for the phone is $(lab_server_endpoint), not at $(pub_of "$1")"
	return 1
}

# --- scenarios ---------------------------------------------------------------

# A stream from the phone to the server across a roam FROM -> TO.
sc_phone_stream_roam() {
	local name=$1 from=$2 to=$3 t0 t1 st ep0 ep1 reach gap
	lab_reset "$from" || return 1
	ep0=$(lab_server_endpoint)
	lab_ping_start "$LAB_PHONE" "$LAB_TUN_SRV4" 10
	wait_until 3 lab_ping_has 25 || { echo "stream does not start"; lab_ping_stop; return 1; }
	t0=$(lab_now)
	lab_switch_uplink "$to" || { lab_ping_stop; return 1; }
	t1=$(lab_now)
	wait_until 8 lab_ping_has 25 "$t1" # half a second of replies after the roam
	lab_ping_stop
	st=$(lab_ping_stats "$t0" "$t1")
	ep1=$(lab_server_endpoint)
	lab_figures "$name" "$st" "endpoint_before=$ep0 endpoint_after=$ep1"
	reach=$(lab_stat reach_s "$st") gap=$(lab_stat longest_gap_ms "$st")
	note_gap "$name" "$gap"
	[ "$reach" != none ] || { echo "no reply after the roam ($st)"; return 1; }
	check_roamed "$to" || return 1
	[ "$gap" -le "$MAX_ACTIVE_GAP_MS" ] || { echo "longest gap ${gap} ms > ${MAX_ACTIVE_GAP_MS} ms"; return 1; }
}
sc_active_roam() { sc_phone_stream_roam active_roam wifi lte; }
# Longest gaps by scenario and pair, for the side-by-side table at the end.
declare -A GAPS=()
note_gap() { GAPS["$1 ${LAB_PHONE_IMPL##*/}/${LAB_SERVER_IMPL##*/}"]=$2; }
sc_roam_back() { sc_phone_stream_roam roam_back lte wifi; }

phone_dev_of() { case $1 in wifi*) echo "$LAB_PH_WIFI_DEV" ;; *) echo "$LAB_PH_LTE_DEV" ;; esac; }
phone_addr_of() {
	case $1 in
	wifi) echo "$LAB_PH_WIFI4" ;;
	wifi6) echo "$LAB_PH_WIFI6" ;;
	lte) echo "$LAB_PH_LTE4" ;;
	lte6) echo "$LAB_PH_LTE6" ;;
	esac
}

# An active roam with both links up: FROM's address and link stay, the
# default route moves to TO, FROM's router forgets its NAT state.
sc_both_up_roam() {
	local name=$1 from=$2 to=$3 old t0 t1 st reach gap arp ipn
	old=$(phone_addr_of "$from")
	lab_reset "$from" || return 1
	lab_capture_start phone "$(phone_dev_of "$to")" || { echo "tcpdump on the phone did not start"; return 1; }
	lab_ping_start "$LAB_PHONE" "$LAB_TUN_SRV4" 10
	wait_until 3 lab_ping_has 25 || { echo "stream does not start"; lab_ping_stop; lab_capture_stop; return 1; }
	t0=$(lab_now)
	LAB_SWITCH_MODE=both-up lab_switch_uplink "$to" || { lab_ping_stop; lab_capture_stop; return 1; }
	t1=$(lab_now)
	wait_until 8 lab_ping_has 25 "$t1"
	lab_ping_stop
	lab_capture_stop
	st=$(lab_ping_stats "$t0" "$t1")
	read -r arp ipn < <(lab_phone_capture_from "$old")
	lab_figures "$name" "$st" "stale_arp=$arp stale_datagrams=$ipn endpoint_after=$(lab_server_endpoint)"
	reach=$(lab_stat reach_s "$st") gap=$(lab_stat longest_gap_ms "$st")
	note_gap "$name" "$gap"
	# Other phones are measured, not judged: wireguard-go 0.0.20220316
	# keeps its IPv6 sticky source on the old address here and never gets
	# through (seen: 322 of 357 pings lost, every datagram from the old
	# address), which is what the side-by-side figures show.
	is_roamd_phone || return 0
	[ "$reach" != none ] || { echo "no reply after the roam ($st)"; return 1; }
	check_roamed "$to" || return 1
	[ "$arp" -eq 0 ] && [ "$ipn" -eq 0 ] ||
		{ echo "$arp ARP requests and $ipn packets left the $to link with the old address $old"; return 1; }
	[ "$gap" -le "$BOTH_UP_MAX_GAP_MS" ] || { echo "longest gap ${gap} ms > ${BOTH_UP_MAX_GAP_MS} ms"; return 1; }
}
sc_both_up() { sc_both_up_roam both_up wifi lte; }
sc_both_up_back() { sc_both_up_roam both_up_back lte wifi; }
sc_both_up6() { sc_both_up_roam both_up6 wifi6 lte6; }
sc_both_up6_back() { sc_both_up_roam both_up6_back lte6 wifi6; }

# The phone is idle (keepalives only) when it roams; then the server pings it.
sc_server_after_roam() {
	local t0 r
	lab_reset wifi || return 1
	t0=$(lab_now)
	lab_switch_uplink lte || return 1
	r=$(lab_reach "$LAB_SERVER" "$LAB_TUN_PH4" $((K + 3)) "$t0")
	lab_figures server_after_roam "keepalive_s=$K reach_s=$r endpoint_after=$(lab_server_endpoint)"
	[ "$r" != none ] || { echo "the server never reached the phone"; return 1; }
	check_roamed lte || return 1
	fle "$r" "$K.5" || { echo "took ${r} s, more than one keepalive interval (${K} s, +0.5 s slack)"; return 1; }
}

# The server streams to the phone while the phone roams.
sc_server_sending() {
	local t0 t1 st reach
	lab_reset wifi || return 1
	lab_ping_start "$LAB_SERVER" "$LAB_TUN_PH4" 10
	wait_until 3 lab_ping_has 25 || { echo "stream does not start"; lab_ping_stop; return 1; }
	t0=$(lab_now)
	lab_switch_uplink lte || { lab_ping_stop; return 1; }
	t1=$(lab_now)
	wait_until $((K + 4)) lab_ping_has 25 "$t1"
	lab_ping_stop
	st=$(lab_ping_stats "$t0" "$t1")
	lab_figures server_sending "$st" "keepalive_s=$K endpoint_after=$(lab_server_endpoint)"
	reach=$(lab_stat reach_s "$st")
	[ "$reach" != none ] || { echo "no reply after the roam ($st)"; return 1; }
	check_roamed lte || return 1
	fle "$reach" "$K.5" || { echo "took ${reach} s, more than one keepalive interval"; return 1; }
}

# The phone roams while its handshake is in flight: it starts a new one (the
# server keeps its session, so for the server this is a rekey), the Wi-Fi
# router drops the server's response, and the phone leaves for LTE. The
# handshake must complete over LTE (retry after REKEY_TIMEOUT 5 s + jitter).
sc_rekey_roam() {
	local t0 t1 st reach hs0 hs1 dropped
	lab_reset wifi || return 1
	hs0=$(wg_latest_handshake "$LAB_SERVER" "$LAB_WG_SERVER")
	lab_block_responses wifi || return 1
	lab_ping_start "$LAB_PHONE" "$LAB_TUN_SRV4" 15
	wait_until 3 lab_ping_has 10 || { echo "stream does not start"; lab_ping_stop; return 1; }
	lab_phone_rehandshake || { lab_ping_stop; return 1; }
	if ! wait_until 5 lab_blocked_some wifi; then
		echo "no handshake response reached the Wi-Fi router in 5 s"
		lab_ping_stop
		return 1
	fi
	t0=$(lab_now)
	lab_switch_uplink lte || { lab_ping_stop; return 1; }
	t1=$(lab_now)
	dropped=$(lab_blocked wifi)
	lab_unimpair wifi || { lab_ping_stop; return 1; }
	wait_until 12 lab_ping_has 25 "$t1"
	lab_ping_stop
	st=$(lab_ping_stats "$t0" "$t1")
	hs1=$(wg_latest_handshake "$LAB_SERVER" "$LAB_WG_SERVER")
	lab_figures rekey_roam "$st" "responses_dropped=$dropped" \
		"new_handshake=$([ "$hs1" -gt "$hs0" ] && echo yes || echo no) endpoint_after=$(lab_server_endpoint)"
	reach=$(lab_stat reach_s "$st")
	[ "$reach" != none ] || { echo "no reply after the roam ($st)"; return 1; }
	check_roamed lte || return 1
	[ "$hs1" -gt "$hs0" ] || { echo "no new handshake on the server"; return 1; }
	fle "$reach" 8 || { echo "took ${reach} s to recover (REKEY_TIMEOUT is 5 s)"; return 1; }
}

# IPv4 LTE -> IPv6-only LTE: the phone is told the server's IPv6 address (as
# its resolver would on the new network); the server's endpoint for the phone
# changes family.
sc_v4_to_v6() {
	local t0 t1 st reach
	lab_reset lte || return 1
	lab_ping_start "$LAB_PHONE" "$LAB_TUN_SRV4" 10
	wait_until 3 lab_ping_has 25 || { echo "stream does not start"; lab_ping_stop; return 1; }
	t0=$(lab_now)
	lab_switch_uplink lte6 && lab_phone_endpoint v6 || { lab_ping_stop; return 1; }
	t1=$(lab_now)
	wait_until 8 lab_ping_has 25 "$t1"
	lab_ping_stop
	st=$(lab_ping_stats "$t0" "$t1")
	lab_figures v4_to_v6 "$st" "endpoint_after=$(lab_server_endpoint)"
	reach=$(lab_stat reach_s "$st")
	[ "$reach" != none ] || { echo "no reply after the roam ($st)"; return 1; }
	check_roamed lte6 || return 1
	fle "$reach" 1 || { echo "took ${reach} s to recover"; return 1; }
}

# NAT idle expiry without keepalive: the server pings the phone once (so the
# phone only ever answers and never sends on its own with keepalive 0), the
# mapping expires after NAT_SHORT s, and the server can no longer reach it.
NAT_IDLE_OK=0
sc_nat_idle_pk0() {
	local t_idle r expired_s
	NAT_IDLE_OK=0
	lab_reset wifi || return 1
	# A fresh mapping under the short timeout: keepalive off, the NAT's
	# table flushed, the phone sends (a new mapping), then the server pings
	# it once (the phone only answers: nothing of its own after that).
	lab_phone_keepalive 0 && lab_set_nat_timeout wifi "$NAT_SHORT" && lab_flush_conntrack wifi || return 1
	wait_until 5 lab_tunnel_ok || { echo "no tunnel after flushing the NAT"; return 1; }
	# The precondition (a fresh mapping the server reaches the phone
	# through) gets three tries, each after the phone sent: what is timed
	# is the expiry after idling, not this set-up.
	local try
	r=""
	for try in 1 2 3; do
		r=$(lab_reach "$LAB_SERVER" "$LAB_TUN_PH4" 3) && break
		r=""
		lab_tunnel_ok
	done
	[ -n "$r" ] || { echo "the server cannot reach the phone even before idling (3 tries)"; return 1; }
	t_idle=$(lab_now)
	if ! wait_until $((NAT_SHORT + 5)) lab_nat_expiring wifi; then
		echo "the Wi-Fi NAT mapping did not run out in $((NAT_SHORT + 5)) s:"
		nsx "$LAB_WIFI" conntrack -L -p udp 2>&1
		return 1
	fi
	# Under a second left now: the mapping is reaped by then or expired
	# anyway (the garbage collector may list it a while longer).
	wait_until 1.2 lab_nat_gone wifi
	expired_s=$(awk -v a="$t_idle" -v b="$(lab_now)" 'BEGIN { printf "%.1f", b - a }')
	r=$(lab_reach "$LAB_SERVER" "$LAB_TUN_PH4" 3)
	lab_figures nat_idle_pk0 "nat_timeout_s=$NAT_SHORT keepalive_s=0 mapping_gone_after_s=$expired_s" \
		"reach_s=$r (unreachable expected)"
	NAT_IDLE_OK=1
	[ "$r" = none ] || { echo "the server reached an idle phone behind an expired NAT mapping in ${r} s"; return 1; }
}

# Then keepalive K: the phone refreshes its mapping (a new one, at once) and
# stays reachable across an idle period longer than the NAT timeout.
sc_nat_idle_pk2() {
	local t1 r entries idle
	[ "$NAT_IDLE_OK" = 1 ] || { lab_reset wifi && lab_set_nat_timeout wifi "$NAT_SHORT" || return 1; }
	lab_phone_keepalive "$K" || return 1
	t1=$(lab_now)
	idle=$((NAT_SHORT + 2))
	sleep "$idle" # an idle period (keepalives only) longer than the NAT timeout
	entries=$(lab_nat_entries wifi)
	r=$(lab_reach "$LAB_SERVER" "$LAB_TUN_PH4" 3)
	lab_figures nat_idle_pk2 "nat_timeout_s=$NAT_SHORT keepalive_s=$K idle_s=$idle nat_entries=$entries reach_s=$r"
	lab_set_nat_timeout wifi "$LAB_NAT_TIMEOUT"
	[ "$r" != none ] || { echo "the server cannot reach the phone despite keepalive $K"; return 1; }
	[ "$entries" -ge 1 ] || { echo "no NAT mapping left, yet reachable?"; return 1; }
}

# Attacks on the server's endpoint for the phone, from the attacker: 10,000
# random and well-formed-header datagrams over IPv4 (2,000 more over IPv6),
# then replays of data packets and of the initiation captured at the
# server's uplink during a fresh handshake. With roamd as the server, its
# drop counters (UAPI get=2, roam_drop=REASON:COUNT) are read around each
# phase; the next case checks each kind of datagram was counted by cause.
# A roamd server must also raise no event (roam events) and write no log
# line for any of it: nothing unauthenticated is an event.
ATK_DROPS_RANDOM="" ATK_DROPS_REPLAY="" ATK_SENT=0 ATK_LOAD=n/a
server_log_lines() { wc -l <"$RT_TMP/$LAB_WG_SERVER.log"; }
sc_attack() {
	local ep0 ep st out1 out2 out3 alive=yes moved=no r d0 d1 d2 t_end ev0 ev1 log0 log1
	ATK_DROPS_RANDOM="" ATK_DROPS_REPLAY="" ATK_SENT=0
	lab_reset wifi || return 1
	# Capture a fresh handshake and some data at the server's uplink.
	lab_capture_start || { echo "tcpdump did not start"; return 1; }
	lab_phone_rehandshake &&
		nsx "$LAB_PHONE" ping -n -q -c 30 -i 0.02 -w 5 "$LAB_TUN_SRV4" >/dev/null
	lab_capture_stop || { echo "nothing captured"; return 1; }
	wait_until 5 lab_tunnel_ok || { echo "tunnel down after the re-handshake"; return 1; }
	ep0=$(lab_server_endpoint)
	# The tunnel carries a stream all along.
	lab_ping_start "$LAB_PHONE" "$LAB_TUN_SRV4" 60
	wait_until 3 lab_ping_has 10 || { echo "stream does not start"; lab_ping_stop; return 1; }
	d0=$(lab_roam_drops "$LAB_WG_SERVER")
	ev0=$(events_last_seq "$LAB_WG_SERVER") log0=$(server_log_lines)
	out1=$(lab_attack random "$LAB_SRV4:$LAB_PORT" 10000 --pcap "$LAB_CAP_FILE" 2>&1)
	echo "$out1"
	[ "$(lab_server_endpoint)" = "$ep0" ] || moved=yes
	out2=$(lab_attack random "[$LAB_SRV6]:$LAB_PORT" 2000 --pcap "$LAB_CAP_FILE" --to "$LAB_SRV4" 2>&1)
	echo "$out2"
	[ "$(lab_server_endpoint)" = "$ep0" ] || moved=yes
	d1=$(lab_roam_drops "$LAB_WG_SERVER")
	# A burst of initiations puts the server "under load" for a second:
	# then a replayed initiation rightly gets a cookie reply, not a drop.
	# Replay once it is over, so the timestamp check is what stops it.
	ATK_LOAD=n/a
	if [ -n "$d1" ]; then
		ATK_LOAD=no
		lab_roam_under_load "$LAB_WG_SERVER" && ATK_LOAD=yes
		wait_until 5 lab_roam_not_under_load "$LAB_WG_SERVER"
		d1=$(lab_roam_drops "$LAB_WG_SERVER")
	fi
	out3=$(lab_attack replay "$LAB_SRV4:$LAB_PORT" "$LAB_CAP_FILE" --times 3 2>&1)
	echo "$out3"
	[ "$(lab_server_endpoint)" = "$ep0" ] || moved=yes
	ev1=$(events_last_seq "$LAB_WG_SERVER") log1=$(server_log_lines)
	t_end=$(lab_now)
	wait_until 3 lab_ping_has 25 "$t_end" # the tunnel still works after it all
	lab_ping_stop
	d2=$(lab_roam_drops "$LAB_WG_SERVER")
	st=$(lab_ping_stats "$t_end")
	ep=$(lab_server_endpoint)
	lab_daemons_alive || alive=no
	r=$(lab_reach "$LAB_SERVER" "$LAB_TUN_PH4" 3)
	ATK_SENT=$(( $(lab_stat sent "${out1#attack: }" || echo 0) + $(lab_stat sent "${out2#attack: }" || echo 0) ))
	if [ -n "$d2" ]; then
		ATK_DROPS_RANDOM=$(drops_delta "$d0" "$d1")
		ATK_DROPS_REPLAY=$(drops_delta "$d1" "$d2")
	fi
	lab_figures attack "sent_random_v4=$(lab_stat sent "${out1#attack: }" || echo ?)" \
		"sent_random_v6=$(lab_stat sent "${out2#attack: }" || echo ?)" \
		"replayed_data=$(lab_stat data_replays "${out3#attack: }" || echo ?)" \
		"replayed_bitflipped=$(lab_stat bitflipped "${out3#attack: }" || echo ?)" \
		"replayed_init=$(lab_stat init_replays "${out3#attack: }" || echo ?)" \
		"$st server_to_phone_reach_s=$r endpoint=$ep endpoint_moved=$moved daemons_up=$alive" \
		"under_load_after_burst=$ATK_LOAD drops_random=${ATK_DROPS_RANDOM:-n/a} drops_replay=${ATK_DROPS_REPLAY:-n/a}" \
		"server_events=$((ev1 - ev0)) server_log_lines=$((log1 - log0))"
	[ "$alive" = yes ] || { echo "a daemon died"; return 1; }
	if [ -n "$d0" ]; then
		[ "$ev1" -eq "$ev0" ] || { echo "the attack raised events on the server: $ev0 -> $ev1"; return 1; }
		[ "$log1" -eq "$log0" ] || { echo "the attack wrote $((log1 - log0)) log lines on the server:"; tail -n $((log1 - log0)) "$RT_TMP/$LAB_WG_SERVER.log" | head -5; return 1; }
	fi
	[ "$moved" = no ] && [ "$ep" = "$ep0" ] || { echo "the endpoint moved: $ep0 -> $ep"; return 1; }
	[ "$(lab_stat reach_s "$st")" != none ] || { echo "tunnel stopped passing traffic ($st)"; return 1; }
	[ "$r" != none ] || { echo "the server cannot reach the phone after the attack"; return 1; }
	[ "$(lab_stat sent "${out1#attack: }")" = 10000 ] || { echo "attacker: $out1"; return 1; }
	[ "$(lab_stat known_indexes "${out1#attack: }")" -ge 1 ] || { echo "no session index in the capture"; return 1; }
	[ "$(lab_stat init_replays "${out3#attack: }")" -ge 1 ] &&
		[ "$(lab_stat data_replays "${out3#attack: }")" -ge 1 ] || { echo "attacker: $out3"; return 1; }
}

# drops_delta "REASON N..." "REASON N..." — what grew: "reason:n,reason:n".
drops_delta() {
	awk 'NR == FNR { a[$1] = $2; next } { d = $2 - a[$1]; if (d > 0) { printf "%s%s:%d", sep, $1, d; sep = "," } }
		END { print "" }' <(echo "$1") <(echo "$2")
}
# drop_count CAUSE "reason:n,..." — n for that cause (0 if absent).
drop_count() {
	local kv
	for kv in ${2//,/ }; do
		[ "${kv%%:*}" = "$1" ] && { echo "${kv#*:}"; return 0; }
	done
	echo 0
}

# Each kind of attack datagram was dropped and counted under its own cause
# (roamd as the server only: wireguard-go has no such counters).
sc_attack_drops() {
	local rnd=$ATK_DROPS_RANDOM rep=$ATK_DROPS_REPLAY c total=0 kv bad=""
	if [ "${LAB_SERVER_IMPL##*/}" != roamd ]; then
		echo "not roamd"
		return 0
	fi
	if [ -z "$rnd$rep" ]; then
		echo "no roam_drop counters from the server's UAPI get=2 (or the attack case did not run)"
		return 1
	fi
	# Random bytes: not a message; typed ones: bad mac1 (initiations and
	# responses), unknown receiver index (data, cookie replies), failed
	# authentication (data aimed at the live session's index); off-by-one
	# sizes: bad size.
	for c in unknown_type bad_mac1 unknown_index bad_auth bad_size; do
		[ "$(drop_count "$c" "$rnd")" -gt 0 ] || bad="$bad random:$c"
	done
	# Replays: the replay window (data), the tag (bit flipped), the TAI64N
	# timestamp (initiation; a flood of them may count as a flood instead).
	for c in replay bad_auth; do
		[ "$(drop_count "$c" "$rep")" -gt 0 ] || bad="$bad replay:$c"
	done
	[ $(($(drop_count stale_timestamp "$rep") + $(drop_count initiation_flood "$rep"))) -gt 0 ] ||
		bad="$bad replay:stale_timestamp"
	for kv in ${rnd//,/ }; do total=$((total + ${kv#*:})); done
	echo "random phase: $total drops counted for $ATK_SENT datagrams sent"
	[ -z "$bad" ] || { echo "no drops counted for:$bad (random: $rnd; replay: $rep)"; return 1; }
	# Every datagram is dropped once at most (some may never reach the
	# daemon: socket buffers overflow in a burst) and most are counted.
	[ "$total" -le "$ATK_SENT" ] || { echo "more drops ($total) than datagrams ($ATK_SENT)"; return 1; }
	[ $((total * 100)) -ge $((ATK_SENT * 80)) ] || { echo "only $total of $ATK_SENT datagrams counted as drops"; return 1; }
}

# The silent roam: the phone sends nothing but keepalives (every SILENT_K s);
# right after one went out its uplink changes; the server then pings it.
phone_tx_grew() { [ "$(lab_phone_tx)" -gt "$1" ]; }
sc_silent_roam() {
	local tx0 t0 r ms fast=no met=no
	lab_reset wifi || return 1
	lab_phone_keepalive "$SILENT_K" || return 1
	# The next packet the phone sends is a keepalive (the pending 2 s timer,
	# or a passive one); right after it the phone is silent for SILENT_K s.
	tx0=$(lab_phone_tx)
	wait_until $((SILENT_K + 5)) phone_tx_grew "$tx0" || { echo "no keepalive seen"; return 1; }
	t0=$(lab_now)
	lab_switch_uplink lte || return 1
	r=$(lab_reach "$LAB_SERVER" "$LAB_TUN_PH4" $((SILENT_K + 5)) "$t0")
	ms=$(to_ms "$r")
	[ "${LAB_PHONE_IMPL##*/}" = roamd ] && [ "${ROAM_EXPECT_FAST_ROAM:-1}" = 1 ] && fast=yes
	[ "$ms" != none ] && [ "$ms" -le "$FAST_TARGET_MS" ] && met=yes
	lab_figures silent_roam "keepalive_s=$SILENT_K reach_ms=$ms target_ms=$FAST_TARGET_MS met=$met" \
		"expect_fast=$fast endpoint_after=$(lab_server_endpoint)"
	lab_phone_keepalive "$K"
	[ "$r" != none ] || { echo "the server never reached the phone"; return 1; }
	check_roamed lte || return 1
	if [ "$fast" = yes ]; then
		[ "$ms" -le "$FAST_MAX_MS" ] ||
			{ echo "${ms} ms > ${FAST_MAX_MS} ms (a roamd phone reacts to the route change; target ${FAST_TARGET_MS} ms)"; return 1; }
	fi
	[ "$ms" -le $(((SILENT_K + 1) * 1000)) ] || { echo "${ms} ms: more than one keepalive interval"; return 1; }
}

# ROAM_LAB_LOGDIR=DIR keeps each pair's daemon logs there (e.g. with
# LOG_LEVEL=verbose, which both daemons read).
keep_logs() {
	[ -n "${ROAM_LAB_LOGDIR:-}" ] || return 0
	mkdir -p "$ROAM_LAB_LOGDIR" &&
		cp "$RT_TMP/$LAB_WG_PHONE.log" "$ROAM_LAB_LOGDIR/$tag-phone-$phone.log" &&
		cp "$RT_TMP/$LAB_WG_SERVER.log" "$ROAM_LAB_LOGDIR/$tag-server-$server.log"
}

# ROAM_LAB_SCENARIOS="active_roam attack ..." runs only those (default: all).
# A failed case shows its whole output and the lab's state, indented.
run_sc() {
	case " ${ROAM_LAB_SCENARIOS:-$1} " in *" $1 "*) ;; *) return 0 ;; esac
	t_check "$2" "sc_$1" && return 0
	{
		tail -n 30 "$RT_TMP/check.out"
		lab_diag
	} 2>&1 | sed 's/^/    | /' >&"$RT_OUT"
	return 1
}

# --- the matrix ----------------------------------------------------------------
# pair_up TAG PHONE SERVER — the lab, both daemons, the tunnel.
pair_up() {
	lab_up "$1" && lab_start_tunnel "$(impl_path "$2")" "$(impl_path "$3")" "$K"
}

finish_pair() {
	lab_daemons_alive || t_fail "$P daemons still running at the end" "$(tail -n 5 "$RT_TMP/$LAB_WG_PHONE.log" "$RT_TMP/$LAB_WG_SERVER.log" 2>&1 | tr '\n' ' ')"
	echo "  $P took $((SECONDS - start_s)) s" >&"$RT_OUT"
	keep_logs
	lab_down
}

tags=(a b c d e f g h)
i=0
SILENT_DONE=" "
for pair in $PAIRS; do
	[ "$i" -lt ${#tags[@]} ] || { t_fail "pairs" "more than ${#tags[@]} pairs: $PAIRS"; break; }
	phone=${pair%%/*} server=${pair#*/}
	P="[$phone/$server]"
	tag=${tags[$i]}
	i=$((i + 1))
	start_s=$SECONDS
	if ! t_check "$P lab and tunnel up (phone on Wi-Fi behind NAT)" \
		pair_up "$tag" "$phone" "$server"; then
		tail -n 20 "$RT_TMP/$LAB_WG_PHONE.log" "$RT_TMP/$LAB_WG_SERVER.log" 2>/dev/null | sed 's/^/    /' >&2
		keep_logs
		lab_down
		continue
	fi
	run_sc active_roam "$P active roam Wi-Fi -> LTE, phone streaming"
	run_sc both_up "$P both links up: default route Wi-Fi -> LTE, phone streaming"
	run_sc both_up_back "$P both links up: default route LTE -> Wi-Fi, phone streaming"
	run_sc both_up6 "$P both links up, IPv6 outer: Wi-Fi -> LTE, phone streaming"
	run_sc both_up6_back "$P both links up, IPv6 outer: LTE -> Wi-Fi, phone streaming"
	if [ "$phone" = roamd-no-netwatch ]; then
		# Only what a phone without netwatch is measured on; its silent
		# roam waits for a keepalive, as wireguard-go's does.
		run_sc roam_back "$P roam back LTE -> Wi-Fi, phone streaming"
		finish_pair
		continue
	fi
	run_sc server_after_roam "$P server reaches the phone within one keepalive after an idle roam"
	run_sc roam_back "$P roam back LTE -> Wi-Fi, phone streaming"
	run_sc server_sending "$P roam while the server is the one sending"
	run_sc rekey_roam "$P roam in the middle of a (re)handshake"
	run_sc v4_to_v6 "$P roam from an IPv4 to an IPv6-only uplink"
	run_sc nat_idle_pk0 "$P NAT idle expiry, keepalive 0: idle phone unreachable (expected)"
	run_sc nat_idle_pk2 "$P NAT idle expiry, keepalive $K: phone stays reachable"
	run_sc attack "$P attacks leave the endpoint, the tunnel and the daemons alone"
	if [ "$server" = roamd ]; then
		run_sc attack_drops "$P attack datagrams counted by cause (roamd UAPI get=2 roam_drop)"
	fi
	case $SILENT_DONE in
	*" $phone "*) ;;
	*)
		SILENT_DONE="$SILENT_DONE$phone "
		run_sc silent_roam "$P silent roam: server reaches a keepalive-only phone"
		;;
	esac
	finish_pair
done

# Each active roam's longest gap (ms) for every pair, side by side.
for sc in active_roam roam_back both_up both_up_back both_up6 both_up6_back; do
	line=""
	for pair in $PAIRS; do
		[ -n "${GAPS["$sc $pair"]:-}" ] && line="$line $pair=${GAPS["$sc $pair"]}"
	done
	[ -n "$line" ] && echo "  figures: longest_gap_ms scenario=$sc$line" >&"$RT_OUT"
done

rt_cleanup
t_check "cleanup leaves no namespace or socket" rt_nothing_left
t_finish
