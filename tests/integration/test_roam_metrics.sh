#!/usr/bin/env bash
# roam metrics as dashboards use it: the series of prometheus_wireguard_exporter
# (--compat) with friendly_name from the file `roam up` read; a peer that roams
# 1,000 times (wireguard-go in B moves its source port, then sends through the
# tunnel) creating no new series but roam_peer_info's; and --listen scraped by
# the real Prometheus server (Debian's), queried through its HTTP API.
#
#   ns A  192.0.2.1/24  ==veth==  192.0.2.2/24  ns B
#   roamd (roam up) 198.18.0.1/24 <===> wireguard-go 198.18.0.2/24
# shellcheck disable=SC2317 # case functions are called through t_check
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROAM=${ROAM_BIN:-$ROOT/build/roam}
[ -x "$ROAM" ] || t_abort "build/roam is missing (run make)"
command -v prometheus >/dev/null || t_abort "prometheus is not installed (scripts/install-deps.sh --test)"

A=$(rt_name a) B=$(rt_name b) WA=$(rt_name wa) WB=$(rt_name wb)
STATE_DIR=/run/roam
METRICS_PORT=9586 PROM_PORT=9090
ROAMS=1000

metrics_cleanup() {
	[ -e "$STATE_DIR/$WA.state" ] && nsx "$A" timeout 20 "$ROAM" down "$WA" >/dev/null 2>&1
	rm -f "$STATE_DIR/$WA.state"
	return 0
}
trap 'rc=$?; metrics_cleanup; (exit $rc); rt_on_exit' EXIT

roam() {
	local ns=$1
	shift
	nsx "$ns" timeout 60 "$ROAM" "$@"
}

# make demo and make install install no Prometheus server: it is a test-only
# package (scripts/install-deps.sh --test), as are the other test tools.
test_only_packages() {
	local base all
	base=$(bash "$ROOT/scripts/install-deps.sh" --list) && all=$(bash "$ROOT/scripts/install-deps.sh" --list --test) || return 1
	! grep -qx prometheus <<<"$base" && ! grep -qx wireguard-go <<<"$base" && grep -qx prometheus <<<"$all" &&
		grep -qx libmicrohttpd-dev <<<"$base" || { echo "base: $base"; return 1; }
	make -C "$ROOT" -n demo | grep -q 'scripts/install-deps.sh$' &&
		! make -C "$ROOT" -n demo | grep -q 'install-deps.sh --test' &&
		! make -C "$ROOT" -n install | grep -q 'install-deps' &&
		make -C "$ROOT" -n test | grep -q 'install-deps.sh --test' || { make -C "$ROOT" -n demo | head; return 1; }
}
t_check "make demo/install need no test-only package (no Prometheus); make test installs them" test_only_packages

setup() {
	ns_create "$A" "$B" &&
		link_ns "$A" "$B" 192.0.2.1/24 192.0.2.2/24 &&
		wg_genkey a && wg_genkey b &&
		{
			echo "[Interface]"
			echo "PrivateKey = $(cat "$(key_file a)")"
			echo "ListenPort = 51820"
			echo "Address = 198.18.0.1/24"
			echo
			echo "[Peer]"
			echo "# friendly_name = Bob's laptop"
			echo "PublicKey = $(key_pub b)"
			echo "AllowedIPs = 198.18.0.2/32"
		} >"$RT_TMP/$WA.conf" && chmod 600 "$RT_TMP/$WA.conf" &&
		roam "$A" up "$RT_TMP/$WA.conf" &&
		wg_start wireguard-go "$B" "$WB" &&
		wg_set "$B" "$WB" private-key "$(key_file b)" listen-port 20000 \
			peer "$(key_pub a)" endpoint 192.0.2.1:51820 allowed-ips 198.18.0.1/32 &&
		wg_ifup "$B" "$WB" 198.18.0.2/24 "" &&
		wait_until 20 nsx "$B" ping -c 1 -W 1 -q 198.18.0.1
}
t_check "lab: roam up in A, wireguard-go in B, tunnel up" setup || t_finish

