#!/usr/bin/env bash
# Benchmark (never a test): an established tunnel under a flood of
# handshake initiations with a valid mac1 (build/tools/flood_initiations,
# 240 source addresses), roamd against Debian's wireguard-go in one run.
#
#   three namespaces: a (the responder under attack), b (its peer, same
#   implementation), x (the attacker, 240 addresses). At each flood rate
#   (BENCH_FLOOD_RATES, initiations a second; "quiet" = none, "max" = as
#   fast as the sender goes), for BENCH_SECS (5) seconds while a 20 Hz ping
#   and an iperf3 TCP stream run from b to a through the tunnel:
#     flood.IMPL.RATE.ping_p50_ms / ping_p99_ms / ping_loss_pct
#     flood.IMPL.RATE.tcp_mbps
#     flood.IMPL.RATE.sent_per_sec       what the attacker got out
#     flood.IMPL.RATE.dh_per_sec / cookies_per_sec   (roamd: its counters)
#     flood.IMPL.RATE.socket_buffer_drops / backlog_drops   where the
#         kernel dropped what nobody read (socket_drops below)
#   and a table at the end. IMPLS (default "roamd roamd-onesocket
#   roamd-onethread roamd-inline wireguard-go"; roamd-onesocket is roamd
#   with ROAMD_NO_STEERING=1, handshakes and data in one socket's buffer;
#   roamd-onethread is roamd with ROAMD_HANDSHAKE_THREADS=0, the
#   Diffie-Hellman on the data thread; roamd-inline is roamd with
#   ROAMD_HANDSHAKE_INLINE=1, the oldest way). roamd-flood-elsewhere is a
#   control, not an implementation: roamd's tunnel as for roamd, while the
#   same flood goes to another port of a's address, to a socket that never
#   reads (the kernel receives every datagram and drops it at the full
#   buffer). What the ping and the stream lose there is what the flood
#   costs this machine whoever receives it; roamd's own share is the rest.
set -u
cd "$(dirname "$0")/.."
TOP=$PWD
ROAMD=${ROAM_ROAMD:-$TOP/build/roamd}
FLOOD=$TOP/build/tools/flood_initiations
SECS=${BENCH_SECS:-5}
RATES=${BENCH_FLOOD_RATES:-"quiet 1000 4000 10000 30000 100000 max"}
IMPLS=${BENCH_FLOOD_IMPLS:-"roamd roamd-onesocket roamd-onethread roamd-inline wireguard-go"}
PY=$(command -v /usr/bin/python3 || command -v python3)

say() { echo "bench_handshake_flood: $*" >&2; }
if [ "$(id -u)" -ne 0 ]; then
	say "needs root (network namespaces); skipped"
	exit 0
fi
for tool in iperf3 wireguard-go wg ip ping; do
	command -v "$tool" >/dev/null || { say "$tool is missing; skipped"; exit 0; }
done
[ -x "$ROAMD" ] && [ -x "$FLOOD" ] || { say "build/roamd or build/tools/flood_initiations is missing (run make); skipped"; exit 0; }

P="bf$$"
NA=${P}a NB=${P}b NX=${P}x
TMP=$(mktemp -d "/tmp/${P}.XXXXXX")
PIDS=()
NSES=("$NA" "$NB" "$NX")
RESULTS=$TMP/results
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
trap bench_cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

emit() {
	echo "$1 $2"
	echo "$1 $2" >>"$RESULTS"
}

for ns in "${NSES[@]}"; do ip netns add "$ns" && ip -n "$ns" link set lo up || exit 0; done
ip link add "${P}ab" netns "$NA" type veth peer name "${P}ba" netns "$NB"
ip link add "${P}ax" netns "$NA" type veth peer name "${P}xa" netns "$NX"
ip -n "$NA" addr add 192.0.2.1/24 dev "${P}ab"
ip -n "$NB" addr add 192.0.2.2/24 dev "${P}ba"
ip -n "$NA" addr add 198.51.100.1/24 dev "${P}ax"
SRCS=()
for i in $(seq 2 241); do
	SRCS+=("198.51.100.$i")
	echo "addr add 198.51.100.$i/24 dev ${P}xa"
