#!/usr/bin/env bash
# Path MTU across a roam (src/roamd/pathmtu.c, the NAT lab of lab_nat.sh).
# The phone starts on Wi-Fi (outer MTU 1500, tunnel MTU 1420) and moves to
# LTE, where the path carries at most LTE_MTU-byte outer packets and drops
# every fragment (the LTE router and the internet router discard fragments
# before reassembly, as carrier NATs do). Routers send ICMP "fragmentation
# needed" / "packet too big" as Linux routers do.
#
# Cases, each printing "  figures: ..." lines:
#   stream      a 20 MB TCP stream through the tunnel, paced so that the move
#               happens in its middle, phone -> server and server -> phone,
#               IPv4 and IPv6 outer: it completes, with no stall longer than
#               MAX_STALL_MS (the longest gap between received bytes is
#               printed). roamd on both ends; then roamd with ROAMD_NO_PMTU=1
#               (today's behaviour before path-MTU learning: the stream must
#               stall, which shows the feature does the work) and
#               wireguard-go on both ends, measured only.
#   filtered    the same streams with the routers' ICMP errors dropped as
#               well (the classic black hole): roamd finds the path by
#               probing (src/core/pathprobe.c); the stream resumes within
#               FILTERED_MAX_STALL_MS of the move. With roamd on the phone
#               only (wireguard-go on the server), the phone's uploads do.
#   forged      ICMP "fragmentation needed" sent from the attacker to the
#               server, naming the server's datagrams to the phone: one that
#               quotes a data message the server never sent (MTU 68), one
#               with MTU 0, one quoting a real one (MTU 68): the first two
#               change nothing, the last is held at the IPv4 floor (576);
#               and a forgery alone, which the kernel believes: full-size
#               packets still pass, sent past the kernel's unchecked value.
# shellcheck disable=SC2317 # case functions are called through t_check
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lab_nat.sh
. "$(dirname "$0")/lab_nat.sh"

ROAMD=$(cd "$(dirname "$0")/../.." && pwd)/build/roamd
ROAM=$(cd "$(dirname "$0")/../.." && pwd)/build/roam
STREAM="$(cd "$(dirname "$0")" && pwd)/roam_stream.py"
K=2                 # the phone's keepalive (lab_reset)
LTE_MTU=1300
BYTES=$((20 * 1000 * 1000))
RATE=$((5 * 1000 * 1000))      # bytes/s: the stream lasts about 4 s
# The stall a roamd pair may show. What it guards against is a stall that
# never ends (the stream times out, as it does for wireguard-go and for
# ROAMD_NO_PMTU=1); what roamd needs is one ICMP round trip after the move
# plus TCP's retransmission of the lost segment (~200 ms RTO floor):
# measured 40-660 ms on a quiet machine, 1.5 s under load. (Server -> phone
# over IPv6 once measured 3.1-3.2 s: a late keepalive by the old Wi-Fi NAT
# moved the server's endpoint back, see server_went_back, and roamd read
# every ICMPv6 "packet too big" as MTU 0, see sc_forged6.) 5 s leaves room
# for a loaded machine; the 1 s goal is printed as met=yes|no.
MAX_STALL_MS=5000
TARGET_STALL_MS=1000 # the goal, printed with the figures (met=yes|no)
# With ICMP filtered: a first probe round (1 s timeout) after the move sets
# the value, then the sender's next retransmission is answered with
# "fragmentation needed" by roamd itself. Measured 1.6-2.9 s; the issue's
# bound is 5 s.
FILTERED_MAX_STALL_MS=5000
STREAM_TIMEOUT=25
# Where the stream is expected to stall (or only measured), waiting longer
# than the 4 s stream plus the 5 s stall it would be allowed shows nothing
# more.
STALL_TIMEOUT=12

command -v wireguard-go >/dev/null || t_abort "wireguard-go is not installed (scripts/install-deps.sh)"
[ -x "$ROAMD" ] || t_abort "build/roamd is missing (make)"

