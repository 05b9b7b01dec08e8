#!/usr/bin/env bash
# roam up / down / show / metrics against real namespaces, each interface
# brought up from a wg-quick file by `roam up` alone.
#
#   ns A  192.0.2.1/24, fd00:1::1/64  ==veth==  192.0.2.2/24, fd00:1::2/64, 203.0.113.2/32  ns B
#         default via 192.0.2.2                 198.19.0.1/32 on lo (only reachable through a full tunnel)
#   tunnel 198.18.0.1/24, fd00:2::1/64  <===>   198.18.0.2/24, fd00:2::2/64
#
# "Leaves no trace" compares a snapshot of A (links, addresses, routes of every
# table, rules of both families, src_valid_mark) taken before `roam up` with one
# taken after `roam down`.
# shellcheck disable=SC2317 # case functions are called through t_check
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROAM=${ROAM_BIN:-$ROOT/build/roam}
[ -x "$ROAM" ] || t_abort "build/roam is missing (run make)"
[ -x "$(dirname "$ROAM")/roamd" ] || t_abort "build/roamd is missing (run make)"
command -v promtool >/dev/null || t_abort "promtool is not installed (scripts/install-deps.sh: prometheus)"

A=$(rt_name a) B=$(rt_name b)
WA=$(rt_name wa) WB=$(rt_name wb) WF=$(rt_name wf) WT=$(rt_name wt)
WH=$(rt_name wh) WR=$(rt_name wr) WG=$(rt_name wg)
# A state directory of our own (roam creates it 0700): /run/roam is shared
# with every test running now, whose ledgers `roam reresolve` would read.
STATE_DIR=$RT_TMP/state
# A stand-in resolvconf that logs its calls, first on PATH for roam.
STUB_BIN=$RT_TMP/bin
DNS_LOG=$RT_TMP/resolvconf.log

# Beyond lib.sh's cleanup: our ledgers and the namespace hosts file. Runs
# first in the EXIT trap, then hands the exit status on to lib.sh's.
cli_cleanup() {
	local f
	for f in "$STATE_DIR/${RT_PFX}"[a-z]*.state; do [ -e "$f" ] && rm -f "$f"; done
	rm -rf "/etc/netns/$A"
	return 0
}
trap 'rc=$?; cli_cleanup; (exit $rc); rt_on_exit' EXIT
# Ledgers of earlier runs that were SIGKILLed (their PID is gone).
for f in "$STATE_DIR"/rt[0-9]*.state; do
	[[ $(basename "$f") =~ ^rt([0-9]+)[a-z] ]] || continue
	[ "${BASH_REMATCH[1]}" = "$$" ] || rt_pid_alive "${BASH_REMATCH[1]}" || rm -f "$f"
done

# roam NS ARGS... — roam inside NS, with the stub resolvconf on PATH.
roam() {
	local ns=$1
	shift
	nsx "$ns" env PATH="$STUB_BIN:$PATH" ROAM_STATE_DIR="$STATE_DIR" timeout 60 "$ROAM" "$@"
}

# conf IFNAME KEY ADDRESSES [LINES...] — write $RT_TMP/IFNAME.conf: an
# [Interface] with KEY's private key, port 51820 and ADDRESSES, then LINES.
conf() {
	local dev=$1 key=$2 addrs=$3 f="$RT_TMP/$1.conf"
	shift 3
	{
		echo "[Interface]"
		echo "PrivateKey = $(cat "$(key_file "$key")")"
		echo "ListenPort = 51820"
		echo "Address = $addrs"
		printf '%s\n' "$@"
	} >"$f"
	chmod 600 "$f"
	echo "$f"
}

# snapshot NS — what `roam down` must restore.
snapshot() {
	echo "== links"
	ip -n "$1" -o link show | awk -F': ' '{print $2}'
	echo "== addresses"
	ip -n "$1" -o address show
	echo "== routes"
	ip -n "$1" -4 route show table all
	ip -n "$1" -6 route show table all
	echo "== rules"
	ip -n "$1" -4 rule show
	ip -n "$1" -6 rule show
	echo "== sysctl"
	nsx "$1" sysctl -n net.ipv4.conf.all.src_valid_mark
}
no_tentative() { ! ip -n "$1" address show | grep -q tentative; }
same_as_before() {
	snapshot "$A" >"$RT_TMP/after"
	diff -u "$RT_TMP/before" "$RT_TMP/after"
}

# Nothing of IFNAME left anywhere: ledger, socket, daemon.
no_leftovers() {
	local dev=$1
	[ ! -e "$STATE_DIR/$dev.state" ] || { echo "ledger left: $STATE_DIR/$dev.state"; return 1; }
	[ ! -e "$RT_WG_RUN/$dev.sock" ] || { echo "socket left: $RT_WG_RUN/$dev.sock"; return 1; }
	! pgrep -f "roamd $dev\$" >/dev/null || { echo "roamd $dev still runs"; return 1; }
}

# one_line_error CMD... — CMD fails with exactly one line, "roam CMD: ...", on
# stderr and nothing on stdout.
one_line_error() {
	local rc lines
	"$@" >"$RT_TMP/out" 2>"$RT_TMP/err"
	rc=$?
	lines=$(wc -l <"$RT_TMP/err")
	cat "$RT_TMP/err"
	[ "$rc" -ne 0 ] && [ "$lines" -eq 1 ] && [ ! -s "$RT_TMP/out" ] && grep -q '^roam [a-z]*: ' "$RT_TMP/err"
}
roamd_pid() { awk '$1 == "roamd" {print $2}' "$STATE_DIR/$1.state"; }
link_gone() { ! ip -n "$1" link show "$2" >/dev/null 2>&1; }

