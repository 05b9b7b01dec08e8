#!/usr/bin/env bash
# Benchmark (never a test): roamd against Debian's wireguard-go, in one run.
#
#   two namespaces joined by a veth pair, tunnel MTU 1420, both ends the same
#   implementation; rounds alternate roamd, wireguard-go, roamd, ... so slow
#   drifts of the machine hit both alike. Per round and implementation:
#     TCP  single stream, iperf3, a->b and b->a          tunnel.rN.tcp_ab_IMPL_gbps ...
#     UDP  1300-byte datagrams offered as fast as iperf3 can, received rate
#          and loss                                       tunnel.rN.udp_IMPL_gbps / _loss_pct
#          and again with 4 MB socket buffers (iperf3 -w 4M) at both ends
#          (information, no target)                      tunnel.rN.udpw_IMPL_gbps / _loss_pct
#     RTT  200 pings through the tunnel, median and 99th percentile (ms)
#   then the medians over the rounds and the ratios roamd / wireguard-go.
#   Plain veth (no tunnel) once, as the ceiling.
#
#   Handshakes: build/bench/bench_core's responder figure beside the bare
#   X25519 rate, pinned to one core, in this run.
#
#   Memory: a fresh daemon per size with 1,000 / 10,000 / 100,000 peers
#   (each with a /32 and a /128, random keys), interface down: resident size
#   before and after `wg setconf`, bytes per peer, and how long `wg setconf`
#   and `wg show IF dump` take; for both implementations.
#
# Prints "name value" lines (bench/run-all gathers them into
# build/bench/results.json), a table at the end, and writes the table as
# build/bench/tunnel.json. Knobs: BENCH_ROUNDS (3), BENCH_SECS (5 s per
# iperf3 run), BENCH_PEERS ("1000 10000 100000"), ROAM_ROAMD (the binary),
# ROAMD_ENV (extra environment for roamd, e.g. "ROAMD_NO_GSO=1").
set -u
cd "$(dirname "$0")/.."
TOP=$PWD
ROAMD=${ROAM_ROAMD:-$TOP/build/roamd}
ROUNDS=${BENCH_ROUNDS:-3}
SECS=${BENCH_SECS:-5}
PEER_SIZES=${BENCH_PEERS:-"1000 10000 100000"}
PY=$(command -v /usr/bin/python3 || command -v python3)
OUT=$TOP/build/bench
mkdir -p "$OUT"

say() { echo "bench_tunnel: $*" >&2; }
if [ "$(id -u)" -ne 0 ]; then
	say "needs root (network namespaces); skipped"
	exit 0
fi
for tool in iperf3 wireguard-go wg ip ping; do
	command -v "$tool" >/dev/null || { say "$tool is missing; skipped"; exit 0; }
done
[ -x "$ROAMD" ] || { say "$ROAMD is missing (run make); skipped"; exit 0; }

# Names: bt<PID><letter>; the PID keeps concurrent runs apart, and UAPI
# sockets live in one directory shared by every namespace.
P="bt$$"
NA=${P}a NB=${P}b NM=${P}m
TMP=$(mktemp -d "/tmp/${P}.XXXXXX")
PIDS=()
RESULTS=$TMP/results

NSES=("$NA" "$NB" "$NM")
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
trap bench_cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT


# emit NAME VALUE — a result line, also kept for the table.
emit() {
	echo "$1 $2"
	echo "$1 $2" >>"$RESULTS"
}

ip netns add "$NA" && ip netns add "$NB" && ip netns add "$NM" || exit 0
for ns in "$NA" "$NB" "$NM"; do ip -n "$ns" link set lo up; done
ip link add "${P}va" netns "$NA" type veth peer name "${P}vb" netns "$NB"
ip -n "$NA" addr add 192.0.2.1/24 dev "${P}va"
ip -n "$NB" addr add 192.0.2.2/24 dev "${P}vb"
ip -n "$NA" -6 addr add fd00:1::1/64 dev "${P}va" nodad
ip -n "$NB" -6 addr add fd00:1::2/64 dev "${P}vb" nodad
ip -n "$NA" link set "${P}va" up
ip -n "$NB" link set "${P}vb" up