# The LTE path: a smaller MTU on both ends of the LTE router's uplink, and
# no fragment gets through it in either direction.
lte_path_small() {
	local inet_dev
	ip -n "$LAB_LTE" link set "$LAB_LTE_WAN_DEV" mtu "$LTE_MTU" || return 1
	inet_dev=$(ip -n "$LAB_INET" -o addr show | awk -v a="$LAB_INET_LTE4/24" '$4 == a { print $2 }')
	inet_dev=${inet_dev%@*}
	[ -n "$inet_dev" ] && ip -n "$LAB_INET" link set "$inet_dev" mtu "$LTE_MTU" || return 1
	# Before conntrack reassembles them (defrag is at priority -400).
	local ns
	for ns in "$LAB_LTE" "$LAB_INET"; do
		nsx "$ns" nft -f - <<-EOF || return 1
			table inet nofrag {
				chain pre {
					type filter hook prerouting priority -450; policy accept;
					ip frag-off & 0x3fff != 0 drop
					exthdr frag exists drop
				}
			}
		EOF
	done
}

# Routers on the LTE path keep their ICMP errors to themselves, as firewalls
# that filter ICMP do: nothing tells roamd the path is smaller.
lte_icmp_filtered() {
	local ns
	# What the hosts' kernels learnt from ICMP before must not help now.
	for ns in "$LAB_PHONE" "$LAB_SERVER"; do
		ip -n "$ns" route flush cache && ip -n "$ns" -6 route flush cache || return 1
	done
	for ns in "$LAB_LTE" "$LAB_INET"; do
		nsx "$ns" nft -f - <<-EOF || return 1
			table inet noicmp {
				chain sent {
					type filter hook output priority 0; policy accept;
					icmp type destination-unreachable icmp code frag-needed drop
					icmpv6 type packet-too-big drop
				}
				chain forwarded {
					type filter hook forward priority 0; policy accept;
					icmp type destination-unreachable icmp code frag-needed drop
					icmpv6 type packet-too-big drop
				}
			}
		EOF
	done
}

# stream_once FROM_NS TO_NS TO_ADDR PORT UPLINK_FROM UPLINK_TO — a paced
# stream from FROM_NS to TO_ADDR while the phone moves from UPLINK_FROM (the
# caller has reset the lab to it: lab_reset keeps its state in variables, so
# it must not run in this function's subshell) to UPLINK_TO; prints the
# receiver's line.
stream_once() {
	local from=$1 to=$2 addr=$3 port=$4 up_from=$5 up_to=$6 limit=${7:-$STREAM_TIMEOUT} out
	out="$RT_TMP/stream.$port.out"
	nsx "$to" "$RT_PY" "$STREAM" recv "$addr" "$port" "$limit" >"$out" 2>&1 {RT_OUT}>&- {RT_ERR}>&- &
	local rpid=$!
	RT_PIDS+=("$rpid")
	wait_until 5 grep -q ready "$out" || { cat "$out"; return 1; }
	nsx "$from" timeout $((limit + 5)) "$RT_PY" "$STREAM" send "$addr" "$port" "$BYTES" "$RATE" \
		</dev/null >/dev/null 2>&1 {RT_OUT}>&- {RT_ERR}>&- &
	local spid=$!
	RT_PIDS+=("$spid")
	# Once the first 2 MB are through on Wi-Fi, the phone moves.
	wait_until 10 grep -q '^at ' "$out" || { echo "the stream does not start"; cat "$out"; return 1; }
	# (This function runs in a subshell: the mark goes through a file.)
	wc -l <"$(sender_log "$LAB_SERVER")" >"$RT_TMP/move_mark"
	lab_switch_uplink "$up_to" || return 1
	wait "$rpid"
	rt_forget "$rpid"
	rt_kill "$spid"
	wait "$spid" 2>/dev/null
	rt_forget "$spid"
	tail -n 1 "$out"
}