setup() {
	ns_create "$A" "$B" &&
		link_ns "$A" "$B" 192.0.2.1/24,fd00:1::1/64 192.0.2.2/24,fd00:1::2/64 &&
		if_addr "$B" "$(link_name 1 b)" 203.0.113.2/32 &&
		if_addr "$B" lo 198.19.0.1/32 &&
		ip -n "$A" route add default via 192.0.2.2 &&
		nsx "$B" sysctl -qw net.ipv4.ip_forward=1 &&
		wg_genkey a && wg_genkey b && wg_psk ab &&
		mkdir -p "$STUB_BIN" &&
		printf '#!/bin/sh\necho "resolvconf $*" >>"%s"\n[ "$1" = -a ] && cat >>"%s"\nexit 0\n' \
			"$DNS_LOG" "$DNS_LOG" >"$STUB_BIN/resolvconf" &&
		chmod +x "$STUB_BIN/resolvconf" &&
		wait_until 10 no_tentative "$A" && wait_until 10 no_tentative "$B" &&
		snapshot "$A" >"$RT_TMP/before"
}
t_check "lab comes up" setup || t_finish

# B: no endpoint for A that works (192.0.2.11 is nobody, nor is its second
# address 192.0.2.12), so the first handshake from A moves it: an endpoint
# change in B's history, and an endpoint learnt from A, not one of B's two.
CONF_B=$(conf "$WB" b 198.18.0.2/24,fd00:2::2/64 "" "[Peer]" \
	"PublicKey = $(key_pub a)" "PresharedKey = $(cat "$(psk_file ab)")" \
	"Endpoint = 192.0.2.11:51820" "#roam: Endpoint = 192.0.2.12:51820" \
	"AllowedIPs = 198.18.0.1/32, fd00:2::1/128")
CONF_A=$(conf "$WA" a 198.18.0.1/24,fd00:2::1/64 \
	"PreUp = echo pre-up %i >>$RT_TMP/hooks.log" \
	"PostUp = [[ %i == %i ]] && echo post-up %i >>$RT_TMP/hooks.log" \
	"PreDown = echo pre-down %i >>$RT_TMP/hooks.log" \
	"PostDown = echo post-down %i >>$RT_TMP/hooks.log" \
	"" "[Peer]" "PublicKey = $(key_pub b)" "PresharedKey = $(cat "$(psk_file ab)")" \
	"Endpoint = 192.0.2.2:51820" "PersistentKeepalive = 25" \
	"AllowedIPs = 198.18.0.2/32, fd00:2::2/128, 198.51.100.0/24")

# --- up: interface, addresses, MTU, routes, ledger ---------------------------
# First A's kernel learns a path MTU of 552 to the endpoint from an ICMP
# "fragmentation needed" (B forges one quoting a datagram of a UDP socket
# on A, so A's kernel takes it). roam up must not size the interface by
# such a cached value: it expires in minutes, may be forged, and below 1280
# the interface would lose IPv6 (wg-quick does take it).
learnt_pmtu_cached() {
	nsx "$A" "$RT_PY" -c 'import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("192.0.2.1", 40404)); time.sleep(8)' &
	local holder=$!
	wait_until 3 eval "nsx \"$A\" ss -uln | grep -q 192.0.2.1:40404" || { kill "$holder"; return 1; }
	nsx "$B" "$RT_PY" - <<-'PY'
		import socket, struct
		def csum(b):
		    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
		    while s >> 16: s = (s & 0xffff) + (s >> 16)
		    return ~s & 0xffff
		inner = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 1400, 1, 0x4000, 64, 17, 0,
		                    socket.inet_aton("192.0.2.1"), socket.inet_aton("192.0.2.2"))
		inner = inner[:10] + struct.pack("!H", csum(inner)) + inner[12:]
		udp = struct.pack("!HHHH", 40404, 51820, 1380, 0)
		icmp = struct.pack("!BBHHH", 3, 4, 0, 0, 552) + inner + udp
		icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
		s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
		for _ in range(3):
		    s.sendto(icmp, ("192.0.2.1", 0))
	PY
	wait_until 3 eval "ip -n \"$A\" route get 192.0.2.2 | grep -q 'mtu 552'"
	local ok=$?
	kill "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null
	[ "$ok" = 0 ] || { ip -n "$A" route get 192.0.2.2; return 1; }
}
t_check "A's kernel has learnt a path MTU of 552 to B (a cached ICMP value)" learnt_pmtu_cached

up_split() {
	roam "$A" up "$CONF_A" || return 1
	ip -n "$A" -o address show dev "$WA" | grep -q 'inet 198.18.0.1/24' &&
		ip -n "$A" -o address show dev "$WA" | grep -q 'inet6 fd00:2::1/64' &&
		ip -n "$A" link show "$WA" | grep -q 'mtu 1420 .*state UNKNOWN' &&
		ip -n "$A" link show "$WA" | grep -q ',UP' &&
		ip -n "$A" -4 route show dev "$WA" | grep -q '^198.51.100.0/24' &&
		! ip -n "$A" -4 route show dev "$WA" | grep -q '^198.18.0.2' || {
		ip -n "$A" address show dev "$WA"; ip -n "$A" route show dev "$WA"; return 1; }
	# wg sees what the file says (the PSK too).
	wg_show "$A" "$WA" allowed-ips | grep -q "198.51.100.0/24" &&
		wg_show "$A" "$WA" preshared-keys | grep -qF "$(cat "$(psk_file ab)")" &&
		wg_show "$A" "$WA" persistent-keepalive | grep -q 25
}
t_check "roam up (split tunnel): addresses, MTU 1500-80 (not the cached 552), link up, routes not already on-link" up_split
ip -n "$A" route flush cache