done >"$TMP/addrs"
ip -n "$NX" -batch "$TMP/addrs"
for l in "$NA ${P}ab" "$NB ${P}ba" "$NA ${P}ax" "$NX ${P}xa"; do
	set -- $l
	ip -n "$1" link set "$2" up
done
ip netns exec "$NA" iperf3 -s >/dev/null 2>&1 &
PIDS+=($!)

umask 077
wg genkey >"$TMP/a.key" && wg genkey >"$TMP/b.key"
PUB_A=$(wg pubkey <"$TMP/a.key")
PUB_B=$(wg pubkey <"$TMP/b.key")

get2() {
	ip netns exec "$NA" "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(3.0)
try:
    s.connect(sys.argv[1]); s.sendall(b"get=2\n\n"); buf = b""
    while not buf.endswith(b"\n\n"):
        b = s.recv(65536)
        if not b: break
        buf += b
except OSError:
    buf = b""
d = dict(l.split("=", 1) for l in buf.decode().splitlines() if "=" in l)
print(d.get("roam_handshakes_computed", "-"), d.get("roam_cookie_replies", "-"))
' "/var/run/wireguard/$1.sock"
}

# start IMPL NS IF — a daemon in the foreground; waits for its socket.
start() {
	local impl=$1 bin env=()
	case $impl in
	roamd) bin=$ROAMD ;;
	roamd-onethread) bin=$ROAMD env=(ROAMD_HANDSHAKE_THREADS=0) ;;
	roamd-inline) bin=$ROAMD env=(ROAMD_HANDSHAKE_INLINE=1) ;;
	roamd-onesocket) bin=$ROAMD env=(ROAMD_NO_STEERING=1) ;;
	roamd-flood-elsewhere) bin=$ROAMD ;;
	*) bin=$impl ;;
	esac
	ip netns exec "$2" env WG_PROCESS_FOREGROUND=1 "${env[@]}" "$bin" "$3" >"$TMP/$3.log" 2>&1 &
	PIDS+=($!)
	until_ok 10 ip netns exec "$2" wg show "$3"
}

stop_daemons() {
	local p keep=()
	for p in "${PIDS[@]}"; do
		if [ "$p" = "$IPERF_PID" ]; then keep+=("$p"); else kill -TERM "$p" 2>/dev/null; fi
	done
	for p in "${PIDS[@]}"; do [ "$p" = "$IPERF_PID" ] || wait "$p" 2>/dev/null; done
	PIDS=("${keep[@]}")
}
IPERF_PID=${PIDS[0]}