stat_of() { tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k { print $2 }'; }

# server_went_back UPLINK — after the move (the server log's length then is
# in $RT_TMP/move_mark, written by stream_once), how often a roamd server
# moved its endpoint for the phone back to UPLINK's NAT address, and how
# often it logged a late packet from there that left the endpoint alone. As the Wi-Fi link dies, the phone's
# roamd sends a keepalive through it; the phone's kernel holds it in the
# link's neighbour queue and sends it, from the deleted address, once the
# router's link is back and a neighbour solicitation from the link-local
# address is answered (an ARP request for IPv4 names another address and is
# ignored, so only IPv6 shows it). Followed, that late packet sent the
# server's stream to the old NAT until the phone's next keepalive: a stall of
# 3.1-3.2 s.
server_went_back() {
	local old log mark
	old=$(pub_of "$1") log=$(sender_log "$LAB_SERVER") mark=$(cat "$RT_TMP/move_mark")
	[ "${1%6}" != "$1" ] && old="[$old]"
	tail -n "+$((mark + 1))" "$log" | awk -v to="-> $old:" -v late="from $old:" '
		/: endpoint / && index($0, to) { back++ }
		/arrived behind newer ones/ && index($0, late) { kept++ }
		END { printf "%d %d\n", back, kept }'
}

# A stream case: DIRECTION up (phone -> server) or down, FAMILY 4 or 6,
# EXPECT pass (done, stall under MAX_STALL_MS) | stall (not done, or a
# stall over 5 s) | measure (figures only).
sc_stream() {
	local dir=$1 fam=$2 expect=$3 from to addr port up_from up_to line done gap
	if [ "$fam" = 4 ]; then up_from=wifi up_to=lte; else up_from=wifi6 up_to=lte6; fi
	if [ "$dir" = up ]; then
		from=$LAB_PHONE to=$LAB_SERVER addr=$LAB_TUN_SRV4 port=5101
	else
		from=$LAB_SERVER to=$LAB_PHONE addr=$LAB_TUN_PH4 port=5102
	fi
	local limit=$STREAM_TIMEOUT log_mark
	case $expect in stall | measure) limit=$STALL_TIMEOUT ;; esac
	log_mark=$(wc -l <"$(sender_log "$from")")
	lab_reset "$up_from" || return 1
	line=$(stream_once "$from" "$to" "$addr" "$port" "$up_from" "$up_to" "$limit") || { echo "$line"; return 1; }
	done=$(stat_of done "$line") gap=$(stat_of longest_gap_ms "$line")
	local met=no target=$TARGET_STALL_MS scenario=pmtu_stream
	[ "$expect" = filtered ] && target=$FILTERED_MAX_STALL_MS scenario=pmtu_stream_icmp_filtered
	[ "$done" = yes ] && [ "${gap:-99999}" -le "$target" ] && met=yes
	echo "  figures: scenario=$scenario impl=$PAIR dir=$dir outer=v$fam lte_mtu=$LTE_MTU $line" \
		"target_ms=$target met=$met" >&"$RT_OUT"
	# A roamd server follows the phone to the new path and stays there.
	local back kept
	case $expect/$(basename "$LAB_SERVER_IMPL") in
	pass/roamd* | filtered/roamd*)
		read -r back kept < <(server_went_back "$up_from")
		echo "  figures: scenario=$scenario impl=$PAIR dir=$dir outer=v$fam" \
			"server_endpoint_back_to_old_nat=$back late_packets_from_old_nat_logged=$kept" >&"$RT_OUT"
		[ "$back" -eq 0 ] || {
			echo "after the move the server's endpoint went back to the old NAT $back time(s):"
			tail -n "+$(($(cat "$RT_TMP/move_mark") + 1))" "$(sender_log "$LAB_SERVER")" |
				grep -E 'endpoint|behind' | tail -n 6
			return 1
		}
		;;
	esac
	case $expect in
	filtered)
		[ "$done" = yes ] || { echo "the stream did not complete ($line)"; return 1; }
		[ "${gap:-99999}" -le "$FILTERED_MAX_STALL_MS" ] ||
			{ echo "stalled ${gap} ms > ${FILTERED_MAX_STALL_MS} ms"; return 1; }
		# And it was a probe that found the path, on the sending side:
		# its log says so for this stream.
		local found
		found=$(tail -n "+$((log_mark + 1))" "$(sender_log "$from")" | grep -m1 -E 'path probe: (searching|smaller), path MTU [0-9]')
		echo "  figures: scenario=$scenario impl=$PAIR dir=$dir outer=v$fam sender_log=\"${found#*: }\"" >&"$RT_OUT"
		# Server -> phone over IPv6 may need no probe: in about one
		# run in three no search starts after the move (none is
		# logged) and the stream resumes within 0.3-0.7 s all the
		# same, so the server's inner TCP sent nothing larger than
		# the 1200 inner bytes every IPv6 path carries (presumably
		# its kernel still holds what roamd told it in the ICMP
		# cases above, for 10 minutes; not verified). The
		# figures show which; the bound above holds either way.
		[ -n "$found" ] || [ "$dir/$fam" = down/6 ] || {
			echo "the sender's log has no path MTU found by a probe for this stream:"
			tail -n "+$((log_mark + 1))" "$(sender_log "$from")" | grep -E 'path|endpoint' | tail -n 8
			return 1
		}
		;;
	pass)
		[ "$done" = yes ] || { echo "the stream did not complete ($line)"; return 1; }
		[ "${gap:-99999}" -le "$MAX_STALL_MS" ] || { echo "stalled ${gap} ms > ${MAX_STALL_MS} ms"; return 1; }
		;;
	stall)
		[ "$done" = no ] || [ "${gap:-0}" -gt 5000 ] ||
			{ echo "without path-MTU learning the stream should stall ($line)"; return 1; }
		;;
	esac
}

