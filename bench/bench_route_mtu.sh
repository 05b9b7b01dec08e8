#!/usr/bin/env bash
# Benchmark: roamd's throughput when the route to its peer shrinks and
# recovers, in one run (bench/run-all runs it with the other bench_*.sh).
#
#   two namespaces joined by a veth pair, roamd at both ends, tunnel MTU 1420;
#   TCP single stream a->b through the tunnel (iperf3), BENCH_SECS each:
#     before   the route to the peer as the veth makes it (MTU 1500)
#     during   right after `ip route replace PEER/32 ... mtu 1300` on the
#              sender: every outer datagram (1452 bytes) is larger than the
#              route, so roamd's fallback carries all of it
#     after    the route back at MTU 1500
#   and the ratio after / before. GSO batches that never come back, or a
#   fallback that sticks, show as an "after" below "before": the run prints
#   FAIL when after < 90% of before (the one target here). "before" and
#   "after" are each the best of BENCH_REPEAT runs (2): on a shared machine
#   one run can lose 10% to a neighbour, and that must not read as FAIL.
#
# Prints "name value" lines (route_mtu.*) for build/bench/results.json.
# Knobs: BENCH_SECS (5 s per iperf3 run), BENCH_REPEAT (2), ROAM_ROAMD (the binary),
# ROAMD_ENV (extra environment for roamd, e.g. "ROAMD_NO_GSO=1").
set -u
cd "$(dirname "$0")/.." || exit 1
TOP=$PWD
ROAMD=${ROAM_ROAMD:-$TOP/build/roamd}
SECS=${BENCH_SECS:-5}
REPEAT=${BENCH_REPEAT:-2}
PY=$(command -v /usr/bin/python3 || command -v python3)

say() { echo "bench_route_mtu: $*" >&2; }
if [ "$(id -u)" -ne 0 ]; then
	say "needs root (network namespaces); skipped"
	exit 0
fi
for tool in iperf3 wg ip ping; do
	command -v "$tool" >/dev/null || { say "$tool is missing; skipped"; exit 0; }
done
[ -x "$ROAMD" ] || { say "$ROAMD is missing (run make); skipped"; exit 0; }

# Names: bm<PID><letter>; UAPI sockets live in one directory shared by
# every namespace, so the PID keeps concurrent runs apart.
P="bm$$"
NA=${P}a NB=${P}b VA=${P}va VB=${P}vb DEV_A=${P}wa DEV_B=${P}wb
TMP=$(mktemp -d "/tmp/${P}.XXXXXX")
PIDS=()

NSES=("$NA" "$NB")
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
trap bench_cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT


start_roamd() {
	local ns=$1 dev=$2 envs=()
	[ -n "${ROAMD_ENV:-}" ] && read -r -a envs <<<"$ROAMD_ENV"
	ip netns exec "$ns" env WG_PROCESS_FOREGROUND=1 "${envs[@]}" "$ROAMD" "$dev" \
		</dev/null >>"$TMP/$dev.log" 2>&1 &
	PIDS+=($!)
	until_ok 10 bash -c "[ -S /var/run/wireguard/$dev.sock ] && ip netns exec $ns wg show $dev"
}