ledger_private() {
	[ "$(stat -c %a "$STATE_DIR/$WA.state")" = 600 ] &&
		grep -q "^roamd $(pgrep -f "roamd $WA\$") " "$STATE_DIR/$WA.state" &&
		grep -q '^route 254 198.51.100.0/24$' "$STATE_DIR/$WA.state" || {
		ls -l "$STATE_DIR/$WA.state"; cat "$STATE_DIR/$WA.state"; return 1; }
}
t_check "ledger mode 0600 names roamd's pid and the route" ledger_private

t_check "roam up B" roam "$B" up "$CONF_B"

tunnel_ping() {
	wait_until 20 nsx "$A" ping -c 1 -W 1 -q 198.18.0.2 &&
		ping_ok "$A" 198.18.0.2 && ping_ok "$A" fd00:2::2 && ping_ok "$B" 198.18.0.1
}
t_check "traffic flows between two 'roam up' interfaces (v4, v6)" tunnel_ping

# "#roam: Endpoint" reached roamd as candidates; wg-quick accepts the file
# and hands the line to wg setconf as the comment it is to wg's parser.
extra_endpoints() {
	local out
	out=$(roam "$B" show "$WB") || return 1
	grep -qxF "  endpoint candidates: 192.0.2.11:51820, 192.0.2.12:51820" <<<"$out" || { echo "$out"; return 1; }
	wg-quick strip "$CONF_B" >"$RT_TMP/stripped" 2>&1 || { cat "$RT_TMP/stripped"; return 1; }
	grep -qx '#roam: Endpoint = 192.0.2.12:51820' "$RT_TMP/stripped" &&
		grep -qx 'Endpoint = 192.0.2.11:51820' "$RT_TMP/stripped" || { cat "$RT_TMP/stripped"; return 1; }
}
t_check "#roam: Endpoint lines reach roamd as candidates; wg-quick strip keeps them as comments" extra_endpoints

# roam events: JSON lines (the handshake between A and B among them), for
# one interface or all; a reader that goes away (head) ends it at once
# with status 0; the daemon's going away ends a follower with status 1
# (at "roam down B", below).
events_cli() {
	local out all rc
	out=$(roam "$A" events "$WA" --no-follow) || return 1
	echo "$out" | head -n 2
	grep -q '"type":"handshake_completed"' <<<"$out" &&
		"$RT_PY" -c '
import json, sys
evs = [json.loads(l) for l in sys.stdin]
assert evs and all(e["interface"] == sys.argv[1] and e["seq"] > 0 and "time" in e for e in evs), evs
assert [e["seq"] for e in evs] == sorted(e["seq"] for e in evs)' "$WA" <<<"$out" || return 1
	all=$(roam "$A" events --no-follow 2>/dev/null)
	grep -q "\"interface\":\"$WA\"" <<<"$all" && grep -q "\"interface\":\"$WB\"" <<<"$all" ||
		{ echo "without IFNAME: $(head -c 300 <<<"$all")"; return 1; }
	# Following, into a pipe whose reader leaves after one line.
	timeout 10 bash -c "'$ROAM' events '$WA' | head -n 1 >/dev/null; exit \${PIPESTATUS[0]}"
	rc=$?
	echo "roam events | head -n 1: status $rc"
	[ "$rc" -eq 0 ] || return 1
	out=$(roam "$A" events "$WA" --after x 2>&1)
	[ $? -eq 2 ] && grep -q "sequence number" <<<"$out"
}
t_check "roam events: JSON lines, one interface or all, ends with its reader" events_cli

hooks_ran() {
	grep -qx "pre-up $WA" "$RT_TMP/hooks.log" && grep -qx "post-up $WA" "$RT_TMP/hooks.log" &&
		[ "$(grep -c . "$RT_TMP/hooks.log")" -eq 2 ] || { cat "$RT_TMP/hooks.log"; return 1; }
}
t_check "PreUp and PostUp hooks ran in bash (as wg-quick runs them: [[ ]] works), %i replaced" hooks_ran