# --- forged ICMP ---------------------------------------------------------------

# sender_log NS — the log file of the daemon in NS.
sender_log() {
	if [ "$1" = "$LAB_PHONE" ]; then echo "$RT_TMP/$LAB_WG_PHONE.log"; else echo "$RT_TMP/$LAB_WG_SERVER.log"; fi
}

server_mtu_is() { [ "$(server_path_mtu)" = "$1" ]; }
server_path_mtu() {
	nsx "$LAB_SERVER" "$ROAM" show "$LAB_WG_SERVER" --json 2>/dev/null |
		"$RT_PY" -c 'import json,sys; d=json.load(sys.stdin); p=d["interfaces"][0]["peers"][0]["path_mtu"]; print(p["origin"], p["mtu"])'
}

# forge MTU QUOTE_HEX [6] — three copies of an ICMP "fragmentation needed"
# (with 6: ICMPv6 "packet too big", over IPv6) to the server, as if a router
# between it and the phone's NAT address sent it, quoting the server's
# datagram to the phone whose UDP payload starts with QUOTE_HEX.
forge() {
	local ep host port srv=$LAB_SRV4
	ep=$(lab_server_endpoint)
	host=$(lab_ep_host "$ep") port=${ep##*:}
	[ "${3:-4}" = 6 ] && srv=$LAB_SRV6
	nsx "$LAB_ATTACKER" "$RT_PY" - "$srv" "$host" "$LAB_PORT" "$port" "$1" "$2" <<-'PY'
		import socket, struct, sys
		srv, peer, sport, dport, mtu, quote = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), bytes.fromhex(sys.argv[6])
		def csum(b):
		    if len(b) % 2: b += b"\0"
		    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
		    while s >> 16: s = (s & 0xffff) + (s >> 16)
		    return ~s & 0xffff
		udp = struct.pack("!HHHH", sport, dport, 8 + len(quote) + 100, 0) + quote
		if ":" in srv:
		    # The kernel fills in an ICMPv6 checksum itself.
		    ip = struct.pack("!IHBB16s16s", 6 << 28, len(udp) + 100, 17, 63,
		                     socket.inet_pton(socket.AF_INET6, srv), socket.inet_pton(socket.AF_INET6, peer))
		    icmp = struct.pack("!BBHI", 2, 0, 0, mtu) + ip + udp
		    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
		else:
		    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp) + 100, 1, 0x4000, 63, 17, 0,
		                     socket.inet_aton(srv), socket.inet_aton(peer))
		    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
		    icmp = struct.pack("!BBHHH", 3, 4, 0, 0, mtu) + ip + udp
		    icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
		    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
		for _ in range(3):
		    s.sendto(icmp, (srv, 0))
	PY
}

