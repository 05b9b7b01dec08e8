# shellcheck shell=bash
# tests/integration/lab_nat.sh — the roaming lab: a phone with two NATed
# uplinks, an internet, a server and an attacker. Source it after lib.sh:
#
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/lab_nat.sh"
#   lab_up a                                   # namespaces, links, NAT; no daemons
#   lab_start_tunnel wireguard-go build/roamd 2 # phone impl, server impl, keepalive
#   lab_switch_uplink lte                      # the phone leaves Wi-Fi for LTE
#   lab_down                                   # (lib.sh's EXIT trap does it too)
#
#            LAN 192.0.2.0/26, fd00:3::/64     WAN 203.0.113.0/24, fd00:8::/64
#   phone ─── wifi router (masquerade) ───────────────┐
#     │      .2 ── .1             203.0.113.2 ── .1  │
#     │      fd00:3::2 ── ::1     fd00:8::2 ── ::1   │
#     │                                              inet ─── server 198.19.0.2
#     │      LAN 192.0.2.64/26, fd00:4::/64          │  │      fd00:6::2 (.1, ::1 on inet)
#     └───── lte router (masquerade fully-random) ───┘  └──── attacker 198.19.1.2
#            .66 ── .65  fd00:4::2 ── ::1           fd00:7::2 (.1, ::1 on inet)
#            WAN 198.51.100.2, fd00:5::2 ── 198.51.100.1, fd00:5::1
#
#   tunnel: phone 198.18.0.1, fd00:2::1  <=====>  server 198.18.0.2, fd00:2::2
#
# The phone's uplinks: "wifi" (IPv4), "wifi6" (IPv6 over the same Wi-Fi
# link), "lte" (IPv4) and "lte6" (IPv6 over the same LTE link). lab_switch_uplink moves the phone to one as when it walks
# out of Wi-Fi range: the old radio link dies, the new uplink's address and
# default route come up, the old address is deleted — so a sticky source on
# the old address fails and must be forgotten (see lab_switch_uplink for the
# other orders). The routers do what home and carrier routers do: masquerade
# (the LTE one with fully random ports, like a carrier-grade NAT), a stateful
# forward filter that only lets replies in, and short UDP conntrack timeouts
# (per namespace: net.netfilter.nf_conntrack_udp_timeout and _stream,
# LAB_NAT_TIMEOUT seconds, 30 by default; lab_set_nat_timeout changes them).
# inet has no route to the phone's LANs: only the NATs make the phone reachable.
#
# Measurements: lab_ping_start runs `ping -D -i 0.02` (50 Hz, timestamped
# replies, bounded by a count) in the background; lab_ping_has N [T] polls
# for N replies (after T), lab_ping_stop/lab_ping_wait end it, lab_ping_stats
# turns its output into "tx= rx= lost= longest_gap_ms= reach_s=" (reach_s =
# seconds from an event to the first reply after it). lab_reach pings at 50 Hz
# until the first reply or a deadline: time to reachability by bounded
# polling. lab_figures prints a scenario's "  figures: ..." line.
#
# Other tools: lab_cut_uplink/lab_restore_uplink ROUTER (radio link down/up),
# lab_flush_conntrack ROUTER, lab_set_nat_timeout ROUTER SECONDS,
# lab_nat_entries ROUTER, lab_block_responses/lab_unimpair ROUTER (drop
# handshake responses), lab_phone_keepalive S, lab_phone_endpoint v4|v6,
# lab_phone_rehandshake, lab_server_endpoint, lab_capture_start/stop (tcpdump
# on the server's uplink), lab_attack (roam_attack.py from the attacker),
# lab_roam_drops IFNAME (roamd's drop counters over UAPI get=2), lab_diag.
#
# Addresses: only 192.0.2.0/24, 198.18.0.0/15, 198.51.100.0/24,
# 203.0.113.0/24 and fd00::/8 (lib.sh's if_addr and wg_set enforce it).

LAB_PORT=51820
LAB_NAT_TIMEOUT=${LAB_NAT_TIMEOUT:-30}
LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Addresses (no prefix length) and prefixes.
LAB_PH_WIFI4=192.0.2.2   LAB_WIFI_LAN4=192.0.2.1
LAB_PH_WIFI6=fd00:3::2   LAB_WIFI_LAN6=fd00:3::1
LAB_PH_LTE4=192.0.2.66   LAB_LTE_LAN4=192.0.2.65
LAB_PH_LTE6=fd00:4::2    LAB_LTE_LAN6=fd00:4::1
LAB_WIFI_PUB4=203.0.113.2   LAB_INET_WIFI4=203.0.113.1
LAB_WIFI_PUB6=fd00:8::2      LAB_INET_WIFI6=fd00:8::1
LAB_LTE_PUB4=198.51.100.2   LAB_INET_LTE4=198.51.100.1
LAB_LTE_PUB6=fd00:5::2      LAB_INET_LTE6=fd00:5::1
LAB_SRV4=198.19.0.2  LAB_INET_SRV4=198.19.0.1
LAB_SRV6=fd00:6::2   LAB_INET_SRV6=fd00:6::1
LAB_ATK4=198.19.1.2  LAB_INET_ATK4=198.19.1.1
LAB_ATK6=fd00:7::2   LAB_INET_ATK6=fd00:7::1
LAB_TUN_PH4=198.18.0.1  LAB_TUN_PH6=fd00:2::1
LAB_TUN_SRV4=198.18.0.2 LAB_TUN_SRV6=fd00:2::2

# State of the current lab (one at a time), set by lab_up / lab_start_tunnel.
LAB_TAG="" LAB_PHONE="" LAB_WIFI="" LAB_LTE="" LAB_INET="" LAB_SERVER="" LAB_ATTACKER=""
LAB_PH_WIFI_DEV="" LAB_PH_LTE_DEV="" LAB_SRV_DEV=""
LAB_WIFI_LAN_DEV="" LAB_WIFI_WAN_DEV="" LAB_LTE_LAN_DEV="" LAB_LTE_WAN_DEV=""
LAB_WG_PHONE="" LAB_WG_SERVER="" LAB_PHONE_IMPL="" LAB_SERVER_IMPL=""
LAB_PHONE_PID="" LAB_SERVER_PID="" LAB_UPLINK="" LAB_KEEPALIVE=0 LAB_PHONE_EP=""
LAB_PING_PID="" LAB_PING_OUT="" LAB_PING_END="" LAB_CAP_PID="" LAB_CAP_FILE=""

