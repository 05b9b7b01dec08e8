#!/usr/bin/env bash
# A full tunnel through `roam up` on a host with strict reverse-path
# filtering: IPv4 by net.ipv4.conf.*.rp_filter=1, IPv6 by the nft rule
# firewalld installs for it (IPv6 has no rp_filter sysctl):
#   meta nfproto ipv6 fib saddr . mark . iif oif missing drop
#
#   ns A (client)  192.0.2.1/24, fd00:1::1/64   ==veth==  192.0.2.2/24, fd00:1::2/64  ns B (server)
#                  default via 192.0.2.2 / fd00:1::2       203.0.113.2/32, fd00:3::2/128 (endpoints)
#                                                          198.19.0.1, fd00:9::1 on lo (the "internet")
#   tunnel 198.18.0.1/24, fd00:2::1/64  <===>  198.18.0.2/24, fd00:2::2/64 (roamd, set up with wg)
#
# The endpoints are reachable from A only through its default routes, which
# the full tunnel captures; a reply from the endpoint then fails the reverse
# path check unless roam's nftables table (roam-IFNAME) puts the connection's
# mark back on it. Shown both ways: with the table the pings pass, with the
# table deleted by hand they lose 100%, and `roam doctor` names rp_filter.
# shellcheck disable=SC2317 # case functions are called through t_check
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROAM=${ROAM_BIN:-$ROOT/build/roam}
ROAMD=$(dirname "$ROAM")/roamd
[ -x "$ROAM" ] && [ -x "$ROAMD" ] || t_abort "build/roam or build/roamd is missing (run make)"
command -v nft >/dev/null || t_abort "nft is not installed (scripts/install-deps.sh: nftables)"

A=$(rt_name a) B=$(rt_name b) WA=$(rt_name wa) WB=$(rt_name wb)
TABLE="roam-$WA"
STATE_DIR=/run/roam
trap 'rc=$?; rm -f "$STATE_DIR/$WA.state"; (exit $rc); rt_on_exit' EXIT

roam() {
	local ns=$1
	shift
	nsx "$ns" timeout 60 "$ROAM" "$@"
}

conf() {
	local f="$RT_TMP/$WA.conf"
	{
		echo "[Interface]"
		echo "PrivateKey = $(cat "$(key_file a)")"
		echo "Address = 198.18.0.1/24, fd00:2::1/64"
		echo "[Peer]"
		echo "PublicKey = $(key_pub b)"
		echo "Endpoint = $1"
		echo "AllowedIPs = 0.0.0.0/0, ::/0"
	} >"$f"
	chmod 600 "$f"
	echo "$f"
}

# Every table of A but the test's own rpfilter one.
roam_tables() { nsx "$A" nft list tables | grep -v rtrpf; }
no_roam_table() {
	local t
	t=$(roam_tables)
	[ -z "$t" ] || { echo "tables left: $t"; return 1; }
}
snapshot() {
	ip -n "$A" -o link show | awk -F': ' '{print $2}'
	ip -n "$A" -4 rule show
	ip -n "$A" -6 rule show
	ip -n "$A" route show table all
	roam_tables
	nsx "$A" sysctl -n net.ipv4.conf.all.src_valid_mark
}

setup() {
	ns_create "$A" "$B" &&
		link_ns "$A" "$B" 192.0.2.1/24,fd00:1::1/64 192.0.2.2/24,fd00:1::2/64 &&
		if_addr "$B" "$(link_name 1 b)" 203.0.113.2/32,fd00:3::2/128 &&
		if_addr "$B" lo 198.19.0.1/32,fd00:9::1/128 &&
		ip -n "$A" route add default via 192.0.2.2 &&
		ip -n "$A" -6 route add default via fd00:1::2 &&
		nsx "$A" sysctl -qw net.ipv4.conf.all.rp_filter=1 &&
		nsx "$A" sysctl -qw net.ipv4.conf.default.rp_filter=1 &&
		nsx "$A" sysctl -qw "net.ipv4.conf.$(link_name 1 a).rp_filter=1" &&
		nsx "$A" nft -f - <<-'EOF' &&
			add table inet rtrpf
			add chain inet rtrpf pre { type filter hook prerouting priority 10; }
			add rule inet rtrpf pre icmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept
			add rule inet rtrpf pre meta nfproto ipv6 fib saddr . mark . iif oif missing drop
		EOF
		wg_genkey a && wg_genkey b &&
		wg_start "$ROAMD" "$B" "$WB" &&
		wg_set "$B" "$WB" private-key "$(key_file b)" listen-port 51820 \
			peer "$(key_pub a)" allowed-ips 198.18.0.1/32,fd00:2::1/128 &&
		wg_ifup "$B" "$WB" 198.18.0.2/24,fd00:2::2/64 "" &&
		wait_until 10 no_tentative "$A" && wait_until 10 no_tentative "$B" &&
		snapshot >"$RT_TMP/before"
}
no_tentative() { ! ip -n "$1" address show | grep -q tentative; }
t_check "lab: rp_filter=1 in A, IPv6 rpfilter rule, roamd in B" setup || t_finish

# ping_through — v4 and v6 to B's "internet" addresses, through the tunnel.
ping_through() {
	ip -n "$A" route get 198.19.0.1 | grep -q "dev $WA" || { ip -n "$A" route get 198.19.0.1; return 1; }
	wait_until 15 nsx "$A" ping -c 1 -W 1 -q 198.19.0.1 && ping_ok "$A" 198.19.0.1 &&
		wait_until 10 nsx "$A" ping -6 -c 1 -W 1 -q fd00:9::1 && ping_ok "$A" fd00:9::1
}
# loses_all ADDR — 5 pings, 100% lost (the figure printed for the record).
loses_all() {
	local out
	out=$(nsx "$A" ping -c 5 -i 0.2 -W 1 -q "$1" 2>&1)
	echo "$1: $(echo "$out" | grep 'packet loss')" | tee /dev/fd/"$RT_OUT"
	echo "$out" | grep -q ' 100% packet loss'
}

