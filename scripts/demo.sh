#!/usr/bin/env bash
# make demo: two namespaces, a tunnel, a roaming phone.
#
#   ns server  lo 203.0.113.1 (its "public" address)
#              wifi     192.0.2.1/24     ==veth==  192.0.2.2/24     ns phone
#              cellular 198.51.100.1/24  ==veth==  198.51.100.2/24
#   roamd      198.18.0.1               <=====>   198.18.0.2       roamd
#
# The phone reaches the server over wifi, pings through the tunnel, then
# wifi goes away: the phone's packets now come from its cellular address,
# the server follows (roaming), and the same session carries on. Both sides
# print `wg show`. Run as root (make demo builds first); leaves nothing
# behind. Uses tests/integration/lib.sh for namespaces and daemons.
# shellcheck disable=SC2015 # `a && b || die` is meant
set -u
cd "$(dirname "$0")/.." || exit 1

if [ "$(id -u)" -ne 0 ]; then
	echo "make demo: needs root (it creates network namespaces)" >&2
	exit 1
fi
if [ ! -x build/roamd ]; then
	echo "make demo: build/roamd is missing; run make first" >&2
	exit 1
fi
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
# lib.sh's exit trap reports test results; a demo only cleans up.
trap 'RT_FINISHED=1; rt_cleanup' EXIT

ROAMD=$PWD/build/roamd
SRV=$(rt_name server) PH=$(rt_name phone) WS=$(rt_name ws) WP=$(rt_name wp)

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() {
	echo "make demo: $*" >&2
	exit 1
}
run() {
	echo "\$ $*"
	"$@"
}

say "Two namespaces, 'server' and 'phone', joined by a wifi and a cellular link"
ns_create "$SRV" "$PH" &&
	link_ns "$SRV" "$PH" 192.0.2.1/24 192.0.2.2/24 &&
	link_ns "$SRV" "$PH" 198.51.100.1/24 198.51.100.2/24 &&
	ip -n "$SRV" addr add 203.0.113.1/32 dev lo &&
	ip -n "$PH" route add 203.0.113.1/32 via 192.0.2.1 || die "could not build the namespaces"
WIFI=$(link_name 1 b)
echo "server: 203.0.113.1 (public), 192.0.2.1 (wifi side), 198.51.100.1 (cellular side)"
echo "phone:  192.0.2.2 on wifi, 198.51.100.2 on cellular; reaches 203.0.113.1 via wifi"

say "roamd in each namespace"
wg_start "$ROAMD" "$SRV" "$WS" && wg_start "$ROAMD" "$PH" "$WP" || die "roamd did not start"
wg_genkey server && wg_genkey phone || die "wg genkey failed"
echo "started: roamd $WS (server), roamd $WP (phone)"

say "Configure the tunnel with wg"
run wg_set "$SRV" "$WS" private-key "$(key_file server)" listen-port 51820 \
	peer "$(key_pub phone)" allowed-ips 198.18.0.2/32 || die "wg set failed"
run wg_set "$PH" "$WP" private-key "$(key_file phone)" \
	peer "$(key_pub server)" endpoint 203.0.113.1:51820 allowed-ips 198.18.0.1/32 \
	persistent-keepalive 25 || die "wg set failed"
wg_ifup "$SRV" "$WS" 198.18.0.1/24 "" && wg_ifup "$PH" "$WP" 198.18.0.2/24 "" || die "ip link set up failed"

say "Ping the server through the tunnel, from the phone on wifi"
run nsx "$PH" ping -c 3 -i 0.3 198.18.0.1 || die "no answer through the tunnel"

say "wg show on the server"
wg_show "$SRV" "$WS"
say "wg show on the phone"
wg_show "$PH" "$WP"

say "The phone leaves wifi: its wifi address is gone, traffic goes over cellular"
run ip -n "$PH" link del "$WIFI"
run ip -n "$PH" route add 203.0.113.1/32 via 198.51.100.1
run nsx "$PH" ping -c 3 -i 0.3 198.18.0.1 || die "the tunnel did not survive the move"

say "The server followed the phone to its new address, same session"
grep -h "endpoint" "$RT_TMP/$WS.log" | sed 's/^/  server log: /'
say "wg show on the server"
wg_show "$SRV" "$WS"
say "wg show on the phone"
wg_show "$PH" "$WP"

say "Done; cleaning up"