lab_log() { echo "lab: $*" >&2; }

# lab_now — wall-clock time in seconds with microseconds (ping -D's clock).
lab_now() { local t; t=$(date +%s%N); echo "${t:0:-9}.${t: -9:6}"; }

# lab_router_ns wifi|lte — the namespace of that router.
lab_router_ns() {
	case $1 in
	wifi | wifi6) echo "$LAB_WIFI" ;;
	lte | lte6) echo "$LAB_LTE" ;;
	*) echo "lab: unknown router '$1' (wifi|lte)" >&2; return 1 ;;
	esac
}

# ---------------------------------------------------------------------------
# Topology

# lab_up TAG — build the lab; TAG (one lowercase letter or two) keeps the
# names of consecutive labs in one test apart. No daemons yet.
lab_up() {
	local t=$1 n
	LAB_TAG=$t
	LAB_PHONE=$(rt_name "${t}ph") && LAB_WIFI=$(rt_name "${t}wf") &&
		LAB_LTE=$(rt_name "${t}lt") && LAB_INET=$(rt_name "${t}in") &&
		LAB_SERVER=$(rt_name "${t}sv") && LAB_ATTACKER=$(rt_name "${t}at") &&
		LAB_WG_PHONE=$(rt_name "${t}wp") && LAB_WG_SERVER=$(rt_name "${t}ws") || return 1
	ns_create "$LAB_PHONE" "$LAB_WIFI" "$LAB_LTE" "$LAB_INET" "$LAB_SERVER" "$LAB_ATTACKER" || return 1
	# A radio loss is a router's LAN link going down and up again: its IPv6
	# addresses must survive that (by default Linux drops them on link down).
	local ns
	for ns in "$LAB_PHONE" "$LAB_WIFI" "$LAB_LTE"; do
		nsx "$ns" sysctl -qw net.ipv6.conf.default.keep_addr_on_down=1 \
			net.ipv6.conf.all.keep_addr_on_down=1 || return 1
	done

	# phone <-> wifi: the phone's end gets its address from lab_switch_uplink.
	link_ns "$LAB_PHONE" "$LAB_WIFI" "" "$LAB_WIFI_LAN4/26,$LAB_WIFI_LAN6/64" || return 1
	n=$RT_LINKS
	LAB_PH_WIFI_DEV=$(link_name "$n" a) LAB_WIFI_LAN_DEV=$(link_name "$n" b)
	link_ns "$LAB_PHONE" "$LAB_LTE" "" "$LAB_LTE_LAN4/26,$LAB_LTE_LAN6/64" || return 1
	n=$RT_LINKS
	LAB_PH_LTE_DEV=$(link_name "$n" a) LAB_LTE_LAN_DEV=$(link_name "$n" b)
	link_ns "$LAB_WIFI" "$LAB_INET" "$LAB_WIFI_PUB4/24,$LAB_WIFI_PUB6/64" \
		"$LAB_INET_WIFI4/24,$LAB_INET_WIFI6/64" || return 1
	LAB_WIFI_WAN_DEV=$(link_name "$RT_LINKS" a)
	link_ns "$LAB_LTE" "$LAB_INET" "$LAB_LTE_PUB4/24,$LAB_LTE_PUB6/64" \
		"$LAB_INET_LTE4/24,$LAB_INET_LTE6/64" || return 1
	LAB_LTE_WAN_DEV=$(link_name "$RT_LINKS" a)
	link_ns "$LAB_SERVER" "$LAB_INET" "$LAB_SRV4/24,$LAB_SRV6/64" \
		"$LAB_INET_SRV4/24,$LAB_INET_SRV6/64" || return 1
	LAB_SRV_DEV=$(link_name "$RT_LINKS" a)
	link_ns "$LAB_ATTACKER" "$LAB_INET" "$LAB_ATK4/24,$LAB_ATK6/64" \
		"$LAB_INET_ATK4/24,$LAB_INET_ATK6/64" || return 1

	# Default routes towards inet; inet itself only knows its own links.
	ip -n "$LAB_WIFI" route add default via "$LAB_INET_WIFI4" &&
		ip -n "$LAB_WIFI" -6 route add default via "$LAB_INET_WIFI6" &&
		ip -n "$LAB_LTE" route add default via "$LAB_INET_LTE4" &&
		ip -n "$LAB_LTE" -6 route add default via "$LAB_INET_LTE6" &&
		ip -n "$LAB_SERVER" route add default via "$LAB_INET_SRV4" &&
		ip -n "$LAB_SERVER" -6 route add default via "$LAB_INET_SRV6" &&
		ip -n "$LAB_ATTACKER" route add default via "$LAB_INET_ATK4" &&
		ip -n "$LAB_ATTACKER" -6 route add default via "$LAB_INET_ATK6" || return 1
	local r
	for r in "$LAB_WIFI" "$LAB_LTE" "$LAB_INET"; do
		nsx "$r" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 || return 1
	done
	# Routers that drop what could not have come from where it arrives
	# (strict reverse-path filtering, as carriers and hardened gateways
	# do): with it, a packet or an ARP request from the phone's other
	# uplink's address is ignored. IPv6 has no rp_filter sysctl: the
	# routers' nft table does the same for it (lab_nat_setup).
	for r in "$LAB_WIFI" "$LAB_LTE"; do
		nsx "$r" sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1 || return 1
		nsx "$r" sysctl -qw "net.ipv4.conf.$(lab_router_lan_dev_of "$r").rp_filter=1" || return 1
	done
	lab_nat_setup wifi "$LAB_WIFI_LAN_DEV" "$LAB_WIFI_WAN_DEV" "" &&
		lab_nat_setup lte "$LAB_LTE_LAN_DEV" "$LAB_LTE_WAN_DEV" fully-random || return 1
	lab_set_nat_timeout wifi "$LAB_NAT_TIMEOUT" && lab_set_nat_timeout lte "$LAB_NAT_TIMEOUT" || return 1
	lab_switch_uplink wifi
}