# --- show -----------------------------------------------------------------------
show_text() {
	local a b
	a=$(roam "$A" show "$WA") && b=$(roam "$B" show "$WB") || return 1
	printf '%s\n\n%s\n' "$a" "$b"
	grep -qxF "interface: $WA" <<<"$a" &&
		grep -qxF "  public key: $(key_pub a)" <<<"$a" &&
		grep -qxF "  listening port: 51820" <<<"$a" &&
		grep -qxF "peer: $(key_pub b)" <<<"$a" &&
		grep -qxF "  preshared key: (hidden)" <<<"$a" &&
		grep -qxF "  endpoint: 192.0.2.2:51820" <<<"$a" &&
		grep -qxF "  allowed ips: 198.18.0.2/32, fd00:2::2/128, 198.51.100.0/24" <<<"$a" &&
		grep -qE "^  latest handshake: (just now|[0-9]+ seconds? ago)$" <<<"$a" &&
		grep -qE "^  transfer: .* received, .* sent$" <<<"$a" &&
		grep -qxF "  persistent keepalive: every 25 seconds" <<<"$a" &&
		grep -qE "^  handshake: fresh \((just now|[0-9]+ seconds? ago)\)$" <<<"$a" &&
		grep -qE "^  packets: [1-9][0-9]* received, [1-9][0-9]* sent$" <<<"$a" &&
		grep -qxF "  session: established" <<<"$a" &&
		grep -qE "^    [0-9-]+ [0-9:]+ \(.*\)  handshake_complete" <<<"$a" &&
		grep -qE "^  drops: " <<<"$a" &&
		grep -qE "^  nat: " <<<"$a" &&
		grep -qE "^    .*  endpoint_changed  192\.0\.2\.11:51820 -> 192\.0\.2\.1:51820" <<<"$b" &&
		grep -qxF "  endpoint changes: 1" <<<"$b"
}
t_check "roam show: wg's lines, verdict, packets, history (an endpoint change on B)" show_text

show_all() {
	local out rc
	out=$(roam "$A" show 2>"$RT_TMP/show_all.err")
	rc=$?
	grep -qxF "interface: $WA" <<<"$out" && grep -qxF "interface: $WB" <<<"$out" || return 1
	# Every interface on the machine is listed, other tests' too; one of
	# theirs may be stopped on purpose (a resume or scrape test) and not
	# answer. Ours must, and only theirs may be complained of.
	[ "$rc" -eq 0 ] || ! grep -qE "'($WA|$WB)'" "$RT_TMP/show_all.err" || { cat "$RT_TMP/show_all.err"; return 1; }
}
t_check "roam show without IFNAME lists every interface" show_all