# The first 16 bytes of a data message the server sent the phone: captured
# on the server's uplink while the phone pings through the tunnel (with 6:
# over IPv6).
real_quote() {
	local pcap="$RT_TMP/real.pcap" match="udp src port $LAB_PORT and udp[8] = 4" hdr=42
	# tcpdump cannot index an IPv6 upper layer: count from the IPv6 header.
	[ "${1:-4}" = 6 ] && match="ip6 and udp src port $LAB_PORT and ip6[48] = 4" hdr=62
	nsx "$LAB_SERVER" timeout 5 tcpdump -i "$LAB_SRV_DEV" -n -c 3 -w "$pcap" \
		"$match" >/dev/null 2>&1 {RT_OUT}>&- {RT_ERR}>&- &
	local tpid=$!
	nsx "$LAB_PHONE" ping -c 6 -i 0.2 -q "$LAB_TUN_SRV4" >/dev/null 2>&1
	wait "$tpid"
	"$RT_PY" - "$pcap" "$hdr" <<-'PY'
		import struct, sys
		d = open(sys.argv[1], "rb").read()
		off, last, hdr = 24, None, int(sys.argv[2])
		while off + 16 <= len(d):
		    incl = struct.unpack("<I", d[off + 8:off + 12])[0]
		    last = d[off + 16:off + 16 + incl]
		    off += 16 + incl
		# Ethernet 14 + IPv4 20 (IPv6 40) + UDP 8, then the WireGuard header.
		print(last[hdr:hdr + 16].hex() if last else "")
	PY
}

sc_forged() {
	local before after q
	lab_reset lte || return 1
	before=$(server_path_mtu)
	[ "$before" = "interface None" ] || { echo "a path MTU before anything happened: $before"; return 1; }
	q=$(real_quote)
	[ ${#q} -eq 32 ] || { echo "no data message captured ($q)"; return 1; }
	# Well-formed but never sent: a receiver index no session has (MTU
	# 1000), and an MTU of 0. Then a real quote with MTU 1200: ICMP only
	# lowers a path MTU, so 1200 shows the forged 1000 was refused (the
	# socket reports errors in order).
	forge 1000 "04000000112233440500000000000000"
	forge 0 "${q:0:8}${q:8:8}0100000000000000"
	forge 1200 "$q"
	wait_until 3 server_mtu_is "icmp 1200"
	after=$(server_path_mtu)
	echo "  figures: scenario=pmtu_forged impl=$PAIR before=\"$before\" after=\"$after\"" >&"$RT_OUT"
	[ "$after" = "icmp 1200" ] || { echo "forged or zero-MTU ICMP counted, or the real one not: '$after'"; return 1; }
	forge 68 "$q"
	wait_until 3 server_mtu_is "icmp 576"
	after=$(server_path_mtu)
	echo "  figures: scenario=pmtu_forged impl=$PAIR after_real_quote_mtu68=\"$after\"" >&"$RT_OUT"
	[ "$after" = "icmp 576" ] || { echo "a valid quote with MTU 68: path MTU '$after', not the floor 576"; return 1; }
	lab_tunnel_ok || { echo "the tunnel no longer passes traffic"; return 1; }
	# The kernel believed the forgeries for its own cache (any socket's
	# datagrams to that address): clear it for the cases that follow.
	ip -n "$LAB_SERVER" route flush cache
	ip -n "$LAB_SERVER" -6 route flush cache
}

# An off-path forger alone: ICMP "fragmentation needed" (MTU 552) naming
# the server's socket and the phone's address but quoting a data message
# never sent. roamd refuses it; the server's kernel believes it for its own
# path-MTU cache (every UDP program's exposure: the kernel cannot check a
# quote) and then refuses roamd's full-size datagrams to the phone. roamd
# sends those past the unchecked value, DF kept, and does not learn from
# the refusals: full-size pings from the server through the tunnel still
# pass, and the path MTU stays the interface's. (Before, roamd learnt 552
# from its kernel and fitted inner packets to 480 bytes.)
server_kernel_pmtu() {
	ip -n "$LAB_SERVER" route get "$(lab_ep_host "$(lab_server_endpoint)")" 2>/dev/null |
		sed -nE 's/.* mtu ([0-9]+).*/\1/p' | head -n 1
}
# forged_leaves_roamd_whole NAME PORT — a forged "fragmentation needed"
# (MTU 552, quoting bytes roamd never sent) naming the server's socket on
# PORT; the server's kernel must have taken it, and full-size pings from the
# server through the tunnel must still pass, roamd's path MTU unchanged.
forged_leaves_roamd_whole() {
	local kernel after ok save=$LAB_PORT
	LAB_PORT=$2
	forge 552 "04000000112233440500000000000000"
	LAB_PORT=$save
	kernel=$(server_kernel_pmtu)
	[ "${kernel:-0}" = 552 ] || { echo "precondition: the kernel did not take the forgery (its path MTU: '${kernel}')"; return 1; }
	# 1372 + 28 = 1400 inner bytes, with DF: 1460 outer, above 552.
	ok=$(nsx "$LAB_SERVER" ping -n -M do -s 1372 -c 5 -i 0.2 -W 2 "$LAB_TUN_PH4" 2>/dev/null |
		sed -nE 's/.* ([0-9]+) received.*/\1/p')
	after=$(server_path_mtu)
	echo "  figures: scenario=pmtu_forged_$1 impl=$PAIR kernel_pmtu=$kernel pings_1400_answered=${ok:-0}/5 path_mtu=\"$after\"" >&"$RT_OUT"
	ip -n "$LAB_SERVER" route flush cache
	[ "$after" = "interface None" ] || { echo "roamd fitted to the forged value: path MTU '$after'"; return 1; }
	[ "${ok:-0}" -ge 4 ] || { echo "full-size pings through the tunnel: ${ok:-0} of 5 answered"; return 1; }
}
sc_forged_off_path() {
	lab_reset wifi && forged_leaves_roamd_whole off_path "$LAB_PORT"
}

# The same forgery naming another UDP socket of the server's host (a
# listener on 5353): the kernel takes it for the phone's address, roamd
# never sees it (it is queued on that other socket). roamd asks its kernel
# whether the value it is refused at is a learnt one (a cached route
# exception that expires) before fitting to it; it is, nothing roamd
# checked says so, so full-size pings still pass. (An outside attacker
# shrank roamd to 552 this way with one packet; in this lab the roamd before
# that check passed too, so this case guards the outcome, not the cause.)
sc_forged_other_socket() {
	local holder ret
	lab_reset wifi || return 1
	nsx "$LAB_SERVER" "$RT_PY" -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], 5353)); time.sleep(15)' "$LAB_SRV4" &
	holder=$!
	wait_until 3 eval "nsx \"$LAB_SERVER\" ss -uln | grep -q ':5353 '" || { kill "$holder"; echo "no listener on 5353"; return 1; }
	forged_leaves_roamd_whole other_socket 5353
	ret=$?
	kill "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null
	return "$ret"
}