# One iperf3 server for the whole run (it serves one test at a time).
ip netns exec "$NB" iperf3 -s >/dev/null 2>&1 &
PIDS+=($!)
until_ok 5 bash -c "[ -n \"\$(ip netns exec $NB ss -Hltn 'sport = :5201')\" ]"

umask 077
wg genkey >"$TMP/a.key" && wg genkey >"$TMP/b.key"
PUB_A=$(wg pubkey <"$TMP/a.key")
PUB_B=$(wg pubkey <"$TMP/b.key")

# ---------------------------------------------------------------------------
# Throughput and latency

# iperf3 CLIENT_NS ARGS... — one run; prints "gbps loss_pct" (loss 0 for TCP).
run_iperf() {
	local ns=$1
	shift
	ip netns exec "$ns" timeout $((SECS + 20)) iperf3 -J -t "$SECS" "$@" >"$TMP/iperf.json" 2>/dev/null
	"$PY" - "$TMP/iperf.json" <<'EOF'
import json, sys
try:
    j = json.load(open(sys.argv[1]))
    e = j["end"]
    if "sum" in e and "lost_percent" in e["sum"]:
        r = e.get("sum_received", e["sum"])
        print("%.3f %.2f" % (r["bits_per_second"] / 1e9, r["lost_percent"]))
    else:
        print("%.3f 0" % (e["sum_received"]["bits_per_second"] / 1e9))
except Exception:
    print("0 100")
EOF
}

