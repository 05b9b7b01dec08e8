#!/usr/bin/env bash
# bench_metrics_scrape: how long a Prometheus scrape of a server with 100,000
# peers takes (the issue's bound: under 1 s). roamd runs in a namespace with
# BENCH_PEERS peers (random public keys, a /32 each out of 198.18.0.0/15),
# given through its UAPI socket as set=1 requests of 10,000 peers; then
#   metrics_get2_100k_s          roamd's part: its get=2 reply, read and dropped
#   metrics_scrape_100k_s        `roam metrics IFNAME`, best of BENCH_REPEAT (wall;
#                                _cpu_s: roam's user + system time in that run)
#   metrics_scrape_100k_compat_s the same with --compat=prometheus_wireguard_exporter
#   metrics_http_scrape_100k_s   a GET /metrics from `roam metrics --listen` (curl)
#   metrics_get2_100k_roamd_cpu_s roamd's CPU time (user + system) for one get=2
#   metrics_scrape_goal_s        the issue's bound, 1
#   metrics_scrape_met           1 when both scrapes (plain and HTTP) took under
#                                it, else 0; also said in words with the load
#                                average, which a loaded machine's wall times
#                                depend on (its CPU times much less)
# Each run asks roamd anew (get=2), parses the reply and writes the text, as a
# scrape does.
# Knobs: BENCH_PEERS (100000), BENCH_REPEAT (3), ROAM_ROAMD, ROAM_ROAM.
set -u
cd "$(dirname "$0")/.." || exit 1
TOP=$PWD
ROAMD=${ROAM_ROAMD:-$TOP/build/roamd}
ROAM=${ROAM_ROAM:-$TOP/build/roam}
PEERS=${BENCH_PEERS:-100000}
REPEAT=${BENCH_REPEAT:-3}
PY=$(command -v /usr/bin/python3 || command -v python3)

say() { echo "bench_metrics_scrape: $*" >&2; }
if [ "$(id -u)" -ne 0 ]; then
	say "needs root (network namespaces); skipped"
	exit 0
fi
for tool in wg ip curl; do
	command -v "$tool" >/dev/null || { say "$tool is missing; skipped"; exit 0; }
done
[ -x "$ROAMD" ] && [ -x "$ROAM" ] || { say "build/roamd or build/roam is missing (run make); skipped"; exit 0; }

P="bm$$"
NA=${P}a DEV=${P}wm
TMP=$(mktemp -d "/tmp/${P}.XXXXXX")
PIDS=()
NSES=("$NA")
. "$(dirname "$0")/lib.sh"
trap bench_cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

ip netns add "$NA" && ip -n "$NA" link set lo up || exit 1
ip netns exec "$NA" env WG_PROCESS_FOREGROUND=1 "$ROAMD" "$DEV" </dev/null >"$TMP/roamd.log" 2>&1 &
PIDS+=($!)
until_ok 10 ip netns exec "$NA" wg show "$DEV" || { say "roamd did not start"; tail "$TMP/roamd.log" >&2; exit 1; }
(umask 077 && wg genkey >"$TMP/key") && ip netns exec "$NA" wg set "$DEV" private-key "$TMP/key" listen-port 51820 || exit 1

