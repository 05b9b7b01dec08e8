#!/usr/bin/env bash
# Both address families, and a record of 100 addresses, in the NAT lab of
# lab_nat.sh with a real DNS server: dnsmasq in the server's namespace (at
# DNS_ADDR) publishes NAME with an A record (the server's IPv4 address) and
# an AAAA record (its IPv6 address). The phone is dual-stack on Wi-Fi; its
# peer is given only the name (roam_endpoint_name), so roamd resolves both
# and its candidates are one address of each family.
#
# Cases, each printing its figures:
#   v6_dead   the phone's IPv6 path to the server is black-holed (nft drop
#             on the Wi-Fi router): the first handshake completes over IPv4
#             within RACE_MAX_S of the first attempt (the phone's verbose
#             log: its first initiation sent, then the session; the same initiation
#             goes to the other family 250 ms after the first, RFC 8305 in
#             spirit), and the endpoint is the IPv4 address.
#   v4_dead   the reverse: IPv4 black-holed, IPv6 working: over IPv6.
#   many      a second name with 100 A records (dnsmasq answers them all,
#             over TCP): roamd keeps NAMES_MAX_ADDRS = 8 of them, logs
#             "8 of 100 addresses kept", get=2 lists 8, and a 50 Hz ping
#             through the tunnel never stops meanwhile (c-ares sorting
#             100 addresses once made glibc call sysinfo, which the
#             seccomp filter killed roamd for).
# In v6_dead and v4_dead roam events shows the phone's exact sequence:
# the answer of the working family moves the endpoint, then the session.
# About 40 s.
# shellcheck disable=SC2317 # case functions are called through t_check
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lab_nat.sh
. "$(dirname "$0")/lab_nat.sh"

ROAMD=$(cd "$(dirname "$0")/../.." && pwd)/build/roamd
NAME=dual.roam.test
MANY=many.roam.test
DNS_ADDR=198.19.0.4
TTL=60
RACE_MAX_S=1
EV_FIRST="endpoint_changed handshake_completed"

dns_start() {
	{
		echo "$LAB_SRV4 $NAME"
		echo "$LAB_SRV6 $NAME"
		for i in $(seq 1 100); do echo "198.51.100.$i $MANY"; done
	} >"$RT_TMP/dns.hosts"
	lab_dns_start "$DNS_ADDR" "$TTL"
}

setup() {
	lab_up f || return 1
	# Dual-stack Wi-Fi: the IPv6 address and route beside the IPv4 ones.
	ip -n "$LAB_PHONE" addr add "$LAB_PH_WIFI6/64" dev "$LAB_PH_WIFI_DEV" nodad &&
		ip -n "$LAB_PHONE" -6 route add default via "$LAB_WIFI_LAN6" || return 1
	dns_start || return 1
	# Verbose logs: each initiation sent is a line, the first attempt's
	# time.
	LOG_LEVEL=verbose lab_start_tunnel "$ROAMD" "$ROAMD" 0 || return 1
	# Neighbour discovery on the new link may take a moment under load:
	# polled, not one ping (a single one failed in a fresh-clone run).
	wait_until 10 nsx "$LAB_PHONE" ping -6 -n -q -c 1 -W 1 "$LAB_SRV6" >/dev/null ||
		{ echo "no IPv6 path to the server"; return 1; }
}

# black_hole 4|6 — the Wi-Fi router drops WireGuard to the server over
# that family (DNS and everything else pass); lift_black_hole.
black_hole() {
	local match
	if [ "$1" = 4 ]; then match="ip daddr $LAB_SRV4"; else match="ip6 daddr $LAB_SRV6"; fi
	nsx "$LAB_WIFI" nft -f - <<EOT
table inet fam {
	chain forward {
		type filter hook forward priority -10; policy accept;
		$match udp dport $LAB_PORT drop
	}
}
EOT
}
lift_black_hole() { nsx "$LAB_WIFI" nft delete table inet fam 2>/dev/null; true; }

candidates() { lab_uapi_get2 "$LAB_WG_PHONE" | sed -n 's/^roam_endpoint_candidate=//p' | paste -sd' '; }
both_candidates() { [ "$(candidates | wc -w)" -eq 2 ]; }
phone_endpoint() { wg_show "$LAB_PHONE" "$LAB_WG_PHONE" endpoints | awk '{ print $2 }'; }
phone_log() { cat "$RT_TMP/$LAB_WG_PHONE.log" 2>/dev/null; }

# fresh_peer — the phone's peer again, with no session and only the name.
fresh_peer() {
	local key
	key=$(key_pub "${LAB_TAG}s")
	wg_set "$LAB_PHONE" "$LAB_WG_PHONE" peer "$key" remove &&
		wg_set "$LAB_PHONE" "$LAB_WG_PHONE" peer "$key" allowed-ips "$LAB_TUN_SRV4/32,$LAB_TUN_SRV6/128" &&
		lab_uapi_set "$LAB_WG_PHONE" "public_key=$(lab_key_hex "${LAB_TAG}s")" "roam_replace_endpoint_names=true" \
			"roam_endpoint_name=$NAME:$LAB_PORT" || return 1
	wait_until 5 both_candidates || { echo "candidates: $(candidates)"; phone_log | tail -n 3; return 1; }
}