# Every key docs/show-json.md lists, and no other, with the right types.
RT_JSON_CHECK='
import json, re, sys
doc = open(sys.argv[1]).read()
def keys(title):
    sec = doc.split(title, 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", sec, re.M))
want = {"interface": keys("### Interface object"), "peer": keys("### Peer object"),
        "nat": keys("### `nat` object"), "history": keys("### History entry")}
d = json.load(open(sys.argv[2]))
assert set(d) == {"version", "interfaces"} and d["version"] == 1, d.keys()
ifs = {i["name"]: i for i in d["interfaces"]}
i = ifs[sys.argv[3]]
assert set(i) == want["interface"], set(i) ^ want["interface"]
assert i["extended"] is True and i["listen_port"] == 51820 and isinstance(i["drops"], dict)
p = i["peers"][0]
assert set(p) == want["peer"], set(p) ^ want["peer"]
assert p["handshake"] == "fresh" and p["handshake_age_ms"] < 180000 and p["preshared_key"] is True
assert p["rx_packets"] > 0 and p["has_session"] is True and p["endpoint"] == "192.0.2.2:51820"
assert set(p["nat"]) == want["nat"], set(p["nat"]) ^ want["nat"]
assert p["history"] and all(set(h) == want["history"] for h in p["history"])
assert any(h["kind"] == "handshake_complete" for h in p["history"])
print("ok:", sorted(want["peer"]))
'
show_json() {
	roam "$A" show "$WA" --json >"$RT_TMP/show.json" || return 1
	"$RT_PY" -c "$RT_JSON_CHECK" "$ROOT/docs/show-json.md" "$RT_TMP/show.json" "$WA"
}
t_check "roam show --json parses and has exactly the documented keys" show_json

# --- metrics ------------------------------------------------------------------
metrics_promtool() {
	roam "$A" metrics "$WA" >"$RT_TMP/metrics.txt" || return 1
	promtool check metrics <"$RT_TMP/metrics.txt" || { cat "$RT_TMP/metrics.txt"; return 1; }
	grep -q "^roam_peer_received_bytes_total{interface=\"$WA\",public_key=\"$(key_pub b)\"} [1-9]" \
		"$RT_TMP/metrics.txt" &&
		grep -q "^roam_peer_handshake_fresh{interface=\"$WA\",.*} 1$" "$RT_TMP/metrics.txt" &&
		grep -q '^# UNIT roam_peer_handshake_age_seconds seconds$' "$RT_TMP/metrics.txt" &&
		[ "$(tail -n 1 "$RT_TMP/metrics.txt")" = "# EOF" ]
}
t_check "roam metrics passes promtool check metrics" metrics_promtool

RT_OM_CHECK='
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
f = fams["roam_peer_received_bytes"]
assert f.type == "counter" and f.unit == "bytes", (f.type, f.unit)
assert fams["roam_peer_handshake_age_seconds"].unit == "seconds"
print(len(fams), "families")
'
metrics_openmetrics() {
	# Exit 1 when some daemon did not answer: another test's, stopped on
	# purpose, may not; ours must (as in show_all).
	roam "$A" metrics --openmetrics >"$RT_TMP/om.txt" 2>"$RT_TMP/om.err" ||
		! grep -qE "'($WA|$WB)'" "$RT_TMP/om.err" || { cat "$RT_TMP/om.err"; return 1; }
	"$RT_PY" -c "$RT_OM_CHECK" "$RT_TMP/om.txt"
}
t_check "roam metrics --openmetrics (all interfaces) passes an OpenMetrics parser" metrics_openmetrics

# --- down ---------------------------------------------------------------------
# Rules and routes belong to a namespace: from another one, refuse.
t_check "roam down from another network namespace refuses" one_line_error env ROAM_STATE_DIR="$STATE_DIR" "$ROAM" down "$WA"

down_split() {
	roam "$A" down "$WA" || return 1
	grep -qx "pre-down $WA" "$RT_TMP/hooks.log" && grep -qx "post-down $WA" "$RT_TMP/hooks.log" ||
		{ echo "hooks:"; cat "$RT_TMP/hooks.log"; return 1; }
	same_as_before && no_leftovers "$WA"
}
t_check "roam down: hooks ran, A exactly as before, nothing left" down_split

# --- full tunnel --------------------------------------------------------------
# The endpoint is reachable only through A's default route, which the
# tunnel's own default route would capture: the handshake works only if
# roamd's packets carry the fwmark and the rules send them to main.
CONF_F=$(conf "$WF" a 198.18.0.1/24,fd00:2::1/64 "DNS = 198.18.0.53, fd00:2::53, corp.test" "" "[Peer]" \
	"PublicKey = $(key_pub b)" "PresharedKey = $(cat "$(psk_file ab)")" \
	"Endpoint = 203.0.113.2:51820" "AllowedIPs = 0.0.0.0/0, ::/0")
full_up() {
	: >"$DNS_LOG"
	roam "$A" up "$CONF_F" || return 1
	ip -n "$A" -4 rule show | grep -q 'not from all fwmark 0xca6c lookup 51820' &&
		ip -n "$A" -4 rule show | grep -q 'from all lookup main suppress_prefixlength 0' &&
		ip -n "$A" -6 rule show | grep -q 'not from all fwmark 0xca6c lookup 51820' &&
		ip -n "$A" -6 rule show | grep -q 'from all lookup main suppress_prefixlength 0' &&
		ip -n "$A" -4 route show table 51820 | grep -q "^default dev $WF" &&
		ip -n "$A" -6 route show table 51820 | grep -q "^default dev $WF" &&
		[ "$(wg_show "$A" "$WF" fwmark)" = 0xca6c ] &&
		[ "$(nsx "$A" sysctl -n net.ipv4.conf.all.src_valid_mark)" = 1 ] &&
		grep -qx "resolvconf -a tun.$WF -m 0 -x" "$DNS_LOG" &&
		grep -qx "nameserver 198.18.0.53" "$DNS_LOG" && grep -qx "nameserver fd00:2::53" "$DNS_LOG" &&
		grep -qx "search corp.test" "$DNS_LOG" || {
		ip -n "$A" rule; ip -n "$A" route show table all | grep "$WF"; cat "$DNS_LOG"; return 1; }
	# 198.19.0.1 (B's lo) now goes through the tunnel's default route,
	# and the handshake only happens if roamd's own packets escape it.
	ip -n "$A" route get 198.19.0.1 | grep -q "dev $WF table 51820" &&
		ip -n "$A" route get 203.0.113.2 mark 51820 | grep -q "via 192.0.2.2" || {
		ip -n "$A" route get 198.19.0.1; return 1; }
	wait_until 20 nsx "$A" ping -c 1 -W 1 -q 198.19.0.1 && ping_ok "$A" 198.19.0.1 &&
		wg_has_handshake "$A" "$WF" &&
		roam "$A" show "$WF" | grep -qxF "  endpoint: 203.0.113.2:51820"
}
t_check "full tunnel: fwmark rules v4+v6, table 51820, DNS, traffic via the tunnel" full_up

full_down() {
	roam "$A" down "$CONF_F" || return 1
	grep -qx "resolvconf -d tun.$WF -f" "$DNS_LOG" || { cat "$DNS_LOG"; return 1; }
	same_as_before && no_leftovers "$WF"
}
t_check "full tunnel down: rules, routes, DNS, src_valid_mark all undone" full_down

full_killed() {
	local pid
	: >"$DNS_LOG"
	roam "$A" up "$CONF_F" >/dev/null 2>&1 || return 1
	pid=$(roamd_pid "$WF")
	[ -n "$pid" ] && kill -9 "$pid" || return 1
	# Its interface dies with it; rules and DNS stay. (The socket file
	# goes too: roamd's keeper removes it when roamd ends in any way,
	# src/roamd/privileges.h.)
	wait_until 5 link_gone "$A" "$WF" || return 1
	ip -n "$A" -4 rule show | grep -q 'lookup 51820' || return 1
	roam "$A" down "$WF" || return 1
	grep -qx "resolvconf -d tun.$WF -f" "$DNS_LOG" && same_as_before && no_leftovers "$WF"
}
t_check "kill -9 roamd, then roam down still removes everything" full_killed

# After roamd died, `roam up` sees it by the ledger's pid and start time,
# undoes what was left (as roam down) and comes up again.
up_after_death() {
	local pid how=$1
	roam "$A" up "$CONF_F" >/dev/null 2>&1 || return 1
	pid=$(roamd_pid "$WF")
	case $how in
	kill) kill -9 "$pid" || return 1 ;;
	# What `wg-quick down` does to the interface: roamd exits with it.
	linkdel) ip -n "$A" link del "$WF" || return 1 ;;
	esac
	wait_until 5 link_gone "$A" "$WF" && wait_until 5 eval "! kill -0 $pid 2>/dev/null" || return 1
	roam "$A" up "$CONF_F" 2>"$RT_TMP/up.err" || { cat "$RT_TMP/up.err"; return 1; }
	cat "$RT_TMP/up.err"
	grep -qF "roamd (pid $pid) is gone; undoing what was left" "$RT_TMP/up.err" &&
		[ "$(roamd_pid "$WF")" != "$pid" ] && wait_until 20 nsx "$A" ping -c 1 -W 1 -q 198.19.0.1 || return 1
	roam "$A" down "$WF" && same_as_before && no_leftovers "$WF"
}
t_check "kill -9 roamd, then roam up cleans up and comes up again" up_after_death kill
t_check "interface deleted (as wg-quick down does), then roam up cleans up and comes up again" up_after_death linkdel

