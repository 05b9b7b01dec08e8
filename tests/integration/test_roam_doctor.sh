#!/usr/bin/env bash
# roam doctor against the NAT lab (lab_nat.sh): a working phone-to-server
# setup, then broken one way at a time. For each break, doctor must name
# that cause and no other: the set of checks that say WARN or FAIL is
# exactly the expected one (the clock is left out: the namespaces share the
# host's clock, which a test cannot set), and the exit status says whether
# anything failed.
#
#   phone (roam up from a wg-quick file: 198.18.0.2/24, DNS 198.18.0.1,
#          peer AllowedIPs 198.18.0.0/24, fd00:2::/64, keepalive 25)
#     -- Wi-Fi NAT -- inet -- server (roamd, 198.18.0.1/24; the phone a /32;
#                                     forwarding on, masquerade, a DNS
#                                     responder on 198.18.0.1:53)
#
# Breaks: the server's firewall drops UDP 51820; the phone has no keepalive
# behind a NAT with a 5 s UDP timeout; inet drops packets over 1300 bytes
# (a path MTU black hole, which roamd's own probes then measure); forwarding off on the server; the phone's DNS
# outside its AllowedIPs; the phone has a wrong public key for the server.
# shellcheck disable=SC2317 # case functions are called through t_check
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lab_nat.sh
. "$(dirname "$0")/lab_nat.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROAM=${ROAM_BIN:-$ROOT/build/roam}
ROAMD=$(dirname "$ROAM")/roamd
[ -x "$ROAM" ] && [ -x "$ROAMD" ] || t_abort "build/roam or build/roamd is missing (run make)"
PY=$(command -v /usr/bin/python3 || command -v python3) || t_abort "python3 is missing"
STATE_DIR=/run/roam
SRV_TUN4=198.18.0.1 SRV_TUN6=fd00:2::1 PH_TUN4=198.18.0.2 PH_TUN6=fd00:2::2
DNS_PID=""

rt_remove_ledgers_on_exit "$STATE_DIR"

# roam NS ARGS... — build/roam inside NS, bounded, with a stand-in
# resolvconf (lib.sh).
RT_ROAM_TIMEOUT=120
roam() { rt_roam_stubbed "$@"; }

# phone_conf KEEPALIVE DNS [SERVER_PUBKEY] — the phone's wg-quick file.
phone_conf() {
	local f="$RT_TMP/$LAB_WG_PHONE.conf"
	{
		echo "[Interface]"
		echo "PrivateKey = $(cat "$(key_file "${LAB_TAG}p")")"
		echo "ListenPort = $LAB_PORT"
		echo "Address = $PH_TUN4/24, $PH_TUN6/64"
		echo "DNS = $2"
		echo "[Peer]"
		echo "PublicKey = ${3:-$(key_pub "${LAB_TAG}s")}"
		echo "Endpoint = $LAB_SRV4:$LAB_PORT"
		echo "AllowedIPs = 198.18.0.0/24, fd00:2::/64"
		[ "$1" -gt 0 ] && echo "PersistentKeepalive = $1"
	} >"$f"
	chmod 600 "$f"
	echo "$f"
}

# A DNS responder on the server's tunnel address (dns_responder.py): answers
# every query with its own question, NOERROR, on UDP and TCP 53.
dns_start() {
	nsx "$LAB_SERVER" "$PY" "$ROOT/tests/integration/dns_responder.py" "$SRV_TUN4" >"$RT_TMP/dns.log" 2>&1 &
	DNS_PID=$!
	RT_PIDS+=("$DNS_PID")
	disown "$DNS_PID" 2>/dev/null
	wait_until 5 dns_listening
}
dns_listening() { nsx "$LAB_SERVER" ss -lun | grep -qF "$SRV_TUN4:53"; }