# lab_nat_setup ROUTER LAN WAN [MASQ_FLAGS] — a home-router firewall: masquerade
# out of WAN, forward LAN->WAN and replies only. The chain "impair" (flushed by
# lab_unimpair) is where a test adds drop rules; it runs before everything.
# "rpf6" is strict reverse-path filtering for IPv6 (rp_filter=1 covers IPv4).
lab_nat_setup() {
	local ns
	ns=$(lab_router_ns "$1") || return 1
	nsx "$ns" nft -f - <<-EOF
		table inet lab {
			chain impair {
			}
			chain rpf6 {
				type filter hook prerouting priority raw; policy accept;
				ip6 saddr != { ::, fe80::/10 } fib saddr . iif oif missing drop
			}
			chain forward_filter {
				type filter hook forward priority filter; policy drop;
				jump impair
				iifname "$2" oifname "$3" accept
				ct state established,related accept
			}
			chain nat_out {
				type nat hook postrouting priority srcnat; policy accept;
				oifname "$3" masquerade $4
			}
		}
	EOF
}

# lab_down — stop the lab's daemons and helpers, delete its namespaces and
# UAPI sockets. Safe to call twice; lib.sh's cleanup covers whatever is left.
lab_down() {
	local ns pids p
	for p in $LAB_PHONE_PID $LAB_SERVER_PID $LAB_PING_PID $LAB_CAP_PID; do
		# shellcheck disable=SC2046 # only if still our child (pids get reused)
		rt_kill $(rt_children "$p")
		wait "$p" 2>/dev/null
		rt_forget "$p"
	done
	for ns in "$LAB_PHONE" "$LAB_WIFI" "$LAB_LTE" "$LAB_INET" "$LAB_SERVER" "$LAB_ATTACKER"; do
		[ -n "$ns" ] || continue
		ip netns list | awk '{print $1}' | grep -qx "$ns" || continue
		pids=$(ip netns pids "$ns" 2>/dev/null)
		# shellcheck disable=SC2086
		rt_kill $pids
		ip netns del "$ns" 2>/dev/null
	done
	[ -n "$LAB_NETNS_DIR" ] && rm -rf "$LAB_NETNS_DIR"
	LAB_NETNS_DIR=""
	for p in "$LAB_WG_PHONE" "$LAB_WG_SERVER"; do
		[ -n "$p" ] && rm -f "$RT_WG_RUN/$p.sock"
	done
	LAB_PHONE_PID="" LAB_SERVER_PID="" LAB_PING_PID="" LAB_CAP_PID=""
	LAB_PHONE="" LAB_WIFI="" LAB_LTE="" LAB_INET="" LAB_SERVER="" LAB_ATTACKER=""
	return 0
}

# ---------------------------------------------------------------------------
# Uplinks and NAT state

# lab_switch_uplink wifi|wifi6|lte|lte6 — the phone moves to that uplink. By
# default (LAB_SWITCH_MODE=radio-loss) as when it walks out of Wi-Fi range:
# the old uplink's radio link dies (router side down: nothing more arrives on
# the old address), LTE comes up (address, default route), the old uplink's
# addresses are deleted (their routes go with them), and the old router's
# link comes back (the phone is no longer on it). lte <-> lte6 (and wifi <->
# wifi6) share one link, which stays up. Other modes, for experiments:
#   make-before-break  new address and route first, old addresses deleted a
#                      moment later while replies may still arrive on them
#                      (wireguard-go 0.0.20220316 can then keep a sticky source
#                      on the old address and stay stuck on ENETUNREACH until
#                      a handshake timer clears it: a race)
#   break-before-make  old addresses deleted first, then the new uplink
#                      (wireguard-go 0.0.20220316 then keeps the vanished
#                      source: its route listener's lookups with it fail)
#   both-up            an active roam with both links up: the new uplink's
#                      address comes up and the default route moves to it,
#                      while the old link and its address stay (a phone that
#                      prefers LTE while still associated to Wi-Fi, a laptop
#                      whose Ethernet route loses to Wi-Fi); the old router
#                      forgets its NAT state. Both routers filter by reverse
#                      path (rp_filter=1, ARP included): a packet that leaves
#                      by the new link with the old address, or an ARP request
#                      "tell <old address>", is ignored there.
lab_switch_uplink() {
	local up=$1 p=$LAB_PHONE dev addr gw fam olds=() o cut=() r
	local mode=${LAB_SWITCH_MODE:-radio-loss}
	case $up in
	wifi) dev=$LAB_PH_WIFI_DEV addr=$LAB_PH_WIFI4/26 gw=$LAB_WIFI_LAN4 fam=-4 ;;
	wifi6) dev=$LAB_PH_WIFI_DEV addr=$LAB_PH_WIFI6/64 gw=$LAB_WIFI_LAN6 fam=-6 ;;
	lte) dev=$LAB_PH_LTE_DEV addr=$LAB_PH_LTE4/26 gw=$LAB_LTE_LAN4 fam=-4 ;;
	lte6) dev=$LAB_PH_LTE_DEV addr=$LAB_PH_LTE6/64 gw=$LAB_LTE_LAN6 fam=-6 ;;
	*) echo "lab_switch_uplink: wifi|wifi6|lte|lte6, not '$up'" >&2; return 1 ;;
	esac
	[ "$up" = wifi ] || olds+=("$LAB_PH_WIFI_DEV $LAB_PH_WIFI4/26")
	[ "$up" = wifi6 ] || olds+=("$LAB_PH_WIFI_DEV $LAB_PH_WIFI6/64")
	[ "$up" = lte ] || olds+=("$LAB_PH_LTE_DEV $LAB_PH_LTE4/26")
	[ "$up" = lte6 ] || olds+=("$LAB_PH_LTE_DEV $LAB_PH_LTE6/64")
	case $mode in
	radio-loss)
		# Radios the phone leaves: those it has an address on now, on
		# another link than the new uplink's.
		for o in "${olds[@]}"; do
			# shellcheck disable=SC2086 # "DEV ADDR"
			lab_has_addr $o || continue
			case ${o%% *} in
			"$dev") ;;
			"$LAB_PH_WIFI_DEV") [[ " ${cut[*]} " == *" wifi "* ]] || cut+=(wifi) ;;
			*) [[ " ${cut[*]} " == *" lte "* ]] || cut+=(lte) ;;
			esac
		done
		for r in "${cut[@]}"; do lab_cut_uplink "$r" || return 1; done
		;;
	break-before-make)
		for o in "${olds[@]}"; do
			# shellcheck disable=SC2086
			lab_addr_del $o
		done
		;;
	make-before-break | both-up) ;;
	*) echo "lab_switch_uplink: unknown LAB_SWITCH_MODE '$mode'" >&2; return 1 ;;
	esac
	lab_addr_add "$dev" "$addr" &&
		ip -n "$p" "$fam" route replace default via "$gw" dev "$dev" || return 1
	if [ "$mode" = both-up ]; then
		# The router left behind forgets the phone's mapping.
		case ${LAB_UPLINK:-} in
		wifi | wifi6) [ "${up#wifi}" = "$up" ] && lab_flush_conntrack wifi ;;
		lte | lte6) [ "${up#lte}" = "$up" ] && lab_flush_conntrack lte ;;
		esac
		olds=()
	fi
	for o in "${olds[@]}"; do
		# shellcheck disable=SC2086
		lab_addr_del $o
	done
	for r in "${cut[@]}"; do lab_restore_uplink "$r" || return 1; done
	# No default route of the other family survives (an IPv6-only uplink
	# leaves none for IPv4 and vice versa).
	if [ "$fam" = -4 ]; then
		ip -n "$p" -6 route del default 2>/dev/null
	else
		ip -n "$p" -4 route del default 2>/dev/null
	fi
	LAB_UPLINK=$up
	return 0
}