# A live roamd is still "already up".
up_twice() {
	roam "$A" up "$CONF_F" >/dev/null 2>&1 || return 1
	roam "$A" up "$CONF_F" 2>"$RT_TMP/up.err" && { echo "second up accepted"; return 1; }
	cat "$RT_TMP/up.err"
	grep -qF "$WF is already up" "$RT_TMP/up.err" || return 1
	roam "$A" down "$WF" && same_as_before && no_leftovers "$WF"
}
t_check "roam up of a live interface: already up" up_twice

# DNS = with neither resolvconf nor resolvectl (an empty PATH): roam up
# fails before changing anything, as wg-quick; --no-dns comes up anyway.
no_dns_tool() {
	mkdir -p "$RT_TMP/nobin"
	nsx "$A" timeout 60 env PATH="$RT_TMP/nobin" ROAM_STATE_DIR="$STATE_DIR" "$ROAM" up "$CONF_F" 2>"$RT_TMP/up.err" && {
		echo "came up without a DNS tool"; return 1; }
	cat "$RT_TMP/up.err"
	grep -qF "needs resolvconf or resolvectl, and neither is installed" "$RT_TMP/up.err" &&
		grep -qF "roam up --no-dns" "$RT_TMP/up.err" && same_as_before && no_leftovers "$WF" || return 1
	nsx "$A" timeout 60 env PATH="$RT_TMP/nobin" ROAM_STATE_DIR="$STATE_DIR" "$ROAM" up --no-dns "$CONF_F" 2>"$RT_TMP/up.err" || {
		cat "$RT_TMP/up.err"; return 1; }
	grep -qF "warning: --no-dns: DNS = (line 5) is ignored" "$RT_TMP/up.err" &&
		! grep -q '^dns ' "$STATE_DIR/$WF.state" || { cat "$RT_TMP/up.err" "$STATE_DIR/$WF.state"; return 1; }
	roam "$A" down "$WF" && same_as_before && no_leftovers "$WF"
}
t_check "DNS = without resolvconf/resolvectl fails like wg-quick; --no-dns allows it" no_dns_tool

# --- Table = off, host name endpoint, a failing hook ----------------------------
table_off() {
	local f
	f=$(conf "$WT" a 198.18.0.1/24 "Table = off" "" "[Peer]" "PublicKey = $(key_pub b)" \
		"Endpoint = 192.0.2.2:51820" "AllowedIPs = 198.51.100.0/24, 0.0.0.0/0")
	roam "$A" up "$f" || return 1
	! ip -n "$A" route show table all | grep -v 'proto kernel' | grep -v '^local\|^broadcast\|^multicast' |
		grep -q "$WT" || { ip -n "$A" route show table all | grep "$WT"; return 1; }
	! ip -n "$A" rule show | grep -q 51820 && roam "$A" down "$f" && same_as_before && no_leftovers "$WT"
}
t_check "Table = off: no routes, no rules; down leaves A as before" table_off

# The name moves: reresolve hands the new address to a peer without a live
# session, leaves a live session's endpoint alone unless forced.
hosts_map() { mkdir -p "/etc/netns/$A" && echo "$1 peer-b.roam.test" >"/etc/netns/$A/hosts"; }
wh_endpoint_is() { wg_show "$A" "$WH" endpoints | grep -q "	$1\$"; }
wh_candidate_is() { roam "$A" show "$WH" | grep -qx "  endpoint candidates: $1.*"; }
hostname_endpoint() {
	local f out
	hosts_map 192.0.2.2 || return 1
	f=$(conf "$WH" a 198.18.0.1/24 "" "[Peer]" "PublicKey = $(key_pub b)" \
		"PresharedKey = $(cat "$(psk_file ab)")" \
		"Endpoint = peer-b.roam.test:51820" "AllowedIPs = 198.18.0.2/32")
	roam "$A" up "$f" || return 1
	wh_endpoint_is 192.0.2.2:51820 &&
		grep -qx "endpoint $(key_pub b) peer-b.roam.test 51820 192.0.2.2:51820" "$STATE_DIR/$WH.state" || {
		cat "$STATE_DIR/$WH.state"; return 1; }
	# roamd got the name too and resolved it itself (names.c).
	wait_until 5 wh_candidate_is 192.0.2.2:51820 || { roam "$A" show "$WH"; return 1; }
	# No session yet: the new address is taken, and the ledger follows.
	hosts_map 203.0.113.2 || return 1
	out=$(roam "$A" reresolve "$WH") && echo "$out" &&
		grep -q "peer-b.roam.test:51820 -> 203.0.113.2:51820 (updated from 192.0.2.2:51820)" <<<"$out" &&
		grep -qx "$WH: roamd follows its peers' names itself; asked it to resolve them now" <<<"$out" &&
		wh_endpoint_is 203.0.113.2:51820 &&
		grep -qx "endpoint $(key_pub b) peer-b.roam.test 51820 203.0.113.2:51820" "$STATE_DIR/$WH.state" || return 1
	out=$(roam "$A" reresolve) && echo "$out" && grep -q "203.0.113.2:51820 (unchanged)" <<<"$out" || return 1
	# A live session (a handshake just now, at the new address) wins over DNS.
	nsx "$A" ping -n -c 1 -w 5 -q 198.18.0.2 >/dev/null || { echo "no ping through $WH"; return 1; }
	hosts_map 192.0.2.2 || return 1
	out=$(roam "$A" reresolve "$WH") && echo "$out" &&
		grep -q -- "-> 192.0.2.2:51820; kept 203.0.113.2:51820 (session alive" <<<"$out" &&
		wh_endpoint_is 203.0.113.2:51820 || return 1
	out=$(roam "$A" reresolve "$WH" --force) && echo "$out" && grep -q "(updated from 203.0.113.2:51820)" <<<"$out" &&
		wh_endpoint_is 192.0.2.2:51820 || return 1
	# A name that no longer resolves: exit 1, the endpoint stays. The only
	# name server is B, which has none (port unreachable: a quick failure).
	echo "" >"/etc/netns/$A/hosts" &&
		printf 'nameserver 192.0.2.2\noptions timeout:1 attempts:1\n' >"/etc/netns/$A/resolv.conf" || return 1
	! roam "$A" reresolve "$WH" --force && wh_endpoint_is 192.0.2.2:51820 || return 1
	rm -rf "/etc/netns/$A"
	roam "$A" down "$WH" && same_as_before && no_leftovers "$WH"
}
t_check "host name endpoint: resolved at up, kept in the ledger, reresolve updates a peer without a live session" \
	hostname_endpoint