PUB_B=$(key_pub b)
scrape() { roam "$A" metrics "$WA" --compat=prometheus_wireguard_exporter; }

compat_series() {
	local m
	m=$(scrape) || return 1
	printf '%s\n' "$m" | promtool check metrics >"$RT_TMP/promtool.out" 2>&1 || {
		printf '%s\n' "$m"; cat "$RT_TMP/promtool.out"; return 1; }
	grep -qF "wireguard_sent_bytes_total{interface=\"$WA\",public_key=\"$PUB_B\",allowed_ips=\"198.18.0.2/32\",friendly_name=\"Bob's laptop\"} " <<<"$m" &&
		grep -qF "wireguard_received_bytes_total{interface=\"$WA\",public_key=\"$PUB_B\",allowed_ips=\"198.18.0.2/32\",friendly_name=\"Bob's laptop\"} " <<<"$m" &&
		grep -qE "^wireguard_latest_handshake_seconds\{interface=\"$WA\",public_key=\"[^\"]+\",allowed_ips=\"198.18.0.2/32\",friendly_name=\"Bob's laptop\"\} 1[0-9]{9}$" <<<"$m" &&
		! grep -q "^wireguard_peers_total" <<<"$m" &&
		grep -qxF "roam_interface_connected_peers{interface=\"$WA\"} 1" <<<"$m" &&
		grep -qxF "roam_peer_up{interface=\"$WA\",public_key=\"$PUB_B\"} 1" <<<"$m" &&
		grep -qE "^roam_peer_info\{interface=\"$WA\",public_key=\"[^\"]+\",endpoint=\"192\.0\.2\.2:20000\",path_mtu_origin=\"(interface|icmp|local|probe)\",allowed_ips=\"198\.18\.0\.2/32\",friendly_name=\"Bob's laptop\"\} 1$" <<<"$m" &&
		grep -qF "roam_peer_handshake_age_seconds{interface=\"$WA\",public_key=\"$PUB_B\"} " <<<"$m" || {
		printf '%s\n' "$m"; return 1; }
}
t_check "--compat: the exporter's series and labels, friendly_name from the ledger's file; promtool passes" compat_series

openmetrics_compat() {
	local m
	m=$(roam "$A" metrics "$WA" --openmetrics --compat prometheus_wireguard_exporter) || return 1
	printf '%s\n' "$m" | "$RT_PY" -c '
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
names = [f.name for f in text_string_to_metric_families(sys.stdin.read())]
assert "wireguard_sent_bytes" in names and "roam_peer_info" in names, names
' || { printf '%s\n' "$m"; return 1; }
}
t_check "--openmetrics --compat passes an OpenMetrics parser" openmetrics_compat

# A daemon that does not answer (stopped here; hung or overloaded in life)
# is named in a scrape of every interface, not left out in silence; the
# others are still there, and the exit status says something failed.
unanswered_marked() {
	local pid m rc
	pid=$(nsx "$A" pgrep -x -f "roamd $WA" | head -n 1) || pid=""
	[ -n "$pid" ] || pid=$(pgrep -f "roamd.* $WA\$" | head -n 1)
	[ -n "$pid" ] || { echo "no roamd for $WA"; return 1; }
	kill -STOP "$pid" || return 1
	m=$(roam "$A" metrics 2>"$RT_TMP/unanswered.err")
	rc=$?
	kill -CONT "$pid"
	grep -qxF "roam_interface_answered{interface=\"$WA\"} 0" <<<"$m" &&
		grep -qxF "roam_interface_answered{interface=\"$WB\"} 1" <<<"$m" &&
		grep -qF "roam_peer_up{interface=\"$WB\"," <<<"$m" &&
		! grep -qF "roam_interface_peers{interface=\"$WA\"}" <<<"$m" &&
		[ "$rc" -eq 1 ] && grep -qF "$WA" "$RT_TMP/unanswered.err" || {
		echo "rc=$rc"; cat "$RT_TMP/unanswered.err"; grep -F "$WA" <<<"$m"; return 1; }
	# and once it runs again, answered
	wait_until 10 eval 'roam "$A" metrics "$WA" | grep -qxF "roam_interface_answered{interface=\"$WA\"} 1"'
}
t_check "a stopped daemon: roam_interface_answered 0 for it in a scrape of all, the others there, exit 1" unanswered_marked