# The peers, in set=1 requests of 10,000 straight to the socket.
"$PY" - "/var/run/wireguard/$DEV.sock" "$PEERS" <<'PY' || { say "adding peers failed"; exit 1; }
import os, socket, sys
path, n = sys.argv[1], int(sys.argv[2])
for start in range(0, n, 10000):
    lines = ["set=1"]
    for i in range(start, min(n, start + 10000)):
        a = 198 << 24 | 18 << 16 | i          # 198.18.0.0/15 holds 131,072 addresses
        lines += ["public_key=" + os.urandom(32).hex(),
                  "allowed_ip=%d.%d.%d.%d/32" % (a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255)]
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(("\n".join(lines) + "\n\n").encode())
    reply = b""
    while not reply.endswith(b"\n\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        reply += chunk
    if b"errno=0" not in reply:
        sys.exit("set=1 failed: %r" % reply)
    s.close()
PY
have=$(ip netns exec "$NA" wg show "$DEV" peers | wc -l)
[ "$have" -eq "$PEERS" ] || { say "roamd has $have peers, not $PEERS"; exit 1; }

# best_of CMD... — "REAL CPU": the shortest wall time of REPEAT runs and the
# CPU time (user + system) of that run, in seconds. The CPU time is roam's
# own (roamd's share is in get2_s): on a loaded machine the wall time also
# holds the waits for a CPU.
best_of() {
	local i r u s best="" cpu=""
	for ((i = 0; i < REPEAT; i++)); do
		read -r r u s < <({ TIMEFORMAT='%R %U %S'; time "$@" >"$TMP/out" 2>/dev/null; } 2>&1) || return 1
		[ -s "$TMP/out" ] || { say "failed: $*"; return 1; }
		if [ -z "$best" ] || awk -v a="$r" -v b="$best" 'BEGIN { exit !(a < b) }'; then
			best=$r cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.3f", u + s }')
		fi
	done
	echo "$best $cpu"
}

# roamd's part alone: the get=2 reply of every peer, read and dropped.
get2() {
	ip netns exec "$NA" "$PY" - "/var/run/wireguard/$DEV.sock" <<-'PY'
	import socket, sys
	s = socket.socket(socket.AF_UNIX)
	s.connect(sys.argv[1])
	s.sendall(b"get=2\n\n")
	tail = b""
	while not tail.endswith(b"\n\n"):
	    chunk = s.recv(1 << 20)
	    if not chunk:
	        break
	    tail = (tail + chunk)[-16:]
	print("ok")
	PY
}

# roamd's CPU ticks so far (utime + stime, /proc/PID/stat fields 14, 15).
roamd_ticks() { awk '{ print $14 + $15 }' "/proc/${PIDS[0]}/stat"; }
ticks0=$(roamd_ticks)
read -r get2_s _ < <(best_of get2) || exit 1
get2_cpu=$(awk -v a="$ticks0" -v b="$(roamd_ticks)" -v hz="$(getconf CLK_TCK)" -v n="$REPEAT" \
	'BEGIN { printf "%.3f", (b - a) / hz / n }')
read -r plain plain_cpu < <(best_of ip netns exec "$NA" "$ROAM" metrics "$DEV") || exit 1
samples=$(grep -vc '^#' "$TMP/out")
read -r compat compat_cpu < <(best_of ip netns exec "$NA" "$ROAM" metrics "$DEV" --compat=prometheus_wireguard_exporter) || exit 1
csamples=$(grep -vc '^#' "$TMP/out")
ip netns exec "$NA" "$ROAM" metrics "$DEV" --listen 127.0.0.1:9586 </dev/null >"$TMP/serve.log" 2>&1 &
PIDS+=($!)
until_ok 10 ip netns exec "$NA" curl -sf -o /dev/null http://127.0.0.1:9586/metrics || { say "--listen did not answer"; exit 1; }
read -r http _ < <(best_of ip netns exec "$NA" curl -sf http://127.0.0.1:9586/metrics) || exit 1

load=$(cut -d' ' -f1 /proc/loadavg)
met=$(awk -v a="$plain" -v b="$http" 'BEGIN { print (a < 1 && b < 1) ? "yes" : "no" }')
say "$PEERS peers: $samples samples, $csamples with --compat; load average $load on $(nproc) CPUs"
echo "metrics_scrape_goal: a scrape of $PEERS peers under 1 s: met=$met (roam metrics ${plain} s, over HTTP ${http} s; load average $load on $(nproc) CPUs)"
echo "metrics_peers $PEERS"
echo "metrics_get2_100k_s $get2_s"
echo "metrics_scrape_100k_s $plain"
echo "metrics_scrape_100k_cpu_s $plain_cpu"
echo "metrics_scrape_100k_compat_s $compat"
echo "metrics_scrape_100k_compat_cpu_s $compat_cpu"
echo "metrics_http_scrape_100k_s $http"
echo "metrics_get2_100k_roamd_cpu_s $get2_cpu"
echo "metrics_scrape_goal_s 1"
echo "metrics_scrape_met $([ "$met" = yes ] && echo 1 || echo 0)"
echo "metrics_load_average $load"