lab_has_addr() { ip -n "$LAB_PHONE" addr show dev "$1" | grep -qF " ${2} "; }
lab_addr_add() {
	lab_has_addr "$1" "$2" && return 0
	if_addr "$LAB_PHONE" "$1" "$2"
}
lab_addr_del() {
	lab_has_addr "$1" "$2" || return 0
	ip -n "$LAB_PHONE" addr del "$2" dev "$1"
}

# lab_cut_uplink ROUTER / lab_restore_uplink ROUTER — the radio link dies
# (router side of the phone's link down: the phone keeps its address and
# routes, its packets go nowhere) / comes back.
lab_cut_uplink() {
	local ns
	ns=$(lab_router_ns "$1") || return 1
	ip -n "$ns" link set "$(lab_router_lan_dev "$1")" down
}
lab_restore_uplink() {
	local ns
	ns=$(lab_router_ns "$1") || return 1
	ip -n "$ns" link set "$(lab_router_lan_dev "$1")" up
}
lab_router_lan_dev_of() {
	if [ "$1" = "$LAB_WIFI" ]; then echo "$LAB_WIFI_LAN_DEV"; else echo "$LAB_LTE_LAN_DEV"; fi
}
lab_router_lan_dev() {
	case $1 in wifi) echo "$LAB_WIFI_LAN_DEV" ;; *) echo "$LAB_LTE_LAN_DEV" ;; esac
}

# lab_flush_conntrack ROUTER — forget every NAT mapping (a router reboot, a
# carrier NAT rebinding).
lab_flush_conntrack() {
	local ns
	ns=$(lab_router_ns "$1") || return 1
	nsx "$ns" conntrack -F >/dev/null 2>&1 &&
		nsx "$ns" conntrack -F -f ipv6 >/dev/null 2>&1
}

# lab_set_nat_timeout ROUTER SECONDS — UDP mappings expire after SECONDS idle,
# whether or not replies were seen. Applies to a mapping from its next packet.
lab_set_nat_timeout() {
	local ns
	ns=$(lab_router_ns "$1") || return 1
	nsx "$ns" sysctl -qw net.netfilter.nf_conntrack_udp_timeout="$2" \
		net.netfilter.nf_conntrack_udp_timeout_stream="$2"
}

# lab_nat_entries ROUTER [all] — how many UDP mappings from the phone's address
# on that router's LAN to the WireGuard port the router holds now (prints the
# number). Entries for other sources (a packet that left with the phone's
# address of the other uplink) or for packets from the internet to the router
# itself never count. conntrack -L
# shows the seconds left rounded down, so "0" is either under a second left
# or expired and not yet reaped by the garbage collector (which can take many
# seconds): those count only with "all".
lab_nat_entries() {
	local ns
	ns=$(lab_router_ns "$1") || return 1
	local a1 a2=""
	case $1 in
	wifi) a1=$LAB_PH_WIFI4 ;;
	*) a1=$LAB_PH_LTE4 a2=$LAB_PH_LTE6 ;;
	esac
	{
		nsx "$ns" conntrack -L -p udp --dport "$LAB_PORT" 2>/dev/null
		nsx "$ns" conntrack -L -f ipv6 -p udp --dport "$LAB_PORT" 2>/dev/null
	} | awk -v all="${2:-}" -v a1="$a1" -v a2="$a2" '
		$1 == "udp" && ($3 + 0 > 0 || all != "") {
			for (i = 4; i <= NF; i++) if ($i ~ /^src=/) {
				if (substr($i, 5) == a1 || substr($i, 5) == a2) n++
				break
			}
		} END { print n + 0 }'
}
# lab_nat_expiring ROUTER — no mapping with a second or more left.
lab_nat_expiring() { [ "$(lab_nat_entries "$1")" -eq 0 ]; }
# lab_nat_gone ROUTER — no mapping at all (reaped).
lab_nat_gone() { [ "$(lab_nat_entries "$1" all)" -eq 0 ]; }