# The series (name and labels) of a scrape without values; roam_peer_info apart.
series() { grep -v '^#' | grep -v '^roam_peer_info{' | sed 's/ [^ ]*$//' | sort; }
changes() { scrape | sed -n "s/^roam_peer_endpoint_changes_total{.*} //p"; }

# B moves its source port N times, sending a datagram through the tunnel
# after each move: A's roamd sees an authenticated packet from a new port.
roam_b() {
	nsx "$B" "$RT_PY" - "$WB" "$1" "$2" <<'PY'
import socket, subprocess, sys
dev, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for port in range(first, first + n):
    subprocess.run(["wg", "set", dev, "listen-port", str(port)], check=True, timeout=10)
    s.sendto(b"roam", ("198.18.0.1", 9))
PY
}

thousand_roams() {
	local i port=20101 c0 c1 moves=0 infos
	# Before the baseline, B does once what brings the series that appear
	# at the first evidence of a NAT (roam_peer_nat_mapping_*, the suggested
	# keepalive): a packet from the same port after 2 s of silence (a
	# mapping kept), then a move after 2 s of silence (a mapping lost).
	# The sleeps make the silences; the proof is the polling after them.
	roam_b 20001 100 || return 1
	sleep 2.2
	nsx "$B" "$RT_PY" -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"kept", ("198.18.0.1", 9))'
	sleep 2.2
	roam_b 30000 1 || return 1
	wait_until 5 eval 'scrape | grep -q "^roam_peer_suggested_keepalive_seconds{" &&
		scrape | grep -q "^roam_peer_nat_mapping_kept_idle_seconds{"' || { scrape | grep -E "nat|keepalive|changes|receive_age"; return 1; }
	scrape | series >"$RT_TMP/series.0" || return 1
	c0=$(changes)
	c1=$c0
	: >"$RT_TMP/infos"
	# Batches of 100 moves until A has seen $ROAMS endpoint changes (a
	# datagram can cross wireguard-go's rebinding and leave from the old
	# port, so a move is not always a roam); bounded at 13 batches.
	for ((i = 1; i <= 13 && c1 - c0 < ROAMS; i++)); do
		roam_b "$port" 100 || return 1
		port=$((port + 100)) moves=$((moves + 100))
		wait_until 2 eval '[ "$(changes)" -ge $((c1 + 95)) ]'
		scrape >"$RT_TMP/scrape" || return 1
		series <"$RT_TMP/scrape" >"$RT_TMP/series.$i"
		grep '^roam_peer_info{' "$RT_TMP/scrape" >>"$RT_TMP/infos"
		diff -u "$RT_TMP/series.0" "$RT_TMP/series.$i" || return 1
		c1=$(changes)
	done
	infos=$(sort -u "$RT_TMP/infos" | wc -l)
	echo "  figures: $((c1 - c0)) endpoint changes (roams) in A for $moves moves of B's port;" \
		"$(wc -l <"$RT_TMP/series.0") non-info series before and after every 100;" \
		"$infos distinct roam_peer_info series in $((i - 1)) scrapes" >&"$RT_OUT"
	[ "$((c1 - c0))" -ge "$ROAMS" ] && [ "$infos" -eq $((i - 1)) ]
}
t_check "$ROAMS roams of a peer create no new series but roam_peer_info's" thousand_roams

