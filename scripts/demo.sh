#!/usr/bin/env bash
# make demo: the story of docs/roaming.md. A phone's tunnel comes up over Wi-Fi, traffic
# flows, the phone walks out of the office onto LTE (a carrier-grade NAT with
# random ports), and the tunnel carries on. Printed: the server's view of the
# phone before and after the move (`roam show`: endpoint, latest handshake,
# roaming history) and how long the phone was unreachable.
#
# The network is the roaming lab of the integration tests
# (tests/integration/lab_nat.sh): the phone with two uplinks, each router
# doing masquerade with short UDP timeouts, an "internet" namespace and a
# server. roamd runs at both ends; the phone has PersistentKeepalive 25, as a
# mobile client would.
#
# While the phone moves, the *server* is the one talking (it pings the phone
# at 50 Hz, like a server pushing notifications): it can only reach the phone
# once it has learnt the phone's new public address, from an authenticated
# packet. A phone that waited for its next keepalive would be unreachable for
# up to 25 s; roamd notices the route change and tells the server at once.
#
# Run as root (make demo builds first); leaves nothing behind.
# shellcheck disable=SC2015 # `a && b || die` is meant
set -u
cd "$(dirname "$0")/.." || exit 1

if [ "$(id -u)" -ne 0 ]; then
	echo "make demo: needs root (it creates network namespaces)" >&2
	exit 1
fi
for b in build/roamd build/roam; do
	[ -x "$b" ] || { echo "make demo: $b is missing; run make first" >&2; exit 1; }
done
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
# shellcheck source=tests/integration/lab_nat.sh
. tests/integration/lab_nat.sh
# lib.sh's exit trap reports test results; a demo only cleans up.
trap 'RT_FINISHED=1; rt_cleanup' EXIT

ROAMD=$PWD/build/roamd ROAM=$PWD/build/roam
KEEPALIVE=25

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() {
	echo "make demo: $*" >&2
	exit 1
}
server_view() {
	echo "\$ roam show $LAB_WG_SERVER        (on the server)"
	nsx "$LAB_SERVER" "$ROAM" show "$LAB_WG_SERVER" | sed 's/^/  /'
}

say "The network: a phone with Wi-Fi and LTE, each behind its own NAT, and a server"
lab_up demo || die "could not build the lab"
cat <<EOF
  phone  Wi-Fi $LAB_PH_WIFI4 -> home router, NAT to $LAB_WIFI_PUB4
         LTE   $LAB_PH_LTE4 -> carrier NAT (random ports) to $LAB_LTE_PUB4
  server $LAB_SRV4:$LAB_PORT, across the "internet"
  tunnel phone $LAB_TUN_PH4  <====>  server $LAB_TUN_SRV4
EOF

say "roamd at both ends; the phone's tunnel comes up over Wi-Fi (keepalive ${KEEPALIVE} s)"
lab_start_tunnel "$ROAMD" "$ROAMD" "$KEEPALIVE" || die "the tunnel did not come up"
echo "\$ ping -c 3 $LAB_TUN_SRV4        (on the phone)"
nsx "$LAB_PHONE" ping -n -c 3 -i 0.2 "$LAB_TUN_SRV4" | sed 's/^/  /' || die "no answer through the tunnel"

say "Before the move: the server sees the phone at its Wi-Fi NAT's address"
server_view

say "The server pushes traffic to the phone (50 Hz pings); the phone walks onto LTE"
lab_ping_start "$LAB_SERVER" "$LAB_TUN_PH4" 8
wait_until 5 lab_ping_has 25 || die "the server's pings do not get through"
t_move=$(lab_now)
lab_switch_uplink lte || die "could not switch the phone to LTE"
t_moved=$(lab_now)
echo "  Wi-Fi radio gone, LTE address and default route up, Wi-Fi address deleted"
wait_until 5 lab_ping_has 25 "$t_moved" || echo "  (no reply yet after 5 s)"
lab_ping_stop
stats=$(lab_ping_stats "$t_move" "$t_moved")
gap=$(lab_stat longest_gap_ms "$stats") reach=$(lab_stat reach_s "$stats")
lost=$(lab_stat lost "$stats") tx=$(lab_stat tx "$stats")

say "After the move: the same session, the phone's new (LTE NAT) address, the history"
server_view

say "How long the phone was unreachable"
echo "  longest gap between the server's answered pings: ${gap} ms"
echo "  from the move to the first answer:               ${reach} s"
echo "  pings lost:                                      ${lost} of ${tx}"
echo "  (a phone that waited for its next keepalive would have been unreachable up to ${KEEPALIVE} s)"
grep -h "network change\|endpoint" "$RT_TMP/$LAB_WG_PHONE.log" "$RT_TMP/$LAB_WG_SERVER.log" 2>/dev/null |
	tail -n 6 | sed 's/^/  log: /'

say "Done; cleaning up"