# setup TAG KEEPALIVE DNS [SERVER_PUBKEY_FOR_THE_PHONE] [BEFORE_PHONE_CMD...]
# — a lab, the server (roamd, forwarding on, masquerade, DNS), a BEFORE
# command in the server's world (a break that must exist before the phone
# first sends), then the phone by roam up.
setup() {
	local tag=$1 keepalive=$2 dns=$3 pub=${4:-}
	shift 4
	lab_up "$tag" || return 1
	wg_genkey "${tag}p" && wg_genkey "${tag}s" || return 1
	wg_start "$ROAMD" "$LAB_SERVER" "$LAB_WG_SERVER" || return 1
	LAB_SERVER_PID=${RT_PIDS[-1]}
	wg_set "$LAB_SERVER" "$LAB_WG_SERVER" private-key "$(key_file "${tag}s")" listen-port "$LAB_PORT" \
		peer "$(key_pub "${tag}p")" allowed-ips "$PH_TUN4/32,$PH_TUN6/128" &&
		wg_ifup "$LAB_SERVER" "$LAB_WG_SERVER" "$SRV_TUN4/24,$SRV_TUN6/64" "" || return 1
	nsx "$LAB_SERVER" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 || return 1
	nsx "$LAB_SERVER" nft -f - <<-EOF || return 1
		table ip rtnat {
			chain postrouting {
				type nat hook postrouting priority 100; policy accept;
				oifname "$LAB_SRV_DEV" ip saddr 198.18.0.0/24 masquerade
			}
		}
	EOF
	dns_start || return 1
	if [ $# -gt 0 ]; then "$@" || return 1; fi
	roam "$LAB_PHONE" up "$(phone_conf "$keepalive" "$dns" "$pub")" >"$RT_TMP/up.log" 2>&1 || {
		cat "$RT_TMP/up.log"
		return 1
	}
	phone_resolver "$dns"
}

# The phone's resolver (lab_nat.sh, phone_resolver) goes on exit.
trap 'rc=$?; phone_resolver_remove; rt_remove_ledgers; (exit $rc); rt_on_exit' EXIT

teardown() {
	[ -n "$LAB_PHONE" ] && roam "$LAB_PHONE" down "$LAB_WG_PHONE" >/dev/null 2>&1
	phone_resolver_remove
	rm -f "$STATE_DIR/$LAB_WG_PHONE.state"
	lab_down
}

# doctor NS IF NAME [ARGS...] — roam doctor --json into $RT_TMP/NAME.json,
# its findings one per line into NAME.txt; prints the exit status. The
# text report of a second run is kept in build/doctor-reports/NAME.txt for
# people to read.
REPORTS=$ROOT/build/doctor-reports
mkdir -p "$REPORTS"
doctor() {
	local ns=$1 dev=$2 name=$3 rc
	shift 3
	roam "$ns" doctor "$dev" --json "$@" >"$RT_TMP/$name.json" 2>"$RT_TMP/$name.err"
	rc=$?
	roam "$ns" doctor "$dev" "$@" >"$REPORTS/$name.txt" 2>&1
	"$PY" - "$RT_TMP/$name.json" >"$RT_TMP/$name.txt" 2>&1 <<-'EOF'
		import json, sys
		for i in json.load(open(sys.argv[1]))["interfaces"]:
		    for c in i["checks"]:
		        print(c["status"], c["check"], c["peer"] or c["subject"] or "", c["evidence"], "->", c["decision"])
	EOF
	echo "$rc"
}

# findings NAME — the WARN/FAIL checks of a report as "check:STATUS"
# (sorted, unique, clock left out), one line, comma-separated.
findings() {
	"$PY" - "$RT_TMP/$1.json" <<-'EOF'
		import json, sys
		doc = json.load(open(sys.argv[1]))
		seen = sorted({"%s:%s" % (c["check"], c["status"]) for i in doc["interfaces"] for c in i["checks"]
		               if c["status"] in ("WARN", "FAIL") and c["check"] != "clock"})
		print(",".join(seen) or "none")
	EOF
}

# figure NAME CHECK FIGURE — a figure of the (first) finding of CHECK.
figure() {
	"$PY" - "$RT_TMP/$1.json" "$2" "$3" <<-'EOF'
		import json, sys
		doc = json.load(open(sys.argv[1]))
		for i in doc["interfaces"]:
		    for c in i["checks"]:
		        if c["check"] == sys.argv[2] and sys.argv[3] in c["figures"]:
		            print("%g" % c["figures"][sys.argv[3]]); sys.exit(0)
		print("none")
	EOF
}

# expect NAME WANT_FINDINGS WANT_EXIT RC — the report names exactly those.
expect() {
	local got
	got=$(findings "$1")
	echo "doctor $1: exit $4, findings: $got"
	if [ "$got" != "$2" ] || [ "$4" != "$3" ]; then
		echo "wanted exit $3, findings: $2; the report:"
		cat "$RT_TMP/$1.txt" "$RT_TMP/$1.err"
		return 1
	fi
}

# evidence_has NAME CHECK TEXT — some finding of CHECK mentions TEXT.
evidence_has() {
	grep -E "^[A-Z]+ $2 " "$RT_TMP/$1.txt" | grep -qF -- "$3" && return 0
	echo "no $2 finding of $1 mentions '$3':"
	cat "$RT_TMP/$1.txt"
	return 1
}

phone_pings_server() { nsx "$LAB_PHONE" ping -n -c 1 -W 1 -q "$SRV_TUN4" >/dev/null 2>&1; }
server_pings_phone() { nsx "$LAB_SERVER" ping -n -c 1 -W 1 -q "$PH_TUN4" >/dev/null 2>&1; }

# ---------------------------------------------------------------------------

sc_healthy() {
	setup a 25 "$SRV_TUN4" "" || return 1
	wait_until 10 phone_pings_server || { echo "no tunnel"; return 1; }
	local rc
	rc=$(doctor "$LAB_PHONE" "$LAB_WG_PHONE" healthy-phone)
	expect healthy-phone none 0 "$rc" || return 1
	evidence_has healthy-phone mtu "1420-byte packets" &&
		evidence_has healthy-phone dns "answered" || return 1
	rc=$(doctor "$LAB_SERVER" "$LAB_WG_SERVER" healthy-server)
	expect healthy-server none 0 "$rc" &&
		evidence_has healthy-server forwarding "masquerade" &&
		evidence_has healthy-server endpoint "$LAB_WIFI_PUB4"
}

# nft_drop NS TABLE HOOK RULE — a table of its own with one filter chain at
# HOOK whose only rule is RULE (a break, gone with the namespace).
nft_drop() {
	nsx "$1" nft -f - <<-EOF
		table inet $2 {
			chain $3 {
				type filter hook $3 priority 0; policy accept;
				$4
			}
		}
	EOF
}

fw_drop() { nft_drop "$LAB_SERVER" rtfw input "udp dport $LAB_PORT drop"; }
sc_firewall() {
	setup b 25 "$SRV_TUN4" "" fw_drop || return 1
	local rc
	rc=$(doctor "$LAB_SERVER" "$LAB_WG_SERVER" firewall)
	expect firewall "udp:FAIL" 1 "$rc" &&
		evidence_has firewall udp "received none" &&
		evidence_has firewall udp "$LAB_WIFI_PUB4"
}

sc_nat_expiry() {
	setup c 0 "$SRV_TUN4" "" lab_set_nat_timeout wifi 5 || return 1
	wait_until 10 phone_pings_server || { echo "no tunnel"; return 1; }
	# What the break does (as in test_roam_lab.sh): the server pings the
	# phone once, so the phone's answer is the last it sends; once the NAT
	# forgets the idle phone, the server cannot reach it.
	wait_until 3 server_pings_phone || { echo "the server cannot reach the phone at all"; return 1; }
	wait_until 10 lab_nat_expiring wifi || { echo "the NAT kept the mapping"; return 1; }
	wait_until 1.2 lab_nat_gone wifi
	if [ "$(lab_reach "$LAB_SERVER" "$PH_TUN4" 3)" != none ]; then
		echo "the server still reached the phone after the NAT expired"
		return 1
	fi
	echo "the server cannot reach the idle phone once its NAT mapping expired (as expected)"
	local rc
	rc=$(doctor "$LAB_PHONE" "$LAB_WG_PHONE" nat-expiry)
	expect nat-expiry "keepalive:WARN" 0 "$rc" &&
		evidence_has nat-expiry keepalive "PersistentKeepalive is off"
}

mtu_hole() { nft_drop "$LAB_INET" rtmtu forward "meta length > 1300 drop"; }
sc_mtu() {
	setup d 25 "$SRV_TUN4" "" mtu_hole || return 1
	wait_until 10 phone_pings_server || { echo "no tunnel"; return 1; }
	local rc largest
	rc=$(doctor "$LAB_PHONE" "$LAB_WG_PHONE" mtu)
	# doctor's lost large pings make roamd search the path itself; doctor
	# reads roamd's path MTU again before its verdict, so it is the one a
	# second run would give: roamd fits packets to what passes, a WARN.
	expect mtu "mtu:WARN" 0 "$rc" && evidence_has mtu mtu "roamd fits packets to this peer's path" || return 1
	# At most 1300 bytes outer = 20 IP + 8 UDP + 16 header + 16 tag + the
	# inner packet padded to a multiple of 16: 1232 passes (1292 outer),
	# 1233 is padded to 1248 (1308 outer) and lost.
	largest=$(figure mtu mtu largest_packet)
	echo "largest packet through: $largest (interface MTU $(figure mtu mtu interface_mtu))"
	[ "$largest" = 1232 ]
}

sc_forwarding() {
	setup e 25 "$SRV_TUN4" "" || return 1
	wait_until 10 phone_pings_server || { echo "no tunnel"; return 1; }
	nsx "$LAB_SERVER" sysctl -qw net.ipv4.ip_forward=0 || return 1
	local rc
	rc=$(doctor "$LAB_SERVER" "$LAB_WG_SERVER" forwarding)
	expect forwarding "forwarding:FAIL" 1 "$rc" &&
		evidence_has forwarding forwarding "net.ipv4.ip_forward = 0"
}

sc_dns() {
	setup f 25 203.0.113.53 "" || return 1
	wait_until 10 phone_pings_server || { echo "no tunnel"; return 1; }
	local rc
	rc=$(doctor "$LAB_PHONE" "$LAB_WG_PHONE" dns)
	expect dns "dns:FAIL" 1 "$rc" &&
		evidence_has dns dns "outside every peer's AllowedIPs"
}

sc_wrong_key() {
	wg_genkey gwrong || return 1
	setup g 25 "$SRV_TUN4" "$(key_pub gwrong)" || return 1
	local rc
	rc=$(doctor "$LAB_SERVER" "$LAB_WG_SERVER" wrong-key)
	expect wrong-key "handshake:FAIL" 1 "$rc" &&
		evidence_has wrong-key handshake "bad mac1"
}

sc_bad_input() {
	local out rc
	out=$("$ROAM" doctor --wait x 2>&1)
	rc=$?
	echo "--wait x: exit $rc: $out"
	[ "$rc" = 2 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || return 1
	out=$("$ROAM" doctor --config /nonexistent/roam.conf 2>&1)
	rc=$?
	echo "--config missing: exit $rc: $out"
	[ "$rc" = 1 ] && [[ $out == *"/nonexistent/roam.conf"* ]] || return 1
	out=$("$ROAM" doctor "$(rt_name nosuch)" 2>&1)
	rc=$?
	echo "no such interface: exit $rc"
	[ "$rc" = 1 ] && [[ $out == *"FAIL  daemon"* ]] || return 1
	out=$("$ROAM" doctor --probe 198.18.0.0/24 2>&1)
	rc=$?
	echo "--probe prefix: exit $rc: $out"
	[ "$rc" = 2 ]
}

# ---------------------------------------------------------------------------

[ "$(id -u)" -eq 0 ] || t_abort "needs root (network namespaces)"

run() {
	t_check "$2" "sc_$1"
	teardown
}
run healthy "doctor: a working setup passes everything, on the phone and on the server"
run firewall "doctor: server firewall drops UDP -> udp FAIL, nothing else"
run nat_expiry "doctor: no keepalive behind an expiring NAT -> keepalive WARN, nothing else"
run mtu "doctor: path drops packets over 1300 bytes -> mtu WARN (roamd fits), largest packet 1232"
run forwarding "doctor: forwarding off on the server -> forwarding FAIL, nothing else"
run dns "doctor: DNS server outside AllowedIPs -> dns FAIL, nothing else"
run wrong_key "doctor: the phone has a wrong key for the server -> handshake FAIL, nothing else"
t_check "doctor: bad arguments give one-line errors and exit 1 or 2" sc_bad_input
t_check "cleanup leaves no namespace or socket" rt_nothing_left
t_finish