# The same over IPv6 outer: an ICMPv6 "packet too big" quoting a real data
# message counts with the MTU it names (1300), one below IPv6's 1280 is held
# there, and one quoting a message never sent counts not at all. (roamd once
# read every ICMPv6 report as MTU 0: the packet-info cmsg ahead of the error
# left no room for the MTU, so it learnt IPv6 paths only from its own
# kernel's refusals, later.)
sc_forged6() {
	local before after q
	lab_reset lte6 || return 1
	before=$(server_path_mtu)
	[ "$before" = "interface None" ] || { echo "a path MTU before anything happened: $before"; return 1; }
	q=$(real_quote 6)
	[ ${#q} -eq 32 ] || { echo "no data message captured over IPv6 ($q)"; return 1; }
	forge 1000 "04000000112233440500000000000000" 6
	forge 1300 "$q" 6
	wait_until 3 server_mtu_is "icmp 1300"
	after=$(server_path_mtu)
	echo "  figures: scenario=pmtu_forged impl=$PAIR outer=v6 before=\"$before\" after_real_quote_mtu1300=\"$after\"" >&"$RT_OUT"
	[ "$after" = "icmp 1300" ] || { echo "a valid ICMPv6 'packet too big' (MTU 1300) gave path MTU '$after'"; return 1; }
	forge 1000 "$q" 6
	wait_until 3 server_mtu_is "icmp 1280"
	after=$(server_path_mtu)
	echo "  figures: scenario=pmtu_forged impl=$PAIR outer=v6 after_real_quote_mtu1000=\"$after\"" >&"$RT_OUT"
	[ "$after" = "icmp 1280" ] || { echo "a valid quote with MTU 1000: path MTU '$after', not the floor 1280"; return 1; }
	lab_tunnel_ok || { echo "the tunnel no longer passes traffic"; return 1; }
	ip -n "$LAB_SERVER" route flush cache
	ip -n "$LAB_SERVER" -6 route flush cache
}

# --- the runs ----------------------------------------------------------------------

run_pair() {
	local tag=$1 phone=$2 server=$3 mode=$4
	PAIR="${phone##*/}/${server##*/}${mode:+ $mode}"
	local P="[$PAIR]"
	if ! t_check "$P lab and tunnel up, LTE path $LTE_MTU bytes without fragments" \
		eval 'lab_up "$tag" && lab_start_tunnel "$phone" "$server" "$K" && lte_path_small'; then
		lab_down
		return
	fi
	local expect=pass
	case $mode in
	ROAMD_NO_PMTU=1) expect=stall ;;
	measure) expect=measure ;;
	esac
	if [ "$expect" = stall ]; then
		t_check "$P stream phone -> server across the move, IPv4: stalls (no path-MTU learning)" sc_stream up 4 stall
	else
		if [ -z "$mode" ]; then
			t_check "$P forged ICMP moves nothing; a real quote stops at the floor" sc_forged
			t_check "$P ICMPv6 'packet too big' quoting a real message counts, with its MTU" sc_forged6
			t_check "$P an off-path forged ICMP poisons the kernel's cache, not roamd's path MTU" sc_forged_off_path
			t_check "$P a forged ICMP naming another socket of the host does not shrink roamd" sc_forged_other_socket
		fi
		t_check "$P stream phone -> server across the move, IPv4 outer" sc_stream up 4 "$expect"
		t_check "$P stream server -> phone across the move, IPv4 outer" sc_stream down 4 "$expect"
		t_check "$P stream phone -> server across the move, IPv6 outer" sc_stream up 6 "$expect"
		t_check "$P stream server -> phone across the move, IPv6 outer" sc_stream down 6 "$expect"
	fi
	if [ -z "$mode" ] && t_check "$P routers on the LTE path filter their ICMP errors" lte_icmp_filtered; then
		t_check "$P ICMP filtered: stream phone -> server, IPv4 outer" sc_stream up 4 filtered
		t_check "$P ICMP filtered: stream server -> phone, IPv4 outer" sc_stream down 4 filtered
		t_check "$P ICMP filtered: stream phone -> server, IPv6 outer" sc_stream up 6 filtered
		t_check "$P ICMP filtered: stream server -> phone, IPv6 outer" sc_stream down 6 filtered
	fi
	lab_down
}

