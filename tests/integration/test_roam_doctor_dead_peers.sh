#!/usr/bin/env bash
# roam doctor on a hub whose clients mostly left: one live peer and eight
# that are gone (endpoints in 203.0.113.0/24 that never answer): three that
# never answered at all, five that completed a handshake a moment ago and
# then vanished (their sessions still look fresh, so doctor pings them).
# An outside tester's hub with many dead peers took over 10 s, about 3.5 s
# more per dead peer: doctor must watch and probe the peers in one shared
# window, so it finishes in under 10 s whatever their number, names every
# dead peer in a FAIL, and passes the live one.
#
#   live (roamd, 198.18.5.2) -- 192.0.2.0/24 -- hub (roamd, 198.18.5.1/24)
#                                                  |  198.51.100.0/24
#                                                 gone (forwarding off; the
#                                                 recent clients' roamds on
#                                                 203.0.113.21-25, then a
#                                                 drop for their ports)
#
# The hub routes 203.0.113.0/24 into the gone namespace, which neither
# forwards nor answers what is not for it: nothing reaches the real
# internet, and no ICMP error comes back (as with a client that left its
# network).
# shellcheck disable=SC2317 # case functions are called through t_check
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROAM=${ROAM_BIN:-$ROOT/build/roam}
ROAMD=$(dirname "$ROAM")/roamd
[ -x "$ROAM" ] && [ -x "$ROAMD" ] || t_abort "build/roam or build/roamd is missing (run make)"
PY=$(command -v /usr/bin/python3 || command -v python3) || t_abort "python3 is missing"
[ "$(id -u)" -eq 0 ] || t_abort "needs root (network namespaces)"

HUB=$(rt_name dch) LIVE=$(rt_name dcl) GONE=$(rt_name dcg)
WH=$(rt_name dcwh) WL=$(rt_name dcwl)
PORT=51820 NEVER=3 RECENT=5 DEAD=8
HUB_TUN=198.18.5.1 LIVE_TUN=198.18.5.2
RT_ROAM_TIMEOUT=60

lab_build() {
	ns_create "$HUB" "$LIVE" "$GONE" || return 1
	link_ns "$HUB" "$LIVE" 192.0.2.1/24 192.0.2.2/24 || return 1
	link_ns "$HUB" "$GONE" 198.51.100.1/24 198.51.100.2/24 || return 1
	nsx "$GONE" sysctl -qw net.ipv4.ip_forward=0 || return 1
	ip -n "$HUB" route add 203.0.113.0/24 via 198.51.100.2 || return 1
	wg_genkey dch && wg_genkey dcl || return 1
	wg_start "$ROAMD" "$HUB" "$WH" && wg_start "$ROAMD" "$LIVE" "$WL" || return 1
	wg_set "$HUB" "$WH" private-key "$(key_file dch)" listen-port "$PORT" \
		peer "$(key_pub dcl)" allowed-ips "$LIVE_TUN/32" || return 1
	local i
	for i in $(seq 1 "$NEVER"); do
		wg_genkey "dcd$i" || return 1
		# A keepalive, as a hub's dead clients often have one: the daemon
		# keeps trying, and gets nothing back.
		wg_set "$HUB" "$WH" peer "$(key_pub "dcd$i")" endpoint "203.0.113.$((10 + i)):$PORT" \
			allowed-ips "198.18.5.$((10 + i))/32" persistent-keepalive 25 || return 1
	done
	wg_ifup "$HUB" "$WH" "$HUB_TUN/24" "" || return 1
	wg_set "$LIVE" "$WL" private-key "$(key_file dcl)" listen-port "$PORT" \
		peer "$(key_pub dch)" endpoint "192.0.2.1:$PORT" allowed-ips "$HUB_TUN/32" persistent-keepalive 25 ||
		return 1
	wg_ifup "$LIVE" "$WL" "$LIVE_TUN/24" "" || return 1
	wait_until 15 ping_ok "$LIVE" "$HUB_TUN" || return 1
	for i in $(seq 1 "$RECENT"); do
		recent_client "$i" || return 1
	done
}