# lab_block_responses ROUTER — drop handshake responses (UDP payload 92
# bytes) coming in from the internet, counting them; lab_blocked ROUTER prints
# the count; lab_unimpair ROUTER removes every impairment.
lab_block_responses() {
	local ns
	ns=$(lab_router_ns "$1") || return 1
	nsx "$ns" nft add rule inet lab impair udp sport "$LAB_PORT" udp length 100 counter drop
}
lab_blocked() {
	local ns
	ns=$(lab_router_ns "$1") || return 1
	nsx "$ns" nft list chain inet lab impair | awk '/counter packets/ {
		for (i = 1; i <= NF; i++) if ($i == "packets") n += $(i + 1) } END { print n + 0 }'
}
lab_blocked_some() { [ "$(lab_blocked "$1")" -gt 0 ]; }
lab_unimpair() {
	local ns
	ns=$(lab_router_ns "$1") || return 1
	nsx "$ns" nft flush chain inet lab impair
}

# ---------------------------------------------------------------------------
# The tunnel

# lab_start_tunnel PHONE_IMPL SERVER_IMPL [KEEPALIVE=0] — daemons on the phone
# and the server; the phone knows the server's public IPv4 address, the
# server learns the phone's from its packets. Brings the tunnel up with a ping
# and waits until the server sees the phone at the Wi-Fi router's address.
lab_start_tunnel() {
	local t=$LAB_TAG
	LAB_PHONE_IMPL=$1 LAB_SERVER_IMPL=$2 LAB_KEEPALIVE=${3:-0}
	wg_start "$LAB_PHONE_IMPL" "$LAB_PHONE" "$LAB_WG_PHONE" || return 1
	LAB_PHONE_PID=${RT_PIDS[-1]}
	wg_start "$LAB_SERVER_IMPL" "$LAB_SERVER" "$LAB_WG_SERVER" || return 1
	LAB_SERVER_PID=${RT_PIDS[-1]}
	wg_genkey "${t}p" && wg_genkey "${t}s" || return 1
	LAB_PHONE_EP="$LAB_SRV4:$LAB_PORT"
	# The phone gets its peer last: with a keepalive it initiates at once,
	# and the server must be up by then (else the first try is lost and the
	# retry comes only after REKEY_TIMEOUT).
	wg_set "$LAB_SERVER" "$LAB_WG_SERVER" private-key "$(key_file "${t}s")" listen-port "$LAB_PORT" \
		peer "$(key_pub "${t}p")" allowed-ips "$LAB_TUN_PH4/32,$LAB_TUN_PH6/128" &&
		wg_ifup "$LAB_SERVER" "$LAB_WG_SERVER" "$LAB_TUN_SRV4/32,$LAB_TUN_SRV6/128" \
			"$LAB_TUN_PH4/32,$LAB_TUN_PH6/128" &&
		wg_set "$LAB_PHONE" "$LAB_WG_PHONE" private-key "$(key_file "${t}p")" listen-port "$LAB_PORT" &&
		wg_ifup "$LAB_PHONE" "$LAB_WG_PHONE" "$LAB_TUN_PH4/32,$LAB_TUN_PH6/128" \
			"$LAB_TUN_SRV4/32,$LAB_TUN_SRV6/128" &&
		lab_phone_peer_set || return 1
	if ! wait_until 10 lab_tunnel_ok; then
		echo "lab_start_tunnel: no ping through the tunnel in 10 s"
		wg_show "$LAB_PHONE" "$LAB_WG_PHONE"
		wg_show "$LAB_SERVER" "$LAB_WG_SERVER"
		return 1
	fi
	lab_wait_server_endpoint "$LAB_WIFI_PUB4" 5 && return 0
	echo "lab_start_tunnel: the server sees the phone at $(lab_server_endpoint), not at $LAB_WIFI_PUB4"
	return 1
}

# lab_dns_start ADDR TTL — dnsmasq in the server's namespace, at ADDR (an
# address of the server's own, added here, that never moves), serving the
# hosts of $RT_TMP/dns.hosts (re-read on SIGHUP: kill -HUP $LAB_DNS_PID)
# with TTL, queries logged to $RT_TMP/dns.log; and the phone's namespace
# given a resolv.conf naming it (LAB_NETNS_DIR, removed by lab_down).
LAB_DNS_PID="" LAB_NETNS_DIR=""
lab_dns_start() {
	local addr=$1 ttl=$2
	LAB_NETNS_DIR=/etc/netns/$LAB_PHONE
	mkdir -p "$LAB_NETNS_DIR" && echo "nameserver $addr" >"$LAB_NETNS_DIR/resolv.conf" || return 1
	ip -n "$LAB_SERVER" addr add "$addr/24" dev "$LAB_SRV_DEV" || return 1
	ip netns exec "$LAB_SERVER" dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
		--listen-address="$addr" --port=53 --user=root --pid-file="$RT_TMP/dns.pid" \
		--addn-hosts="$RT_TMP/dns.hosts" --local-ttl="$ttl" --log-queries \
		--log-facility="$RT_TMP/dns.log" </dev/null >/dev/null 2>&1 {RT_OUT}>&- {RT_ERR}>&- &
	LAB_DNS_PID=$!
	RT_PIDS+=("$LAB_DNS_PID")
	wait_until 5 nsx "$LAB_SERVER" ss -Hlun "sport = :53" || { echo "dnsmasq does not listen"; return 1; }
}

# lab_phone_peer_set — (re)configure the phone's peer: the server, at
# LAB_PHONE_EP, with LAB_KEEPALIVE.
lab_phone_peer_set() {
	wg_set "$LAB_PHONE" "$LAB_WG_PHONE" peer "$(key_pub "${LAB_TAG}s")" \
		endpoint "$LAB_PHONE_EP" persistent-keepalive "$LAB_KEEPALIVE" \
		allowed-ips "$LAB_TUN_SRV4/32,$LAB_TUN_SRV6/128"
}

# lab_phone_keepalive SECONDS — set the phone's persistent keepalive (0 = off).
lab_phone_keepalive() {
	LAB_KEEPALIVE=$1
	wg_set "$LAB_PHONE" "$LAB_WG_PHONE" peer "$(key_pub "${LAB_TAG}s")" persistent-keepalive "$1"
}

# lab_phone_endpoint v4|v6 — where the phone sends to the server (what a DNS
# name would resolve to on an IPv4 or an IPv6-only network).
lab_phone_endpoint() {
	case $1 in
	v4) LAB_PHONE_EP="$LAB_SRV4:$LAB_PORT" ;;
	v6) LAB_PHONE_EP="[$LAB_SRV6]:$LAB_PORT" ;;
	*) return 1 ;;
	esac
	wg_set "$LAB_PHONE" "$LAB_WG_PHONE" peer "$(key_pub "${LAB_TAG}s")" endpoint "$LAB_PHONE_EP"
}