# roamd on the phone only: what the phone sends is fitted to the path, with
# or without ICMP; what wireguard-go sends the phone is not (it neither
# learns nor probes), so downloads over the smaller path are not tested.
run_phone_only() {
	local tag=$1
	PAIR="roamd/wireguard-go"
	local P="[$PAIR]"
	if ! t_check "$P lab and tunnel up, LTE path $LTE_MTU bytes without fragments" \
		eval 'lab_up "$tag" && lab_start_tunnel "$ROAMD" wireguard-go "$K" && lte_path_small'; then
		lab_down
		return
	fi
	t_check "$P stream phone -> server across the move, IPv4 outer" sc_stream up 4 pass
	if t_check "$P routers on the LTE path filter their ICMP errors" lte_icmp_filtered; then
		t_check "$P ICMP filtered: stream phone -> server, IPv4 outer" sc_stream up 4 filtered
		t_check "$P ICMP filtered: stream phone -> server, IPv6 outer" sc_stream up 6 filtered
	fi
	lab_down
}

run_pair a "$ROAMD" "$ROAMD" ""
run_phone_only d
# roamd without path-MTU learning, as before it (the environment reaches
# both daemons through wg_start).
export ROAMD_NO_PMTU=1
run_pair b "$ROAMD" "$ROAMD" ROAMD_NO_PMTU=1
unset ROAMD_NO_PMTU
run_pair c wireguard-go wireguard-go measure

rt_cleanup
t_check "cleanup leaves no namespace or socket" rt_nothing_left
t_finish