# --- --listen, scraped by Prometheus --------------------------------------------
serve() {
	nsx "$A" "$ROAM" metrics "$WA" --listen "127.0.0.1:$METRICS_PORT" --compat=prometheus_wireguard_exporter \
		</dev/null >"$RT_TMP/serve.log" 2>&1 {RT_OUT}>&- {RT_ERR}>&- &
	RT_PIDS+=($!)
	disown $! 2>/dev/null
	wait_until 10 nsx "$A" curl -sf "http://127.0.0.1:$METRICS_PORT/metrics"
}
http_scrape() {
	local h
	serve || { cat "$RT_TMP/serve.log"; return 1; }
	h=$(nsx "$A" curl -s -D - -o "$RT_TMP/http.txt" "http://127.0.0.1:$METRICS_PORT/metrics") || return 1
	grep -qi '^content-type: text/plain; version=0.0.4' <<<"$h" &&
		grep -qF "wireguard_latest_handshake_seconds{interface=\"$WA\"" "$RT_TMP/http.txt" &&
		promtool check metrics <"$RT_TMP/http.txt" >"$RT_TMP/promtool.out" 2>&1 &&
		[ "$(nsx "$A" curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$METRICS_PORT/")" = 404 ] &&
		[ "$(nsx "$A" curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$METRICS_PORT/metrics")" = 405 ] || {
		printf '%s\n' "$h"; cat "$RT_TMP/serve.log" "$RT_TMP/promtool.out"; return 1; }
}
t_check "--listen answers GET /metrics (text format 0.0.4, promtool passes), 404 elsewhere, 405 to a POST" http_scrape

# Ports outside 1-65535 (getaddrinfo would wrap 70000, and 0 binds a random
# one) and anything but digits are refused before anything is bound.
bad_ports() {
	local spec out
	for spec in 127.0.0.1:70000 127.0.0.1:65536 127.0.0.1:0 :+9586 "127.0.0.1: 9586" 127.0.0.1:; do
		out=$(nsx "$A" timeout 5 "$ROAM" metrics "$WA" --listen "$spec" 2>&1) && { echo "'$spec' was served"; return 1; }
		grep -q "ADDR:PORT\|from 1 to 65535" <<<"$out" || { echo "'$spec': $out"; return 1; }
	done
}
t_check "--listen refuses ports outside 1-65535 and ports that are not plain digits" bad_ports

prometheus_query() {
	local q
	cat >"$RT_TMP/prometheus.yml" <<-YML
	global:
	  scrape_interval: 1s
	scrape_configs:
	  - job_name: roam
	    static_configs:
	      - targets: ["127.0.0.1:$METRICS_PORT"]
	YML
	nsx "$A" prometheus --config.file="$RT_TMP/prometheus.yml" --storage.tsdb.path="$RT_TMP/tsdb" \
		--web.listen-address="127.0.0.1:$PROM_PORT" </dev/null >"$RT_TMP/prometheus.log" 2>&1 \
		{RT_OUT}>&- {RT_ERR}>&- &
	RT_PIDS+=($!)
	disown $! 2>/dev/null
	q="http://127.0.0.1:$PROM_PORT/api/v1/query?query=roam_peer_handshake_age_seconds"
	# Prometheus answers once it has started and scraped at least once.
	if ! wait_until 40 eval "nsx \"$A\" curl -sf '$q' | grep -qF '\"public_key\":\"$PUB_B\"'"; then
		tail -n 20 "$RT_TMP/prometheus.log"
		nsx "$A" curl -s "$q"
		return 1
	fi
	nsx "$A" curl -s "$q" >"$RT_TMP/answer.json"
	echo "  figures: $(cat "$RT_TMP/answer.json")" >&"$RT_OUT"
	"$RT_PY" - "$RT_TMP/answer.json" "$PUB_B" "$WA" <<-'PY'
	import json, sys
	r = json.load(open(sys.argv[1]))
	assert r["status"] == "success", r
	(s,) = r["data"]["result"]
	assert s["metric"]["public_key"] == sys.argv[2] and s["metric"]["interface"] == sys.argv[3], s
	assert s["metric"]["job"] == "roam", s
	age = float(s["value"][1])
	assert 0 <= age < 180, age
	PY
	[ $? -eq 0 ] && nsx "$A" curl -sf "http://127.0.0.1:$PROM_PORT/api/v1/query?query=wireguard_latest_handshake_seconds" |
		grep -qF "\"friendly_name\":\"Bob's laptop\""
}
t_check "Prometheus scrapes --listen; its HTTP API returns the peer's handshake age" prometheus_query

t_finish