# A fallback ("#roam: Endpoint") name that does not resolve at up is a
# warning, not a failure: the tunnel comes up on Endpoint (as wg-quick
# brings the same file up), and roamd is given the name to keep trying.
unresolved_fallback() {
	local f
	hosts_map 192.0.2.2 &&
		printf 'nameserver 192.0.2.2\noptions timeout:1 attempts:1\n' >"/etc/netns/$A/resolv.conf" || return 1
	f=$(conf "$WH" a 198.18.0.1/24 "" "[Peer]" "PublicKey = $(key_pub b)" \
		"PresharedKey = $(cat "$(psk_file ab)")" \
		"Endpoint = peer-b.roam.test:51820" "#roam: Endpoint = nowhere.roam.test:51820" \
		"AllowedIPs = 198.18.0.2/32")
	roam "$A" up "$f" 2>"$RT_TMP/unresolved.err" || { cat "$RT_TMP/unresolved.err"; return 1; }
	grep -q "warning: .*cannot resolve the fallback endpoint host 'nowhere.roam.test' now" "$RT_TMP/unresolved.err" &&
		wh_endpoint_is 192.0.2.2:51820 &&
		roam "$A" show "$WH" | grep -q "nowhere.roam.test" || {
		cat "$RT_TMP/unresolved.err"; roam "$A" show "$WH"; return 1; }
	rm -rf "/etc/netns/$A"
	roam "$A" down "$WH" && same_as_before && no_leftovers "$WH"
}
t_check "a fallback endpoint name that does not resolve at up: a warning, up on Endpoint, roamd keeps the name" \
	unresolved_fallback

failed_hook() {
	local f
	f=$(conf "$WR" a 198.18.0.1/24 "PostUp = exit 3" "" "[Peer]" "PublicKey = $(key_pub b)" \
		"AllowedIPs = 198.51.100.0/24, ::/0")
	! roam "$A" up "$f" && same_as_before && no_leftovers "$WR"
}
t_check "a failing PostUp hook: up fails and undoes everything" failed_hook

# --- bad input: one line on stderr, non-zero, nothing created -------------------
bad_input() {
	local bad="$RT_TMP/$WR.conf"
	sed 's|^PrivateKey = .*|PrivateKey = c2VjcmV0|' "$RT_TMP/$WA.conf" >"$bad"
	one_line_error roam "$A" up "$RT_TMP/missing/$WR.conf" &&
		one_line_error roam "$A" up "$bad" && ! grep -q c2VjcmV0 "$RT_TMP/err" &&
		sed 's|^\[Interface\]$|[Interface]\nMTU = 1 4 x|' "$RT_TMP/$WA.conf" >"$bad" &&
		one_line_error roam "$A" up "$bad" && grep -qF "MTU '1 4 x' " "$RT_TMP/err" &&
		sed 's|^\[Interface\]$|[Interface]\nTable = no such table|' "$RT_TMP/$WA.conf" >"$bad" &&
		one_line_error roam "$A" up "$bad" && grep -qF "Table 'no such table' " "$RT_TMP/err" &&
		one_line_error roam "$A" down "$WR" &&
		one_line_error roam "$A" show "$WR" &&
		one_line_error roam "$A" metrics "$WR" &&
		one_line_error roam "$A" reresolve "$WR" &&
		one_line_error roam "$A" up "bad/name!.conf" &&
		one_line_error roam "$A" up "$WR" && grep -qF "/etc/wireguard/$WR.conf" "$RT_TMP/err" &&
		same_as_before && no_leftovers "$WR"
}
t_check "bad input: missing file, bad key, values quoted as written, unknown interface -> one line, non-zero" bad_input