# lab_phone_rehandshake — remove the phone's peer and configure it again: the
# phone has no session any more and initiates a handshake with its next packet
# (or at once, with a persistent keepalive), while the server still holds the
# old session — for the server a rekey. Stock UAPI has no "rekey now".
lab_phone_rehandshake() {
	wg_set "$LAB_PHONE" "$LAB_WG_PHONE" peer "$(key_pub "${LAB_TAG}s")" remove &&
		lab_phone_peer_set
}

# lab_tunnel_ok — the phone reaches the server through the tunnel (3 s at most).
lab_tunnel_ok() {
	nsx "$LAB_PHONE" ping -n -c 1 -i 0.05 -w 3 -q "$LAB_TUN_SRV4" >/dev/null 2>&1
}

# lab_server_endpoint — the server's endpoint for the phone ("ip:port",
# "[v6]:port" or "(none)").
lab_server_endpoint() {
	local k ep
	while read -r k ep; do
		[ "$k" = "$(key_pub "${LAB_TAG}p")" ] && { echo "$ep"; return 0; }
	done < <(wg_show "$LAB_SERVER" "$LAB_WG_SERVER" endpoints 2>/dev/null)
	echo "(none)"
}
# lab_ep_host EP — the address part of an endpoint.
lab_ep_host() { local h=${1%:*}; h=${h#[}; echo "${h%]}"; }
lab_server_endpoint_is() { [ "$(lab_ep_host "$(lab_server_endpoint)")" = "$1" ]; }
# lab_wait_server_endpoint HOST TIMEOUT — until the server sees the phone at HOST.
lab_wait_server_endpoint() { wait_until "$2" lab_server_endpoint_is "$1"; }

# lab_phone_tx — bytes the phone has sent to the server (wg show transfer).
lab_phone_tx() {
	local tx
	read -r _ tx < <(wg_transfer_bytes "$LAB_PHONE" "$LAB_WG_PHONE" "$(key_pub "${LAB_TAG}s")")
	echo "${tx:-0}"
}

# lab_daemons_alive — both daemons still running.
lab_daemons_alive() {
	kill -0 "$LAB_PHONE_PID" 2>/dev/null && kill -0 "$LAB_SERVER_PID" 2>/dev/null
}

# ---------------------------------------------------------------------------
# Measuring

# lab_ping_start NS DST MAX_SECONDS — ping DST at 50 Hz in the background,
# replies timestamped, for MAX_SECONDS at most (ping's own deadline); one
# stream at a time. lab_ping_stop ends it early, lab_ping_wait lets it run out.
lab_ping_start() {
	LAB_PING_OUT="$RT_TMP/ping.$RANDOM.out"
	# ip netns exec execs ping, so $! is ping itself (SIGINT makes it print
	# its statistics and exit). A count, not -w: with a deadline ping quits
	# at the first ICMP error, and roamd (like the kernel's WireGuard)
	# answers "host unreachable" while it has no peer or endpoint for a
	# destination. -W 1 bounds the wait for the last replies.
	ip netns exec "$1" ping -n -D -i 0.02 -W 1 -c $(($3 * 50)) "$2" \
		</dev/null >"$LAB_PING_OUT" 2>&1 {RT_OUT}>&- {RT_ERR}>&- &
	LAB_PING_PID=$!
	RT_PIDS+=("$LAB_PING_PID")
}
# lab_ping_replies [T0] — replies so far in the running stream (after T0).
lab_ping_replies() {
	awk -v t0="${1:-0}" '/bytes from/ && !/DUP/ && substr($1, 2, length($1) - 2) + 0 >= t0 + 0 { n++ }
		END { print n + 0 }' "$LAB_PING_OUT" 2>/dev/null || echo 0
}
# lab_ping_has N [T0] — at least N replies (after T0).
lab_ping_has() { [ "$(lab_ping_replies "${2:-0}")" -ge "$1" ]; }
# lab_ping_wait — wait for the stream to end by its deadline.
lab_ping_wait() {
	[ -n "$LAB_PING_PID" ] || return 0
	wait "$LAB_PING_PID" 2>/dev/null
	rt_forget "$LAB_PING_PID"
	LAB_PING_PID=""
	LAB_PING_END=$(lab_now)
}
# lab_ping_stop — end the stream now (it prints its statistics).
lab_ping_stop() {
	[ -n "$LAB_PING_PID" ] || return 0
	LAB_PING_END=$(lab_now)
	kill -INT "$LAB_PING_PID" 2>/dev/null
	wait "$LAB_PING_PID" 2>/dev/null   # ping exits at once on SIGINT
	rt_forget "$LAB_PING_PID"
	LAB_PING_PID=""
}

# lab_ping_stats [T_EVENT] — figures of the last stream: requests sent,
# replies received, requests lost (those with no reply although a later one
# was answered — a stream cut short by lab_ping_stop is not charged for the
# one still in flight; one that never recovered is charged for everything
# unanswered), the longest gap between consecutive replies in ms (a stream
# that never answered again counts to its end), and with T_EVENT the seconds
# from T_EVENT to the first reply after it ("none") — or, with T_AFTER (when
# the event was over, e.g. the old address gone), to the first reply after
# T_AFTER, so that a reply already in flight does not count as recovery.
lab_ping_stats() {
	awk -v t0="${1:-}" -v t1="${2:-${1:-}}" -v tend="$LAB_PING_END" '
		/packets transmitted/ { tx = $1; rx = $4 }
		/bytes from/ && !/DUP/ {
			ts = substr($1, 2, length($1) - 2) + 0
			if (n++ > 0 && ts - prev > gap) gap = ts - prev
			prev = ts
			if (t0 != "" && ts >= t1 + 0 && reach == "") reach = ts - t0
			for (i = 2; i <= NF; i++) if ($i ~ /^icmp_seq=/) {
				q = substr($i, 10) + 0
				if (!(q in seen)) { seen[q] = 1; uniq++ }
				if (q > maxq) maxq = q
			}
		}
		END {
			lost = maxq - uniq
			if (n == 0 || (t0 != "" && reach == "")) {
				lost = tx - rx
				if (n > 0 && tend - prev > gap) gap = tend - prev
			}
			printf "tx=%d rx=%d lost=%d longest_gap_ms=%d reach_s=%s\n", tx, rx, lost,
				gap * 1000 + 0.5, reach == "" ? "none" : sprintf("%.3f", reach)
		}' "$LAB_PING_OUT"
}

# lab_stat KEY "k=v k=v ..." — one value out of a figures string.
lab_stat() {
	local kv
	for kv in $2; do
		[ "${kv%%=*}" = "$1" ] && { echo "${kv#*=}"; return 0; }
	done
	return 1
}

# lab_reach NS DST TIMEOUT [T0] — ping DST at 50 Hz until the first reply or
# TIMEOUT seconds; print the seconds from T0 (default: now) to that reply, or
# "none". Returns 0 if a reply came. (ping -c 1 -w keeps sending until a
# reply, but gives up at the first ICMP error, hence the bounded retry loop.)
lab_reach() {
	local ns=$1 dst=$2 tmo=$3 t0=${4:-} out left i max deadline
	[ -n "$t0" ] || t0=$(lab_now)
	deadline=$(( $(date +%s%N) + $(rt_secs_to_ns "$tmo") ))
	max=$(( $(rt_secs_to_ns "$tmo") / 20000000 + 2 ))
	for ((i = 0; i < max; i++)); do
		left=$(( (deadline - $(date +%s%N)) / 1000000 ))
		[ "$left" -ge 20 ] || break
		# -w takes whole seconds; timeout(1) cuts it at the deadline.
		out=$(nsx "$ns" timeout -s INT "$(awk -v ms="$left" 'BEGIN { printf "%.3f", ms / 1000 }')" \
			ping -n -D -c 1 -i 0.02 -W 1 -w $(((left + 999) / 1000)) "$dst" 2>&1)
		if grep -q 'bytes from' <<<"$out"; then
			awk -v t0="$t0" '/bytes from/ { ts = substr($1, 2, length($1) - 2); printf "%.3f\n", ts - t0; exit }' <<<"$out"
			return 0
		fi
		sleep 0.02 # an ICMP error ended that ping: keep the 50 Hz pace
	done
	echo none
	return 1
}

# lab_figures SCENARIO KEY=VALUE... — the figures line every scenario prints.
lab_figures() {
	local s=$1
	shift
	echo "  figures: scenario=$s impl=${LAB_PHONE_IMPL##*/}/${LAB_SERVER_IMPL##*/} $*" >&"$RT_OUT"
}

# lab_capture_start [phone DEV] — capture into $LAB_CAP_FILE (one capture at
# a time); returns once tcpdump is listening. By default the server's uplink
# (UDP to/from the WireGuard port); "phone DEV": what the phone sends and
# receives on its link DEV (ARP, UDP, ICMPv6: enough to see which source
# address each datagram and each neighbour request carries).
lab_capture_start() {
	local ns=$LAB_SERVER dev=$LAB_SRV_DEV who=server filter=(udp port "$LAB_PORT")
	if [ "${1:-}" = phone ]; then
		ns=$LAB_PHONE dev=$2 who=phone filter=(arp or udp or icmp6)
	fi
	LAB_CAP_FILE="$RT_TMP/$who.$RANDOM.pcap"
	ip netns exec "$ns" tcpdump -i "$dev" -n --immediate-mode -U -w "$LAB_CAP_FILE" "${filter[@]}" \
		</dev/null >"$LAB_CAP_FILE.log" 2>&1 {RT_OUT}>&- {RT_ERR}>&- &
	LAB_CAP_PID=$!
	RT_PIDS+=("$LAB_CAP_PID")
	wait_until 5 grep -q "listening on" "$LAB_CAP_FILE.log"
}
# lab_capture_stop — stop tcpdump (it flushes the file on SIGTERM); true if
# it captured anything (a pcap file with only its 24-byte header did not).
lab_capture_stop() {
	[ -n "$LAB_CAP_PID" ] || return 0
	rt_kill "$LAB_CAP_PID"
	wait "$LAB_CAP_PID" 2>/dev/null
	rt_forget "$LAB_CAP_PID"
	LAB_CAP_PID=""
	[ "$(stat -c %s "$LAB_CAP_FILE" 2>/dev/null || echo 0)" -gt 24 ]
}

# pub_of UPLINK — the address the server sees a phone on UPLINK at.
pub_of() {
	case $1 in
	wifi) echo "$LAB_WIFI_PUB4" ;;
	wifi6) echo "$LAB_WIFI_PUB6" ;;
	lte) echo "$LAB_LTE_PUB4" ;;
	lte6) echo "$LAB_LTE_PUB6" ;;
	esac
}