# socket_drops — datagrams the responder's namespace dropped because a UDP
# socket's receive buffer was full (the daemon did not read fast enough),
# and packets every CPU's input backlog dropped (the kernel itself was
# behind; /proc/net/softnet_stat is not per namespace): where the loss of a
# flood at full speed happens, before any daemon could choose.
socket_drops() {
	local rb bl
	rb=$(ip netns exec "$NA" awk '/^Udp: [0-9]/ {print $6}' /proc/net/snmp)
	local _ dropped
	bl=0
	while read -r _ dropped _; do bl=$((bl + 16#$dropped)); done </proc/net/softnet_stat
	echo "${rb:-0} ${bl:-0}"
}

ping_figures() {
	"$PY" -c '
import re, sys
lines = open(sys.argv[1]).read().splitlines()
t = sorted(float(m.group(1)) for m in (re.search(r"time=([0-9.]+)", l) for l in lines) if m)
sent = int(sys.argv[2])
p = lambda q: t[min(len(t) - 1, int(len(t) * q))] if t else 0
print("%.2f %.2f %.1f" % (p(0.5), p(0.99), 100.0 * (sent - len(t)) / sent))
' "$1" "$2"
}

n=0
for impl in $IMPLS; do
	n=$((n + 1))
	IA=${P}w${n}a IB=${P}w${n}b
	start "$impl" "$NA" "$IA" && start "$impl" "$NB" "$IB" || { say "$impl did not start"; continue; }
	ip netns exec "$NA" wg set "$IA" private-key "$TMP/a.key" listen-port 51820 peer "$PUB_B" allowed-ips 198.18.0.2/32
	ip netns exec "$NB" wg set "$IB" private-key "$TMP/b.key" peer "$PUB_A" endpoint 192.0.2.1:51820 \
		allowed-ips 198.18.0.1/32 persistent-keepalive 5
	ip -n "$NA" addr add 198.18.0.1/24 dev "$IA" && ip -n "$NA" link set "$IA" up
	ip -n "$NB" addr add 198.18.0.2/24 dev "$IB" && ip -n "$NB" link set "$IB" up
	until_ok 10 ip netns exec "$NB" ping -c 1 -W 1 198.18.0.1 || { say "$impl: no tunnel"; stop_daemons; continue; }
	port=51820 sink=""
	if [ "$impl" = roamd-flood-elsewhere ]; then
		port=51999
		ip netns exec "$NA" "$PY" -c 'import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("198.51.100.1", 51999)); time.sleep(86400)' &
		sink=$!
		PIDS+=("$sink")
	fi
	for rate in $RATES; do
		fpid=""
		if [ "$rate" != quiet ]; then
			r=$rate
			[ "$rate" = max ] && r=0
			ip netns exec "$NX" "$FLOOD" 198.51.100.1 "$port" "$PUB_A" "$r" $((SECS + 2)) "${SRCS[@]}" \
				>"$TMP/flood.out" 2>&1 &
			fpid=$!
			sleep 1 # let the flood reach its rate before measuring
		fi
		before=$(get2 "$IA")
		drops0=$(socket_drops)
		t0=$(date +%s%N)
		ip netns exec "$NB" ping -i 0.05 -W 1 -c $((SECS * 20)) 198.18.0.1 >"$TMP/ping.out" 2>&1 &
		ppid=$!
		ip netns exec "$NB" timeout $((SECS + 15)) iperf3 -J -c 198.18.0.1 -t "$SECS" >"$TMP/iperf.json" 2>/dev/null
		wait "$ppid"
		t1=$(date +%s%N)
		after=$(get2 "$IA")
		drops1=$(socket_drops)
		[ -n "$fpid" ] && wait "$fpid"
		read -r p50 p99 loss <<<"$(ping_figures "$TMP/ping.out" $((SECS * 20)))"
		mbps=$("$PY" -c 'import json,sys
try: print("%.0f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e6))
except Exception: print(0)' "$TMP/iperf.json")
		k="flood.$impl.$rate"
		emit "$k.ping_p50_ms" "$p50"
		emit "$k.ping_p99_ms" "$p99"
		emit "$k.ping_loss_pct" "$loss"
		emit "$k.tcp_mbps" "$mbps"
		read -r rb0 bl0 <<<"$drops0"
		read -r rb1 bl1 <<<"$drops1"
		emit "$k.socket_buffer_drops" $((rb1 - rb0))
		emit "$k.backlog_drops" $((bl1 - bl0))
		if [ -n "$fpid" ]; then
			emit "$k.sent_per_sec" "$(sed -n 's/.* rate=\([0-9]*\).*/\1/p' "$TMP/flood.out")"
		fi
		read -r dh0 ck0 <<<"$before"
		read -r dh1 ck1 <<<"$after"
		if [ "$dh0" != - ] && [ -n "$dh1" ] && [ "$dh1" != - ]; then
			ms=$(((t1 - t0) / 1000000))
			emit "$k.dh_per_sec" $(((dh1 - dh0) * 1000 / ms))
			emit "$k.cookies_per_sec" $(((ck1 - ck0) * 1000 / ms))
		fi
	done
	stop_daemons
	ip netns exec "$NA" ip link del "$IA" 2>/dev/null
	ip netns exec "$NB" ip link del "$IB" 2>/dev/null
done

echo
printf '%-16s %-7s %-22s %-9s %-9s %-8s %-8s\n' impl rate "ping p50/p99 ms, loss" "TCP Mb/s" "sent/s" "DH/s" "cookie/s"
for impl in $IMPLS; do
	for rate in $RATES; do
		v() { sed -n "s/^flood\.$impl\.$rate\.$1 //p" "$RESULTS"; }
		[ -n "$(v tcp_mbps)" ] || continue
		printf '%-16s %-7s %-22s %-9s %-9s %-8s %-8s\n' "$impl" "$rate" "$(v ping_p50_ms) / $(v ping_p99_ms), $(v ping_loss_pct)%" \
			"$(v tcp_mbps)" "$(v sent_per_sec)" "$(v dh_per_sec)" "$(v cookies_per_sec)"
	done
done