# recent_client I — a client at 203.0.113.(20+I):(51830+I) in the gone
# namespace, with a handshake with the hub.
recent_client() {
	local i=$1 w ep
	w=$(rt_name "dcr$1") ep="203.0.113.$((20 + i))"
	wg_genkey "dcr$i" && if_addr "$GONE" lo "$ep/32" || return 1
	wg_start "$ROAMD" "$GONE" "$w" || return 1
	wg_set "$GONE" "$w" private-key "$(key_file "dcr$i")" listen-port "$((51830 + i))" \
		peer "$(key_pub dch)" allowed-ips "$HUB_TUN/32" || return 1
	# A /32: the clients share the namespace, and need no route back to
	# the hub's tunnel address, only the handshake.
	wg_ifup "$GONE" "$w" "198.18.5.$((20 + i))/32" "" || return 1
	wg_set "$HUB" "$WH" peer "$(key_pub "dcr$i")" endpoint "$ep:$((51830 + i))" \
		allowed-ips "198.18.5.$((20 + i))/32" persistent-keepalive 25 || return 1
	# Something to send starts the hub's handshake.
	nsx "$HUB" ping -n -q -c 1 -W 1 "198.18.5.$((20 + i))" >/dev/null 2>&1
	wait_until 10 wg_has_handshake "$HUB" "$WH" "$(key_pub "dcr$i")" ||
		{ echo "no handshake with recent client $i"; wg_show "$HUB" "$WH"; return 1; }
}

# The recent clients leave: their datagrams vanish from now on.
clients_leave() {
	nsx "$GONE" nft -f - <<<"table inet dcgone { chain c { type filter hook input priority 0; policy accept; udp dport 51831-51839 drop; }; }"
}

# doctor on the hub: < 10 s, exit 1, a handshake FAIL for each dead peer
# and none other, a PASS handshake for the live one, no crash.
doctor_on_hub() {
	local t0 t1 ms rc
	t0=$(date +%s%N)
	rt_roam_stubbed "$HUB" doctor "$WH" --json >"$RT_TMP/hub.json" 2>"$RT_TMP/hub.err"
	rc=$?
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	echo "doctor on the hub: exit $rc in $ms ms" >&"$RT_OUT"
	mkdir -p "$ROOT/build/doctor-reports"
	"$PY" - "$RT_TMP/hub.json" "$(key_pub dcl)" "$DEAD" "$rc" "$ms" <<-'EOF' >"$ROOT/build/doctor-reports/dead-peers-hub.txt"
		import json, sys
		doc, live, dead, rc, ms = json.load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
		checks = [c for i in doc["interfaces"] for c in i["checks"]]
		for c in checks:
		    print(c["status"], c["check"], (c["peer"] or "")[:8], c["cause"] or "-", c["evidence"][:150])
		fails = [c for c in checks if c["status"] == "FAIL"]
		dead_named = {c["peer"] for c in fails if c["peer"] and c["peer"] != live and c["decision"]}
		live_ok = any(c["check"] == "handshake" and c["peer"] == live and c["status"] == "PASS" for c in checks)
		others = [c for c in fails if not c["peer"] or c["peer"] == live]
		ok = rc == 1 and ms < 10000 and len(dead_named) == dead and live_ok and not others
		print("dead peers named: %d of %d, live peer PASS: %s, other FAILs: %d" % (len(dead_named), dead, live_ok, len(others)))
		sys.exit(0 if ok else 1)
	EOF
	local ok=$?
	cat "$ROOT/build/doctor-reports/dead-peers-hub.txt"
	return "$ok"
}

t_check "hub with one live peer, $NEVER that never answered, $RECENT with a handshake" lab_build || t_finish
t_check "the $RECENT recent clients leave (their datagrams dropped silently)" clients_leave
t_check "doctor on the hub: < 10 s, names the $DEAD dead peers, the live one passes" doctor_on_hub
t_finish