# lab_reset UPLINK — the common starting point: no impairment, keepalive $K
# (the calling test's),
# the phone on UPLINK and pointed at the server's address of that family, the
# tunnel passing traffic and the server seeing the phone at UPLINK's NAT.
lab_reset() {
	local up=$1
	lab_unimpair wifi && lab_unimpair lte || return 1
	if [ "$LAB_KEEPALIVE" != "$K" ]; then lab_phone_keepalive "$K" || return 1; fi
	lab_switch_uplink "$up" || return 1
	if [ "${up%6}" != "$up" ]; then
		[ "$LAB_PHONE_EP" = "[$LAB_SRV6]:$LAB_PORT" ] || lab_phone_endpoint v6 || return 1
	else
		[ "$LAB_PHONE_EP" = "$LAB_SRV4:$LAB_PORT" ] || lab_phone_endpoint v4 || return 1
	fi
	if ! wait_until 10 lab_tunnel_ok; then
		echo "reset to $up: the tunnel does not pass traffic"
		return 1
	fi
	if ! lab_wait_server_endpoint "$(pub_of "$up")" 5; then
		echo "reset to $up: server endpoint stays $(lab_server_endpoint)"
		return 1
	fi
}

# lab_phone_capture_from ADDR — "ARP DATAGRAMS": how many ARP requests
# ("who-has X tell ADDR") and how many IP packets in the capture
# carry ADDR as their sender.
lab_phone_capture_from() {
	tcpdump -r "$LAB_CAP_FILE" -n 2>/dev/null | awk -v a="$1" '
		/ARP, Request/ { for (i = 1; i < NF; i++) if ($i == "tell" && ($(i + 1) == a || $(i + 1) == a ",")) arp++; next }
		($2 == "IP" || $2 == "IP6") && ($3 == a || index($3, a ".") == 1) { ip++ }
		END { printf "%d %d\n", arp, ip }'
}