# race DEAD_FAMILY WANT_ENDPOINT — with DEAD_FAMILY black-holed, a fresh
# peer's first handshake: how long from the first ping (which starts it)
# to the first reply, and over which family.
race() {
	local dead=$1 want=$2 t0 took ev=$RT_TMP/events.$1 first
	fresh_peer || return 1
	black_hole "$dead" || return 1
	events_follow "$LAB_WG_PHONE" "$ev"
	local lines
	lines=$(phone_log | wc -l)
	t0=$(lab_now)
	took=$(lab_reach "$LAB_PHONE" "$LAB_TUN_SRV4" 6 "$t0")
	lift_black_hole
	first=$(candidates | awk '{ print $1 }')
	phone_log | tail -n +$((lines + 1)) | grep -E "other family|handshake|endpoint" | head -n 4
	events_expect "$ev" "$EV_FIRST"
	local ev_ok=$?
	events_stop || { echo "roam events did not end cleanly: $(cat "$ev.err")"; return 1; }
	# The handshake's own time, from its event (the first ping starts
	# it; a ping's reply adds the ping tool's own start-up and retry).
	local at hs
	at=$(sed -n 's/.*"time":"\([^"]*\)","monotonic_ms":[0-9]*,"interface":"[^"]*","type":"handshake_completed".*/\1/p' "$ev" | head -n 1)
	hs=none
	[ -n "$at" ] && hs=$(awk -v a="$(date -d "$at" +%s.%N)" -v t="$t0" 'BEGIN { printf "%.3f", a - t }')
	# From the first initiation sent to the session, by the phone's log.
	local sent done attempt=none
	sent=$(phone_log | tail -n +$((lines + 1)) | grep -m1 'handshake_initiation_sent' | awk '{ print $1 " " $2 }')
	done=$(phone_log | tail -n +$((lines + 1)) | grep -m1 'handshake complete' | awk '{ print $1 " " $2 }')
	[ -n "$sent" ] && [ -n "$done" ] &&
		attempt=$(awk -v a="$(date -d "$sent" +%s.%N)" -v b="$(date -d "$done" +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
	lab_figures "v${dead}_dead" "candidates=\"$(candidates)\" tried_first=$first" \
		"handshake_after_first_attempt_s=$attempt bound_s=$RACE_MAX_S handshake_after_first_ping_s=$hs" \
		"first_reply_s=$took endpoint=$(phone_endpoint) raced=$(phone_log | tail -n +$((lines + 1)) | grep -c 'other family')"
	[ "$attempt" != none ] && awk -v r="$attempt" -v b="$RACE_MAX_S" 'BEGIN { exit !(r + 0 <= b) }' ||
		{ echo "no handshake within $RACE_MAX_S s of the first attempt ($attempt)"; return 1; }
	[ "$took" != none ] || { echo "no reply through the tunnel"; return 1; }
	[ "$(phone_endpoint)" = "$want" ] || { echo "endpoint $(phone_endpoint), not $want"; return 1; }
	[ "$ev_ok" -eq 0 ] && grep -qF "\"new_endpoint\":\"$want\"" "$ev"
}

sc_v6_dead() { race 6 "$LAB_SRV4:$LAB_PORT"; }
sc_v4_dead() { race 4 "[$LAB_SRV6]:$LAB_PORT"; }

sc_many() {
	local st line n t0
	lab_ping_start "$LAB_PHONE" "$LAB_TUN_SRV4" 10
	wait_until 5 lab_ping_has 10 || { echo "no ping"; lab_ping_stop; return 1; }
	t0=$(lab_now)
	lab_uapi_set "$LAB_WG_PHONE" "public_key=$(lab_key_hex "${LAB_TAG}s")" "roam_endpoint_name=$MANY:$LAB_PORT" ||
		{ lab_ping_stop; return 1; }
	wait_until 8 eval 'phone_log | grep -q "name $MANY: "'
	lab_ping_wait
	st=$(lab_ping_stats "$t0")
	line=$(lab_uapi_get2 "$LAB_WG_PHONE" | grep "^roam_name=$MANY:")
	n=$(($(wc -w <<<"$line") - 4))
	phone_log | grep "name $MANY: " | sed -E 's/-> ([^ ]+ ){3}.*\(/-> ... (/'
	lab_figures many "record_addresses=100 kept=$n ping_$st"
	phone_log | grep -q "name $MANY: .*8 of 100 addresses kept" &&
		[ "$n" -eq 8 ] && [ "$(lab_stat lost "$st")" -le 2 ] && [ "$(lab_stat longest_gap_ms "$st")" -lt 500 ]
}

if t_check "lab (dual-stack phone), dnsmasq with A and AAAA, tunnel up" setup; then
	t_check "IPv6 black-holed: the first handshake over IPv4 within $RACE_MAX_S s" sc_v6_dead
	t_check "IPv4 black-holed: the first handshake over IPv6 within $RACE_MAX_S s" sc_v4_dead
	t_check "a record of 100 addresses: 8 kept, logged, the tunnel never stops" sc_many
fi
lift_black_hole
lab_ping_stop
lab_down
rt_cleanup
t_check "cleanup leaves no namespace or socket" rt_nothing_left
t_finish