rules_ok() {
	local fam addr
	for fam in ip ip6; do
		[ "$fam" = ip ] && addr=198.18.0.1 || addr=fd00:2::1
		nsx "$A" nft list table "$fam" "$TABLE" >"$RT_TMP/t.$fam" || return 1
		grep -q "iifname != \"$WA\" $fam daddr $addr fib saddr type != local drop" "$RT_TMP/t.$fam" &&
			grep -q 'meta l4proto udp meta mark 0x0000ca6c ct mark set meta mark\|meta l4proto udp mark 0x0000ca6c ct mark set mark' "$RT_TMP/t.$fam" &&
			grep -q 'meta l4proto udp meta mark set ct mark' "$RT_TMP/t.$fam" &&
			grep -qx "nft $fam $TABLE" "$STATE_DIR/$WA.state" || { cat "$RT_TMP/t.$fam"; return 1; }
	done
}

# --- IPv4 endpoint, rp_filter=1 ---------------------------------------------
CONF4=$(conf 203.0.113.2:51820)
up4() { roam "$A" up "$CONF4" && rules_ok; }
t_check "roam up (full tunnel): tables ip and ip6 $TABLE with wg-quick's rules, in the ledger" up4
t_check "rp_filter=1, IPv4 endpoint: ping v4 and v6 through the full tunnel" ping_through

# A sysctl --system re-run resets src_valid_mark, which roam up set: the
# table still restores the mark, but the reverse-path check no longer
# reads it. Doctor must name rp_filter with src_valid_mark, not a firewall.
without_valid_mark() {
	local ok=0
	nsx "$A" sysctl -qw net.ipv4.conf.all.src_valid_mark=0 || return 1
	loses_all 198.19.0.1 || ok=1
	roam "$A" doctor "$WA" --wait 2 >"$RT_TMP/doctor" 2>&1
	grep -A2 rpfilter "$RT_TMP/doctor" | tee /dev/fd/"$RT_OUT"
	if ! grep -q '^ *FAIL *rpfilter .*src_valid_mark = 0' "$RT_TMP/doctor" ||
		! grep -q 'sysctl -w net.ipv4.conf.all.src_valid_mark=1' "$RT_TMP/doctor" ||
		[ "$(grep -c '^ *FAIL ' "$RT_TMP/doctor")" != 1 ]; then
		cat "$RT_TMP/doctor"
		ok=1
	fi
	nsx "$A" sysctl -qw net.ipv4.conf.all.src_valid_mark=1 && ping_through || ok=1
	return "$ok"
}
t_check "src_valid_mark=0 with the tables: 100% loss, doctor names rp_filter (src_valid_mark), nothing else" without_valid_mark
without_tables() {
	nsx "$A" nft delete table ip "$TABLE" && nsx "$A" nft delete table ip6 "$TABLE" &&
		loses_all 198.19.0.1 && loses_all fd00:9::1
}
t_check "the same without roam's tables: 100% loss (v4 and v6)" without_tables

doctor_names_rpfilter() {
	roam "$A" doctor "$WA" --wait 2 >"$RT_TMP/doctor" 2>&1
	grep -A2 rpfilter "$RT_TMP/doctor" | tee /dev/fd/"$RT_OUT"
	grep -q 'rp_filter' "$RT_TMP/doctor" && grep -q "$TABLE" "$RT_TMP/doctor" &&
		grep -q '^ *FAIL *rpfilter ' "$RT_TMP/doctor" && ! grep -q '^ *FAIL *udp ' "$RT_TMP/doctor"
}
t_check "roam doctor names rp_filter when the table is missing" doctor_names_rpfilter

down_clean() {
	roam "$A" down "$WA" || return 1
	no_roam_table && snapshot >"$RT_TMP/after" && diff -u "$RT_TMP/before" "$RT_TMP/after"
}
t_check "roam down (tables already deleted by hand): nothing left" down_clean

# --- IPv6 endpoint, the nft rpfilter rule -----------------------------------
CONF6=$(conf "[fd00:3::2]:51820")
up6() { roam "$A" up "$CONF6" && rules_ok && ping_through; }
t_check "IPv6 endpoint behind the ip6 rpfilter rule: ping v4 and v6 through the full tunnel" up6
doctor_passes() {
	roam "$A" doctor "$WA" --wait 2 >"$RT_TMP/doctor" 2>&1
	grep -i 'rpfilter' "$RT_TMP/doctor"
	grep -q 'PASS *rpfilter .*table ip6 roam-.* present' "$RT_TMP/doctor"
}
t_check "roam doctor: no rp_filter finding against a complete tunnel" doctor_passes
without_ip6() { nsx "$A" nft delete table ip6 "$TABLE" && loses_all fd00:9::1; }
t_check "the same without the ip6 table: 100% loss" without_ip6

crashed() {
	roam "$A" down "$WA" >/dev/null 2>&1 || return 1
	roam "$A" up "$CONF4" >/dev/null 2>&1 || return 1
	local pid
	pid=$(awk '$1 == "roamd" {print $2}' "$STATE_DIR/$WA.state")
	[ -n "$pid" ] && kill -9 "$pid" || return 1
	roam_tables | grep -q "$TABLE" || return 1
	roam "$A" down "$WA" && no_roam_table && snapshot >"$RT_TMP/after" && diff -u "$RT_TMP/before" "$RT_TMP/after"
}
t_check "kill -9 roamd, then roam down still removes the tables" crashed

t_finish