# lab_attack ARGS... — run roam_attack.py in the attacker namespace (bounded).
lab_attack() {
	nsx "$LAB_ATTACKER" timeout 120 "$RT_PY" "$LAB_DIR/roam_attack.py" "$@"
}

# ---------------------------------------------------------------------------
# roamd's own counters

# lab_uapi_get2 IFNAME — roamd's "get=2" reply (get=1 plus roam_* lines) from
# IFNAME's UAPI socket; prints nothing for a daemon that does not know get=2
# (wireguard-go closes the connection). Bounded by a 3 s socket timeout.
LAB_PY_GET2='
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(3.0)
try:
    s.connect(sys.argv[1])
    s.sendall(b"get=2\n\n")
    buf = b""
    while not buf.endswith(b"\n\n"):
        b = s.recv(65536)
        if not b:
            break
        buf += b
except OSError:
    buf = b""
text = buf.decode(errors="replace")
if "errno=0" in text:
    sys.stdout.write(text)
'
lab_uapi_get2() {
	"$RT_PY" -c "$LAB_PY_GET2" "$RT_WG_RUN/$1.sock" 2>/dev/null
}

# lab_uapi_set IFNAME LINE... — a "set=1" request of these lines to IFNAME's
# daemon (for roam_* keys, which wg never sends); fails unless errno=0.
LAB_PY_SET='
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(3.0)
s.connect(sys.argv[1])
s.sendall(("set=1\n" + "".join(l + "\n" for l in sys.argv[2:]) + "\n").encode())
buf = b""
while not buf.endswith(b"\n\n"):
    b = s.recv(65536)
    if not b:
        break
    buf += b
sys.exit(0 if buf.decode(errors="replace").strip() == "errno=0" else 1)
'
lab_uapi_set() {
	local dev=$1
	shift
	"$RT_PY" -c "$LAB_PY_SET" "$RT_WG_RUN/$dev.sock" "$@"
}

# lab_key_hex NAME — a key of lib.sh's key_pub in the UAPI's hex.
lab_key_hex() { key_pub "$1" | base64 -d | od -An -v -tx1 | tr -d ' \n'; }

# lab_phone_candidates EP... — the phone's endpoint candidates for the
# server, in order of preference (roamd only: roam_endpoint_candidate).
lab_phone_candidates() {
	local lines=("public_key=$(lab_key_hex "${LAB_TAG}s")" "roam_replace_endpoint_candidates=true") ep
	for ep in "$@"; do lines+=("roam_endpoint_candidate=$ep"); done
	lab_uapi_set "$LAB_WG_PHONE" "${lines[@]}"
}

# lab_roam_drops IFNAME — the device's drop counters by cause, one
# "REASON COUNT" a line (roam_drop=REASON:COUNT before the first peer).
lab_roam_drops() {
	lab_uapi_get2 "$1" | awk -F'[=:]' '/^public_key=/ { exit } /^roam_drop=/ { print $2, $3 }'
}

# lab_diag — the lab's state in a few lines, for a failed case's report: the
# phone's addresses and routes, both ends' view of the peer, both NATs'
# mappings, the last lines of both daemons' logs.
lab_diag() {
	echo "phone uplink=$LAB_UPLINK keepalive=$LAB_KEEPALIVE endpoint=$LAB_PHONE_EP"
	ip -n "$LAB_PHONE" -br addr 2>&1 | grep -v '^lo '
	ip -n "$LAB_PHONE" route show default 2>&1
	ip -n "$LAB_PHONE" -6 route show default 2>&1
	echo "phone:  $(wg_show "$LAB_PHONE" "$LAB_WG_PHONE" dump 2>&1 | tail -n +2)"
	echo "server: $(wg_show "$LAB_SERVER" "$LAB_WG_SERVER" dump 2>&1 | tail -n +2)"
	echo "wifi NAT:"
	nsx "$LAB_WIFI" conntrack -L -p udp 2>/dev/null
	echo "lte NAT:"
	nsx "$LAB_LTE" conntrack -L -p udp 2>/dev/null
	nsx "$LAB_LTE" conntrack -L -p udp -f ipv6 2>/dev/null
	ip -n "$LAB_LTE" -br addr 2>&1 | grep -v '^lo '
	tail -n 5 "$RT_TMP/$LAB_WG_PHONE.log" "$RT_TMP/$LAB_WG_SERVER.log" 2>&1
}

# lab_roam_under_load IFNAME — true while roamd says it is under load
# (roam_under_load=1: initiations get cookie replies instead of responses).
lab_roam_under_load() { lab_uapi_get2 "$1" | grep -qx 'roam_under_load=1'; }
lab_roam_not_under_load() { ! lab_roam_under_load "$1"; }

# phone_resolver ADDR — the phone's system resolver names ADDR, as
# resolvconf would after roam up (the stand-in resolvconf discards it, and
# the host's resolver is no test's to change): ip netns exec mounts
# /etc/netns/NS/resolv.conf over /etc/resolv.conf. The test removes it
# with phone_resolver_remove (at teardown and in its EXIT trap).
PHONE_RESOLVER_DIR=""
phone_resolver() {
	PHONE_RESOLVER_DIR=/etc/netns/$LAB_PHONE
	mkdir -p "$PHONE_RESOLVER_DIR" && echo "nameserver $1" >"$PHONE_RESOLVER_DIR/resolv.conf"
}
phone_resolver_remove() {
	[ -z "$PHONE_RESOLVER_DIR" ] || rm -rf "$PHONE_RESOLVER_DIR"
	PHONE_RESOLVER_DIR=""
}