# --- against wireguard-go -----------------------------------------------------
wireguard_go() {
	local out
	wg_start wireguard-go "$B" "$WG" &&
		wg_set "$B" "$WG" private-key "$(key_file b)" peer "$(key_pub a)" allowed-ips 198.18.0.9/32 \
			endpoint 192.0.2.1:51821 || return 1
	out=$(roam "$B" show "$WG") || return 1
	echo "$out"
	grep -qxF "  details: none (the daemon refused get=2: not roamd)" <<<"$out" &&
		grep -qxF "  handshake: never" <<<"$out" && grep -qxF "  endpoint: 192.0.2.1:51821" <<<"$out" &&
		roam "$B" show "$WG" --json | "$RT_PY" -c '
import json, sys
i = json.load(sys.stdin)["interfaces"][0]
assert i["extended"] is False and i["drops"] is None and i["peers"][0]["history"] is None
assert i["peers"][0]["handshake"] == "never"' &&
		roam "$B" metrics "$WG" | promtool check metrics || return 1
	out=$(roam "$B" events "$WG" --no-follow 2>&1) && { echo "roam events against wireguard-go: $out"; return 1; }
	echo "$out"
	grep -q "not run by roamd" <<<"$out"
}
t_check "wireguard-go: the standard part, get=1 fallback, metrics still valid" wireguard_go

# roam up with wireguard-go in roamd's place (a copy of roam beside a
# "roamd" that runs wireguard-go): the file's two endpoints are more than
# wireguard-go takes; roam up says that failover and following names need
# roamd, and brings the tunnel up with the first endpoint.
up_wireguard_go() {
	local dir=$RT_TMP/wggo dev conf out rc
	dev=$(rt_name wx)
	mkdir -p "$dir" && cp "$ROAM" "$dir/roam" || return 1
	printf '#!/bin/sh\nwireguard-go "$1" || exit 1\ni=0\nwhile [ ! -S "%s/$1.sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done\n[ -S "%s/$1.sock" ]\n' \
		"$RT_WG_RUN" "$RT_WG_RUN" >"$dir/roamd" && chmod +x "$dir/roamd" || return 1
	conf="$RT_TMP/$dev.conf"
	printf '[Interface]\nPrivateKey = %s\nListenPort = 51825\nAddress = 198.18.0.21/32\n\n[Peer]\nPublicKey = %s\nEndpoint = 192.0.2.2:51826\n#roam: Endpoint = 192.0.2.12:51826\nAllowedIPs = 198.18.0.22/32\n' \
		"$(cat "$(key_file a)")" "$(key_pub b)" >"$conf" && chmod 600 "$conf" || return 1
	out=$(nsx "$A" env PATH="$STUB_BIN:$PATH" ROAM_STATE_DIR="$STATE_DIR" timeout 60 "$dir/roam" up "$conf" 2>&1)
	rc=$?
	echo "$out"
	wg_show "$A" "$dev" endpoints
	[ "$rc" -eq 0 ] && grep -q "is not served by roamd: failover between a peer's endpoints and following its host names need roamd" <<<"$out" &&
		wg_show "$A" "$dev" endpoints | grep -q "	192.0.2.2:51826\$" || rc=1
	nsx "$A" env ROAM_STATE_DIR="$STATE_DIR" timeout 60 "$dir/roam" down "$dev" || rc=1
	return "$rc"
}
t_check "roam up against wireguard-go: says what needs roamd, the first endpoint is used" up_wireguard_go

# wireguard-go as wg-quick starts it: daemonised, so the process that made
# the UAPI socket (its peer credentials) has exited and a child holds the
# socket and the port. doctor must find that child, not warn that "another
# program holds the port".
wireguard_go_daemon() {
	local dev pid out
	dev=$(rt_name wd)
	nsx "$B" wireguard-go "$dev" >"$RT_TMP/wgd.log" 2>&1 || { cat "$RT_TMP/wgd.log"; return 1; }
	wait_until 10 rt_wg_ready "$B" "$dev" || return 1
	wg_set "$B" "$dev" private-key "$(key_file b)" listen-port 51823 || return 1
	ip -n "$B" link set "$dev" up || return 1
	pid=$(ip netns pids "$B" | while read -r p; do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = wireguard-go ] &&
			tr '\0' ' ' <"/proc/$p/cmdline" | grep -q " $dev " && echo "$p"; done | head -n 1)
	out=$(roam "$B" doctor "$dev" --wait 0 2>&1)
	echo "$out"
	ip -n "$B" link del "$dev"
	[ -n "$pid" ] && grep -qF "pid $pid" <<<"$out" && ! grep -q "another process\|Another program" <<<"$out"
}
t_check "doctor finds a daemonised wireguard-go by its socket and port: no 'another program'" wireguard_go_daemon

down_b_ends_follower() {
	local ev=$RT_TMP/events.wb rc
	events_follow "$WB" "$ev"
	roam "$B" down "$WB" || { events_stop; return 1; }
	wait_until 5 bash -c "! kill -0 $RT_EVENTS_PID" || { echo "roam events still running"; events_stop; return 1; }
	wait "$RT_EVENTS_PID"
	rc=$?
	rt_forget "$RT_EVENTS_PID"
	echo "roam events after roam down: status $rc: $(cat "$ev.err")"
	[ "$rc" -eq 1 ] && grep -q "$WB" "$ev.err"
}
t_check "roam down B; a roam events following it says the daemon is gone, status 1" down_b_ends_follower
t_finish