# ping_stats NS ADDR — "median p99" in ms over 200 pings.
ping_stats() {
	ip netns exec "$1" ping -c 200 -i 0.01 -W 1 "$2" 2>/dev/null | "$PY" -c '
import re, sys
t = sorted(float(m.group(1)) for m in (re.search(r"time=([0-9.]+)", l) for l in sys.stdin) if m)
if not t:
    print("0 0")
else:
    print("%.3f %.3f" % (t[len(t) // 2], t[min(len(t) - 1, int(len(t) * 0.99))]))
'
}

# cpu_now [PID...] — "host_total host_idle pid_ticks..." in clock ticks.
cpu_now() {
	local p line
	line=$(awk 'NR == 1 {t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $5 + $6}' /proc/stat)
	for p in "$@"; do
		line+=" $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)"
	done
	echo "$line"
}

# cpu_emit LABEL BEFORE AFTER — the host's busy share and each daemon's
# share of one core over a run (where the time went, not a target).
cpu_emit() {
	local label=$1
	read -r -a x <<<"$2"
	read -r -a y <<<"$3"
	local total=$((y[0] - x[0])) ncpu
	ncpu=$(nproc)
	((total > 0)) || return 0
	emit "${label}_host_busy_pct" $((100 - 100 * (y[1] - x[1]) / total))
	[ ${#y[@]} -ge 4 ] || return 0
	emit "${label}_daemon_a_core_pct" $((100 * ncpu * (y[2] - x[2]) / total))
	emit "${label}_daemon_b_core_pct" $((100 * ncpu * (y[3] - x[3]) / total))
}

# measure LABEL ADDR_B ADDR_A — TCP both ways, UDP, pings; emits LABEL's figures.
measure() {
	local label=$1 b=$2 a=$3 r c0 pids=()
	[ -n "$a" ] && pids=("$DA" "$DB")
	c0=$(cpu_now "${pids[@]}")
	r=$(run_iperf "$NA" -c "$b")
	cpu_emit "${label/IMPL/cpu_tcp_ab}" "$c0" "$(cpu_now "${pids[@]}")"
	emit "${label/IMPL/tcp_ab}_gbps" "${r% *}"
	r=$(run_iperf "$NA" -c "$b" -R)
	emit "${label/IMPL/tcp_ba}_gbps" "${r% *}"
	r=$(run_iperf "$NA" -c "$b" -u -b 0 -l 1300)
	emit "${label/IMPL/udp}_gbps" "${r% *}"
	emit "${label/IMPL/udp}_loss_pct" "${r#* }"
	# The same with 4 MB socket buffers at both iperf3 ends (rmem_max
	# permitting): how much of the loss is the receiving application's
	# socket overflowing while it waits for a core, not the tunnel.
	r=$(run_iperf "$NA" -c "$b" -u -b 0 -l 1300 -w 4M)
	emit "${label/IMPL/udpw}_gbps" "${r% *}"
	emit "${label/IMPL/udpw}_loss_pct" "${r#* }"
	[ -n "$a" ] || return 0
	r=$(ping_stats "$NA" "$b")
	emit "${label/IMPL/rtt}_median_ms" "${r% *}"
	emit "${label/IMPL/rtt}_p99_ms" "${r#* }"
}

# start_daemon IMPL NS IFNAME — foreground daemon, pid in $DPID, waits for
# its UAPI socket.
start_daemon() {
	local impl=$1 ns=$2 dev=$3 envs=()
	[ "$impl" = "$ROAMD" ] && [ -n "${ROAMD_ENV:-}" ] && read -r -a envs <<<"$ROAMD_ENV"
	ip netns exec "$ns" env WG_PROCESS_FOREGROUND=1 "${envs[@]}" "$impl" "$dev" \
		</dev/null >>"$TMP/$dev.log" 2>&1 &
	DPID=$!
	PIDS+=("$DPID")
	until_ok 10 bash -c "[ -S /var/run/wireguard/$dev.sock ] && ip netns exec $ns wg show $dev"
}

stop_daemon() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 60; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# tunnel_up IMPL TAG — both ends, configured, handshake done. Sets DA DB.
tunnel_up() {
	local impl=$1 tag=$2
	DEV_A=${P}${tag}a DEV_B=${P}${tag}b
	start_daemon "$impl" "$NA" "$DEV_A" || return 1
	DA=$DPID
	start_daemon "$impl" "$NB" "$DEV_B" || return 1
	DB=$DPID
	ip netns exec "$NA" wg set "$DEV_A" private-key "$TMP/a.key" listen-port 51820 \
		peer "$PUB_B" endpoint 192.0.2.2:51820 allowed-ips 198.18.0.2/32,fd00:2::2/128 &&
		ip netns exec "$NB" wg set "$DEV_B" private-key "$TMP/b.key" listen-port 51820 \
			peer "$PUB_A" endpoint 192.0.2.1:51820 allowed-ips 198.18.0.1/32,fd00:2::1/128 || return 1
	ip -n "$NA" link set "$DEV_A" mtu 1420 up && ip -n "$NB" link set "$DEV_B" mtu 1420 up &&
		ip -n "$NA" addr add 198.18.0.1/32 dev "$DEV_A" && ip -n "$NB" addr add 198.18.0.2/32 dev "$DEV_B" &&
		ip -n "$NA" route add 198.18.0.2/32 dev "$DEV_A" && ip -n "$NB" route add 198.18.0.1/32 dev "$DEV_B" ||
		return 1
	until_ok 10 ip netns exec "$NA" ping -c 1 -W 1 198.18.0.2
}

tunnel_down() {
	stop_daemon "$DA"
	stop_daemon "$DB"
}

say "plain veth (the ceiling)"
measure "tunnel.IMPL_veth" 192.0.2.2 ""

for ((round = 1; round <= ROUNDS; round++)); do
	for impl in roamd wggo; do
		bin=$ROAMD
		[ "$impl" = wggo ] && bin=wireguard-go
		say "round $round: $impl"
		if ! tunnel_up "$bin" "${impl:0:1}$round"; then
			say "$impl: tunnel did not come up; its logs:"
			tail -n 5 "$TMP"/*.log >&2
			tunnel_down
			continue
		fi
		measure "tunnel.r${round}.IMPL_${impl}" 198.18.0.2 198.18.0.1
		tunnel_down
	done
done

# ---------------------------------------------------------------------------
# Handshakes per core

if [ -x build/bench/bench_core ]; then
	say "handshakes (bench_core on one core)"
	cpu=$(($(nproc) - 1))
	core=$(taskset -c "$cpu" build/bench/bench_core 2>/dev/null)
	hs=$(awk '$1 == "core.handshakes_per_sec" {print $2}' <<<"$core")
	x=$(awk '$1 == "core.x25519_per_sec" {print $2}' <<<"$core")
	if [ -n "$hs" ] && [ -n "$x" ]; then
		emit tunnel.handshakes_per_sec "$hs"
		emit tunnel.x25519_per_sec "$x"
	fi
fi

# ---------------------------------------------------------------------------
# Memory and configuration time

# make_conf N FILE — N peers with random keys, each a /32 in 198.18.0.0/15
# and a /128 in fd00:3::/64. Random bytes are valid-looking public keys; the
# daemons cannot tell, and generating real ones would dominate the run.
make_conf() {
	"$PY" - "$1" "$2" "$TMP/a.key" <<'EOF'
import base64, os, sys
n, path = int(sys.argv[1]), sys.argv[2]
priv = open(sys.argv[3]).read().strip()
out = ["[Interface]", "PrivateKey = " + priv, "ListenPort = 51999"]
for i in range(n):
    v = 0xC6120000 + i + 1  # 198.18.0.0 + i + 1
    out += ["[Peer]", "PublicKey = " + base64.b64encode(os.urandom(32)).decode(),
            "AllowedIPs = %d.%d.%d.%d/32, fd00:3::%x:%x/128" % (v >> 24, v >> 16 & 255, v >> 8 & 255, v & 255, (i + 1) >> 16, (i + 1) & 0xffff)]
open(path, "w").write("\n".join(out) + "\n")
EOF
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# time_ms CMD... — runs CMD, prints its wall time in ms.
time_ms() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null 2>&1
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}

for n in $PEER_SIZES; do
	make_conf "$n" "$TMP/peers.conf"
	for impl in roamd wggo; do
		bin=$ROAMD
		[ "$impl" = wggo ] && bin=wireguard-go
		dev=${P}${impl:0:1}m
		say "memory: $impl with $n peers"
		start_daemon "$bin" "$NM" "$dev" || { say "$impl did not start"; continue; }
		pid=$DPID
		before=$(rss_kb "$pid")
		t_set=$(time_ms ip netns exec "$NM" timeout 600 wg setconf "$dev" "$TMP/peers.conf")
		t_dump=$(time_ms ip netns exec "$NM" timeout 600 wg show "$dev" dump)
		after=$(rss_kb "$pid")
		count=$(ip netns exec "$NM" wg show "$dev" peers | wc -l)
		[ "$count" = "$n" ] || say "$impl: $count of $n peers configured"
		emit "tunnel.mem_${impl}_${n}_rss_kb" "$after"
		emit "tunnel.mem_${impl}_${n}_bytes_per_peer" $(((after - before) * 1024 / n))
		emit "tunnel.setconf_${impl}_${n}_ms" "$t_set"
		emit "tunnel.dump_${impl}_${n}_ms" "$t_dump"
		stop_daemon "$pid"
	done
done

# ---------------------------------------------------------------------------
# Medians, ratios, the table

"$PY" - "$RESULTS" "$ROUNDS" "$OUT/tunnel.json" "$PEER_SIZES" <<'EOF'
import json, statistics, sys
res = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    res[k] = float(v)
rounds, sizes = int(sys.argv[2]), [int(s) for s in sys.argv[4].split()]

def med(metric, impl):
    vals = [res[k] for k in ("tunnel.r%d.%s_%s%s" % (r, metric[0], impl, metric[1]) for r in range(1, rounds + 1)) if k in res]
    return (statistics.median(vals), vals) if vals else (None, [])

def ratio(a, b):
    return a / b if a is not None and b else None

rows, out = [], {}
def line(name, value):
    if value is not None:
        out[name] = value
        print("%s %.4g" % (name, value))

metrics = [("tcp_ab", "_gbps", "TCP a->b Gbit/s", ">= 8"), ("tcp_ba", "_gbps", "TCP b->a Gbit/s", ">= 8"),
           ("udp", "_gbps", "UDP 1300 B Gbit/s", ">= 8"), ("udp", "_loss_pct", "UDP loss %", ""),
           ("udpw", "_gbps", "UDP -w 4M Gbit/s", ""), ("udpw", "_loss_pct", "UDP -w 4M loss %", ""),
           ("rtt", "_median_ms", "RTT median ms", "<= 1"), ("rtt", "_p99_ms", "RTT p99 ms", "<= 1"),
           ("cpu_tcp_ab", "_host_busy_pct", "TCP a->b: host busy %", ""),
           ("cpu_tcp_ab", "_daemon_a_core_pct", "  sender daemon %core", ""),
           ("cpu_tcp_ab", "_daemon_b_core_pct", "  recv. daemon %core", "")]
for m, suffix, title, target in metrics:
    r, rv = med((m, suffix), "roamd")
    w, wv = med((m, suffix), "wggo")
    veth = res.get("tunnel.%s_veth%s" % (m, suffix))
    line("tunnel.%s_roamd%s" % (m, suffix), r)
    line("tunnel.%s_wggo%s" % (m, suffix), w)
    rt = ratio(r, w) if not suffix.endswith("_pct") else None
    line("tunnel.%s%s_ratio" % (m, suffix.replace("_gbps", "").replace("_ms", "")), rt)
    rows.append((title, r, w, veth, rt, target, rv, wv))

hs, x = res.get("tunnel.handshakes_per_sec"), res.get("tunnel.x25519_per_sec")
hs_ratio = ratio(hs, x / 4) if hs and x else None
line("tunnel.handshakes_vs_x25519_over_4", hs_ratio)
mem = []
for n in sizes:
    r = res.get("tunnel.mem_roamd_%d_bytes_per_peer" % n)
    w = res.get("tunnel.mem_wggo_%d_bytes_per_peer" % n)
    line("tunnel.mem_per_peer_%d_ratio" % n, ratio(r, w))
    rs, ws = res.get("tunnel.setconf_roamd_%d_ms" % n), res.get("tunnel.setconf_wggo_%d_ms" % n)
    line("tunnel.setconf_%d_ratio" % n, ratio(rs, ws))
    rd, wd = res.get("tunnel.dump_roamd_%d_ms" % n), res.get("tunnel.dump_wggo_%d_ms" % n)
    mem.append((n, r, w, rs, ws, rd, wd, res.get("tunnel.mem_roamd_%d_rss_kb" % n), res.get("tunnel.mem_wggo_%d_rss_kb" % n)))

f = lambda v, fmt="%.3g": "-" if v is None else fmt % v
print()
print("%-20s %9s %9s %9s %8s %7s   %s" % ("tunnel (medians)", "roamd", "wg-go", "veth", "ratio", "target", "rounds roamd | wg-go"))
for title, r, w, veth, rt, target, rv, wv in rows:
    print("%-20s %9s %9s %9s %8s %7s   %s | %s" % (title, f(r), f(w), f(veth), f(rt, "%.2f"), target,
          " ".join(f(v) for v in rv), " ".join(f(v) for v in wv)))
print("%-20s %9s %9s %9s %8s %7s" % ("handshakes/s/core", f(hs, "%.0f"), "-", f(x and x / 4, "%.0f") + "*", f(hs_ratio, "%.2f"), ">= 0.8"))
print("  (* X25519/s / 4 on the same core: the ceiling)")
print("%-20s %9s %9s %9s %9s %9s %9s %9s %9s" % ("peers", "B/peer", "wg-go", "ratio", "setconf", "wg-go", "dump", "wg-go", "RSS MB"))
for n, r, w, rs, ws, rd, wd, rk, wk in mem:
    print("%-20d %9s %9s %9s %8sms %7sms %7sms %7sms %4s|%-4s" % (n, f(r, "%.0f"), f(w, "%.0f"), f(ratio(r, w), "%.2f"),
          f(rs, "%.0f"), f(ws, "%.0f"), f(rd, "%.0f"), f(wd, "%.0f"), f(rk and rk / 1024, "%.0f"), f(wk and wk / 1024, "%.0f")))
print("  targets: B/peer ratio <= 0.25, setconf of the largest no slower than wireguard-go")
json.dump({"figures": res, "summary": out,
           "table": {"throughput_latency": [dict(zip(("metric", "roamd", "wireguard_go", "veth", "ratio", "target", "roamd_rounds", "wggo_rounds"), r)) for r in rows],
                     "handshakes": {"per_sec": hs, "x25519_per_sec": x, "ratio_to_x25519_over_4": hs_ratio},
                     "memory": [dict(zip(("peers", "roamd_bytes_per_peer", "wggo_bytes_per_peer", "roamd_setconf_ms", "wggo_setconf_ms", "roamd_dump_ms", "wggo_dump_ms", "roamd_rss_kb", "wggo_rss_kb"), m)) for m in mem]}},
          open(sys.argv[3], "w"), indent=1)
print("(table also in %s)" % sys.argv[3])
EOF