lab_up() {
	ip netns add "$NA" && ip netns add "$NB" || return 1
	ip -n "$NA" link set lo up && ip -n "$NB" link set lo up &&
		ip link add "$VA" netns "$NA" type veth peer name "$VB" netns "$NB" &&
		ip -n "$NA" addr add 192.0.2.1/24 dev "$VA" && ip -n "$NB" addr add 192.0.2.2/24 dev "$VB" &&
		ip -n "$NA" link set "$VA" up && ip -n "$NB" link set "$VB" up || return 1
	(umask 077 && wg genkey >"$TMP/a.key" && wg genkey >"$TMP/b.key") || return 1
	start_roamd "$NA" "$DEV_A" && start_roamd "$NB" "$DEV_B" || return 1
	ip netns exec "$NA" wg set "$DEV_A" private-key "$TMP/a.key" listen-port 51820 \
		peer "$(wg pubkey <"$TMP/b.key")" endpoint 192.0.2.2:51820 allowed-ips 198.18.0.2/32 &&
		ip netns exec "$NB" wg set "$DEV_B" private-key "$TMP/b.key" listen-port 51820 \
			peer "$(wg pubkey <"$TMP/a.key")" endpoint 192.0.2.1:51820 allowed-ips 198.18.0.1/32 || return 1
	ip -n "$NA" link set "$DEV_A" mtu 1420 up && ip -n "$NB" link set "$DEV_B" mtu 1420 up &&
		ip -n "$NA" addr add 198.18.0.1/32 dev "$DEV_A" && ip -n "$NB" addr add 198.18.0.2/32 dev "$DEV_B" &&
		ip -n "$NA" route add 198.18.0.2/32 dev "$DEV_A" && ip -n "$NB" route add 198.18.0.1/32 dev "$DEV_B" ||
		return 1
	until_ok 10 ip netns exec "$NA" ping -c 1 -W 1 198.18.0.2 || return 1
	ip netns exec "$NB" iperf3 -s >/dev/null 2>&1 &
	PIDS+=($!)
	until_ok 5 bash -c "[ -n \"\$(ip netns exec $NB ss -Hltn 'sport = :5201')\" ]"
}

# tcp_gbps — one iperf3 run a->b through the tunnel; Gbit/s received.
tcp_gbps() {
	ip netns exec "$NA" timeout $((SECS + 20)) iperf3 -J -t "$SECS" -c 198.18.0.2 >"$TMP/iperf.json" 2>/dev/null
	"$PY" -c '
import json, sys
try:
    print("%.3f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9))
except Exception:
    print("0")
' "$TMP/iperf.json"
}

# best_gbps — the best of REPEAT runs.
best_gbps() {
	local i r best=0
	for ((i = 0; i < REPEAT; i++)); do
		r=$(tcp_gbps)
		best=$("$PY" -c 'import sys; print("%.3f" % max(float(sys.argv[1]), float(sys.argv[2])))' "$best" "$r")
	done
	echo "$best"
}

if ! lab_up; then
	say "the tunnel did not come up; its logs:"
	tail -n 5 "$TMP"/*.log >&2
	exit 0
fi

say "TCP a->b, route to the peer at the veth's MTU"
before=$(best_gbps)
ip -n "$NA" route replace 192.0.2.2/32 dev "$VA" mtu 1300
say "TCP a->b, right after the route to the peer went to MTU 1300"
during=$(tcp_gbps)
ip -n "$NA" route replace 192.0.2.2/32 dev "$VA" mtu 1500
say "TCP a->b, route back at MTU 1500"
after=$(best_gbps)
ip -n "$NA" route del 192.0.2.2/32 dev "$VA"

echo "route_mtu.tcp_before_gbps $before"
echo "route_mtu.tcp_mtu1300_gbps $during"
echo "route_mtu.tcp_after_gbps $after"
"$PY" - "$before" "$during" "$after" <<'EOF'
import sys
before, during, after = (float(v) for v in sys.argv[1:4])
r = after / before if before else 0.0
print("route_mtu.tcp_mtu1300_vs_before_ratio %.3f" % (during / before if before else 0.0))
print("route_mtu.tcp_after_vs_before_ratio %.3f" % r)
print()
print("route MTU 1500 -> 1300 -> 1500, TCP a->b Gbit/s: before %.3f, at 1300 %.3f, after %.3f; after/before %.2f %s"
      % (before, during, after, r, "ok (>= 0.90)" if before and r >= 0.9 else "FAIL (target >= 0.90)"))
EOF
# What roamd counted, from its exit line (the sender's).
kill -TERM "${PIDS[0]}" 2>/dev/null
until_ok 5 bash -c "! kill -0 ${PIDS[0]} 2>/dev/null"
line=$(grep -h "data path:" "$TMP/$DEV_A.log" | tail -n 1)
[ -n "$line" ] && echo "sender's roamd at exit: ${line#*data path: }"
exit 0
