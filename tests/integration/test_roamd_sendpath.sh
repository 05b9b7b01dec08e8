#!/usr/bin/env bash
# roamd's send path under a path that changes beneath it (commit d6ef538):
# DF on every outer datagram with a fragmenting fallback, GSO batches that
# survive a refused send, sticky sources checked against the route, and send
# failures counted per peer and cause. roamd on both ends:
#
#   case                                         what it shows
#   MTU drop and return (outer v4, outer v6)     GSO batches on the wire; with the route
#                                                to the peer at MTU 1300 inner datagrams
#                                                still arrive, and nothing longer than
#                                                1300 bytes leaves (they go fragmented);
#                                                with the route back at 1500 GSO batches
#                                                are back
#   DF on every full-size datagram (on, NO_GSO)  a TCP bulk transfer: every outer IPv4
#                                                datagram >= 1000 B seen at the receiver
#                                                carries DF
#   IPv6 source swap during bursts, 10 times     a phone's new address replaces the old
#                                                mid-burst: GSO stays on, the tunnel works
#   send failures counted                        an nft output drop -> send_refused, an
#                                                unreachable route -> send_unreachable, in
#                                                `roam show`, `--json` and `roam metrics`
#   exit counters                                every datagram seen fragmented was counted
#                                                as sent fragmented; sticky sources forgotten
#
# Traffic: inner UDP sent as UDP_SEGMENT super-packets of 1392-byte datagrams
# (the TUN hands them to roamd whole, roamd cuts them and sends them as one
# GSO batch per super-packet), numbered so the receiver counts distinct ones.
# The wire is watched with tcpdump on the veth and the pcap read here: a GSO
# batch is seen whole there (one captured packet longer than the veth's 1500
# MTU), which is how batches are counted.
#
#   ns X  192.0.2.1/24, fd00:1::1/64  ==veth==  192.0.2.2/24, fd00:1::2/64  ns Y
#   tunnel 198.18.0.1                 <=====>   198.18.0.2
# Measured figures are printed as "  figures: ..." lines. ROAM_ROAMD and
# ROAM_CLI name other binaries than build/roamd and build/roam.
# shellcheck disable=SC2317 # case functions are called through t_check
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

TOP=$(cd "$(dirname "$0")/../.." && pwd)
ROAMD=${ROAM_ROAMD:-$TOP/build/roamd}
ROAM=${ROAM_CLI:-$TOP/build/roam}
[ -x "$ROAMD" ] || t_abort "build/roamd is missing (run make)"
[ -x "$ROAM" ] || t_abort "build/roam is missing (run make)"
for tool in tcpdump nft; do
	command -v "$tool" >/dev/null || t_abort "$tool is not installed (scripts/install-deps.sh)"
done
PORT=51820
BURST=300     # datagrams per burst
SEG=1392      # inner UDP payload: 1420-byte inner IPv4 packets, the tunnel MTU
DELIVER_PCT=95

# roamd with an environment, as one command wg_start can run.
wrapper() { rt_impl_with_env "$1" "$ROAMD" "${@:2}"; }
R_ON=$(wrapper roamd-on LOG_LEVEL=verbose)
R_NOGSO=$(wrapper roamd-nogso LOG_LEVEL=verbose ROAMD_NO_GSO=1)

X="" Y="" WX="" WY="" VX="" VY="" TAG=""

# lab_up TAG IMPL — both ends IMPL. Besides the connected /64, X reaches Y's
# fd00:1::2 by a host route (so X's own address can change) and Y reaches
# all of fd00:1::/48 on the link (X's next addresses).
lab_up() {
	TAG=$1
	X=$(rt_name "${TAG}x") Y=$(rt_name "${TAG}y") WX=$(rt_name "${TAG}wx") WY=$(rt_name "${TAG}wy")
	ns_create "$X" "$Y" &&
		link_ns "$X" "$Y" 192.0.2.1/24,fd00:1::1/64 192.0.2.2/24,fd00:1::2/64 || return 1
	VX=$(link_name "$RT_LINKS" a) VY=$(link_name "$RT_LINKS" b)
	ip -n "$X" -6 route add fd00:1::2/128 dev "$VX" &&
		ip -n "$Y" -6 route add fd00:1::/48 dev "$VY" &&
		wg_start "$2" "$X" "$WX" &&
		wg_start "$2" "$Y" "$WY" &&
		wg_genkey "${TAG}x" && wg_genkey "${TAG}y" &&
		wg_set "$X" "$WX" private-key "$(key_file "${TAG}x")" listen-port "$PORT" &&
		wg_set "$Y" "$WY" private-key "$(key_file "${TAG}y")" listen-port "$PORT" &&
		wg_ifup "$X" "$WX" 198.18.0.1/32 198.18.0.2/32 &&
		wg_ifup "$Y" "$WY" 198.18.0.2/32 198.18.0.1/32
}

# set_outer 4|6 — both ends know each other over that family; handshake.
set_outer() {
	local ep_x=192.0.2.1:$PORT ep_y=192.0.2.2:$PORT
	[ "$1" = 6 ] && ep_x="[fd00:1::1]:$PORT" ep_y="[fd00:1::2]:$PORT"
	wg_set "$X" "$WX" peer "$(key_pub "${TAG}y")" endpoint "$ep_y" allowed-ips 198.18.0.2/32 &&
		wg_set "$Y" "$WY" peer "$(key_pub "${TAG}x")" endpoint "$ep_x" allowed-ips 198.18.0.1/32 || return 1
	nsx "$X" ping -c 1 -W 1 -q 198.18.0.2 >/dev/null 2>&1
	wait_until 10 ping_ok "$X" 198.18.0.2
}

# Y's outer address in family F.
peer_outer() { [ "$1" = 6 ] && echo fd00:1::2 || echo 192.0.2.2; }

# ---------------------------------------------------------------------------
# Inner UDP: rx counts distinct numbered datagrams until it has WANT of them
# or 2 s pass without one; tx sends COUNT datagrams of SEG bytes as
# UDP_SEGMENT sends of SEGS each, PACE ms apart, saying "started" after the
# first.
PY_UDP='
import socket, struct, sys, time
role, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if role == "rx":
    want = int(sys.argv[4])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, 33, 1 << 23)  # SO_RCVBUFFORCE
    s.bind((addr, port)); s.settimeout(15)
    print("ready", flush=True)
    seen = set()
    try:
        while len(seen) < want:
            d = s.recv(65536)
            if len(d) >= 4:
                seen.add(struct.unpack("!I", d[:4])[0])
            s.settimeout(2)
    except socket.timeout:
        pass
    print("got", len(seen))
else:
    count, seg, segs, pace = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7]) / 1000
    first = int(sys.argv[8]) if len(sys.argv) > 8 else 0
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((addr, port))
    s.setsockopt(socket.SOL_UDP, 103, seg)  # UDP_SEGMENT
    seq, pad = first, bytes(seg - 4)
    while seq < first + count:
        n = min(segs, first + count - seq)
        s.send(b"".join(struct.pack("!I", seq + i) + pad for i in range(n)))
        if seq == first:
            print("started", flush=True)
        seq += n
        time.sleep(pace)
    print("sent", count, flush=True)
'

# rx_start PORT WANT — a receiver in Y on 198.18.0.2:PORT; sets RX_PID RX_OUT.
rx_start() {
	RX_OUT="$RT_TMP/rx.$1"
	: >"$RX_OUT"
	nsx "$Y" "$RT_PY" -c "$PY_UDP" rx 198.18.0.2 "$1" "$2" >"$RX_OUT" 2>&1 {RT_OUT}>&- {RT_ERR}>&- &
	RX_PID=$!
	RT_PIDS+=("$RX_PID")
	wait_until 5 grep -q ready "$RX_OUT" || { echo "receiver not ready"; cat "$RX_OUT"; return 1; }
}

# rx_wait — wait for the receiver (bounded by its own timeouts); prints the count.
rx_wait() {
	wait "$RX_PID"
	rt_forget "$RX_PID"
	sed -n 's/^got //p' "$RX_OUT"
}

# tx PORT COUNT SEG SEGS PACE_MS FIRST — the sender in X towards 198.18.0.2.
tx() { nsx "$X" timeout 30 "$RT_PY" -c "$PY_UDP" tx 198.18.0.2 "$@"; }

# ---------------------------------------------------------------------------
# Capture: tcpdump on a veth end, read back with Python.

# cap_start NS DEV — sets CAP_PID CAP_FILE; returns once tcpdump listens.
cap_start() {
	CAP_FILE="$RT_TMP/cap.$(date +%s%N).pcap"
	nsx "$1" tcpdump -i "$2" -n -s 128 -U --immediate-mode -w "$CAP_FILE" 'not arp' \
		>"$CAP_FILE.err" 2>&1 {RT_OUT}>&- {RT_ERR}>&- &
	CAP_PID=$!
	RT_PIDS+=("$CAP_PID")
	wait_until 5 grep -q "listening on" "$CAP_FILE.err" || { cat "$CAP_FILE.err"; return 1; }
}

cap_size() { stat -c %s "$CAP_FILE" 2>/dev/null || echo 0; }
cap_settled() {
	local a b
	a=$(cap_size)
	sleep 0.2
	b=$(cap_size)
	[ "$a" = "$b" ]
}

# cap_stop — once the file stops growing, stop tcpdump (TERM: a background
# job of a script ignores INT) and wait for it.
cap_stop() {
	wait_until 5 cap_settled
	kill -TERM "$CAP_PID" 2>/dev/null
	wait "$CAP_PID" 2>/dev/null
	rt_forget "$CAP_PID"
	return 0
}

# cap_read DST [LIMIT] — figures of the outer packets to DST (our port, and
# IP fragments), as shell assignments:
#   packets  outer UDP datagrams (or first fragments) as captured
#   batches  those longer than the veth MTU: GSO batches seen whole
#   dgrams   datagrams they stand for (a batch counts as at least
#            ceil(payload / largest datagram))
#   frags    IP fragments (IPv4 MF or offset, IPv6 fragment header)
#   fragged  datagrams sent in fragments (first fragments)
#   big      IPv4 packets (datagrams or fragments) of 1000 bytes or more
#   nodf     those of them without DF
#   over     datagrams and fragments longer than LIMIT (default 1500); not
#            GSO batches: the kernel refuses (EINVAL) a batch whose segments
#            exceed the route's MTU, so a batch that left has segments that
#            fit, and its whole length says nothing
PY_PCAP='
import socket, struct, sys
data = open(sys.argv[1], "rb").read()
dst, port, limit = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
dstb = socket.inet_pton(fam, dst)
e = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
link = struct.unpack(e + "I", data[20:24])[0]
if link != 1:
    sys.exit("link type %d, not Ethernet" % link)
off = 24
packets = batches = dgrams = frags = fragged = big = nodf = over = 0
while off + 16 <= len(data):
    _, _, incl, orig = struct.unpack(e + "IIII", data[off:off + 16])
    pkt = data[off + 16:off + 16 + incl]
    off += 16 + incl
    etype, ip, length = struct.unpack("!H", pkt[12:14])[0], pkt[14:], orig - 14
    udp = None
    if etype == 0x0800 and fam == socket.AF_INET and len(ip) >= 20 and ip[16:20] == dstb:
        fo = struct.unpack("!H", ip[6:8])[0]
        frag = bool(fo & 0x2000) or bool(fo & 0x1FFF)
        frags += frag
        over += (frag or ip[9] == 17) and limit < length <= 1500
        if frag or ip[9] == 17:
            if length >= 1000:
                big += 1
                nodf += not fo & 0x4000
        if ip[9] == 17 and not fo & 0x1FFF:
            udp, hdrs = ip[(ip[0] & 15) * 4:], 28
            fragged += frag
    elif etype == 0x86DD and fam == socket.AF_INET6 and len(ip) >= 40 and ip[24:40] == dstb:
        if ip[6] == 44:
            frags += 1
            over += limit < length <= 1500
            if ip[40] == 17 and not struct.unpack("!H", ip[42:44])[0] >> 3:
                udp, hdrs = ip[48:], 56
                fragged += 1
        elif ip[6] == 17:
            udp, hdrs = ip[40:], 48
            over += limit < length <= 1500
    if udp is None or len(udp) < 4 or port not in struct.unpack("!HH", udp[:4]):
        continue
    packets += 1
    if length > 1500:
        batches += 1
        dgrams += -(-(length - hdrs) // (1500 - hdrs))
    else:
        dgrams += 1
print("packets=%d batches=%d dgrams=%d frags=%d fragged=%d big=%d nodf=%d over=%d"
      % (packets, batches, dgrams, frags, fragged, big, nodf, over))
'
cap_read() {
	local out
	out=$("$RT_PY" -c "$PY_PCAP" "$CAP_FILE" "$1" "$PORT" "${2:-1500}") || { echo "$out"; return 1; }
	echo "capture: $out" >&2
	eval "$out"
}

# burst F PHASE FIRST [LIMIT] — BURST datagrams numbered from FIRST, X -> Y
# (15 UDP_SEGMENT sends of 20), with X's veth captured; sets GOT and the
# capture figures (over: longer than LIMIT).
packets=0 batches=0 dgrams=0 frags=0 fragged=0 big=0 nodf=0 over=0 GOT=0
burst() {
	local f=$1 first=$3
	rx_start 6000 "$BURST" || return 1
	cap_start "$X" "$VX" || return 1
	tx 6000 "$BURST" "$SEG" 20 2 "$first" >/dev/null || { cap_stop; return 1; }
	GOT=$(rx_wait)
	cap_stop
	cap_read "$(peer_outer "$f")" "${4:-1500}" || return 1
	echo "v$f $2: delivered ${GOT:-0} of $BURST; $batches GSO batches, $frags fragments, $packets outer packets"
}

delivered_enough() { [ "${GOT:-0}" -ge $((BURST * DELIVER_PCT / 100)) ]; }

# Case 1. The route to the peer drops to MTU 1300 and returns to 1500: the
# inner datagrams (1480 / 1500 bytes outer) arrive throughout, and GSO
# batches come back with the MTU. d6ef538's roamd sends them fragmented
# (EMSGSIZE, then PMTUDISC_WANT for that datagram). What left longer than
# 1300 bytes while the route said 1300 is kept in OVER_<F> for the next case.
mtu_drop_and_return() {
	local f=$1 dst b0 b1 b2 fr fg ov g0 g1 g2 fam=-4 host=/32 min=$((BURST * DELIVER_PCT / 100))
	dst=$(peer_outer "$f")
	[ "$f" = 6 ] && fam=-6 host=/128
	burst "$f" before $((f * 10000)) || return 1
	b0=$batches g0=$GOT
	ip -n "$X" "$fam" route replace "$dst$host" dev "$VX" mtu 1300 || return 1
	burst "$f" "at MTU 1300" $((f * 10000 + 1000)) 1300 || return 1
	b1=$batches g1=$GOT fr=$frags fg=$fragged ov=$over
	eval "OVER_$f=$ov"
	FRAGGED=$((FRAGGED + fg))
	ip -n "$X" "$fam" route replace "$dst$host" dev "$VX" mtu 1500 || return 1
	burst "$f" "MTU back at 1500" $((f * 10000 + 2000)) || return 1
	b2=$batches g2=$GOT
	echo "  figures: outer v$f: GSO batches before/at MTU 1300/after $b0/$b1/$b2;" \
		"at MTU 1300: $fr fragments of $fg datagrams, $ov outer packets > 1300 B; delivered $g0/$g1/$g2 of $BURST" >&"$RT_OUT"
	[ "$f" = 4 ] && ip -n "$X" route del "$dst$host"
	[ "$b0" -gt 0 ] || { echo "no GSO batches before the change"; return 1; }
	[ "$g0" -ge "$min" ] || { echo "before: only $g0 delivered"; return 1; }
	[ "$g1" -ge "$min" ] || { echo "at MTU 1300: only $g1 delivered"; return 1; }
	[ "$b2" -gt 0 ] || { echo "no GSO batches after the MTU returned"; return 1; }
	[ "$g2" -ge "$min" ] || { echo "after: only $g2 delivered"; return 1; }
}

# Case 1b. While the route said MTU 1300, nothing longer left X's veth: the
# configured route MTU is honoured (by fragmenting), not only the link's.
# shellcheck disable=SC2034 # read through eval
OVER_4="" OVER_6="" FRAGGED=0
route_mtu_honoured() {
	local n
	eval "n=\${OVER_$1}"
	[ -n "$n" ] || { echo "no figures from the MTU case"; return 1; }
	[ "$n" -eq 0 ] || { echo "$n outer packets longer than the route's MTU 1300 left X"; return 1; }
}

# Case 2. A TCP bulk transfer X -> Y, captured at Y's veth: every outer IPv4
# datagram of 1000 bytes or more has DF. (A GSO batch is seen whole there
# too; its segments get its IP header, DF included.)
df_everywhere() {
	local label=$1
	cap_start "$Y" "$VY" || return 1
	tcp_transfer "$X" "$Y" 198.18.0.2 5001 8 30 || { cap_stop; return 1; }
	cap_stop
	cap_read 192.0.2.2 || return 1
	echo "  figures: DF ($label): $big outer IPv4 packets >= 1000 B ($batches of them GSO batches," \
		"standing for >= $dgrams datagrams), $nodf without DF, $frags fragments" >&"$RT_OUT"
	[ "$nodf" -eq 0 ] || { echo "$nodf full-size datagrams without DF"; return 1; }
	[ "$dgrams" -ge 500 ] || { echo "only $dgrams datagrams seen"; return 1; }
	[ "$big" -gt 0 ]
}

# Case 3. X's outer IPv6 address is replaced during a burst, SWAPS times:
# the new address comes (nodad: usable at once), the route to Y takes it as
# source, the old one goes: X's sticky source vanishes mid-burst, while GSO
# batches from it are being sent. The bursts arrive (90%), then a burst shows
# GSO batches, pings pass both ways, and roamd never said it turned GSO off.
SWAPS=10
GSO_OFF_RE='segmentation offload (refused|not supported)|GSO off'
source_swaps() {
	local i old=fd00:1::1 new total=$((SWAPS * BURST)) got tx_out txp
	rx_start 6001 "$total" || return 1
	for ((i = 1; i <= SWAPS; i++)); do
		new=fd00:1:0:$i::1
		# Y -> X first: X receives on its current address and makes it
		# the sticky source (and the tunnel works after the last swap).
		wait_until 5 nsx "$Y" ping -c 1 -W 1 -q 198.18.0.1 || { echo "swap $i: no ping Y -> X"; return 1; }
		tx_out="$RT_TMP/swap.tx"
		nsx "$X" timeout 30 "$RT_PY" -c "$PY_UDP" tx 198.18.0.2 6001 "$BURST" "$SEG" 10 3 $((i * 1000)) \
			>"$tx_out" 2>&1 {RT_OUT}>&- {RT_ERR}>&- &
		txp=$!
		RT_PIDS+=("$txp")
		wait_until 5 grep -q started "$tx_out" || { echo "swap $i: sender did not start"; return 1; }
		if_addr "$X" "$VX" "$new/64" &&
			ip -n "$X" -6 route replace fd00:1::2/128 dev "$VX" src "$new" &&
			ip -n "$X" -6 addr del "$old/64" dev "$VX" || return 1
		old=$new
		wait "$txp"
		rt_forget "$txp"
		grep -q "^sent" "$tx_out" || { echo "swap $i: sender failed"; cat "$tx_out"; return 1; }
	done
	got=$(rx_wait)
	echo "  figures: $SWAPS IPv6 source swaps during bursts: ${got:-0} of $total datagrams delivered" >&"$RT_OUT"
	[ "${got:-0}" -ge $((total * 90 / 100)) ] || { echo "during the swaps only ${got:-0} of $total delivered"; return 1; }
	# Y must have followed X to its last address.
	wait_until 5 ping_ok "$X" 198.18.0.2 || { echo "no ping X -> Y after the swaps"; return 1; }
	wg_show "$Y" "$WY" endpoints | grep -qF "[$new]:" || { echo "Y's endpoint for X is not $new"; return 1; }
	burst 6 "after $SWAPS swaps" 90000 || return 1
	echo "  figures: after the swaps: $batches GSO batches, $GOT of $BURST delivered" >&"$RT_OUT"
	[ "$batches" -gt 0 ] || { echo "no GSO batches after the swaps"; return 1; }
	delivered_enough || { echo "after the swaps only $GOT delivered"; return 1; }
	ping_ok "$Y" 198.18.0.1 || { echo "no ping Y -> X after the swaps"; return 1; }
	if grep -E "$GSO_OFF_RE" "$RT_TMP/$WX.log"; then
		echo "roamd turned GSO off"
		return 1
	fi
}

# Case 4. Send failures counted by cause and peer.
# drop_count CAUSE — the count `roam show --json` gives X's peer for CAUSE.
drop_count() {
	"$ROAM" show "$WX" --json | "$RT_PY" -c '
import json, sys
doc = json.load(sys.stdin)
for i in doc["interfaces"]:
    for p in i["peers"]:
        if p["public_key"] == sys.argv[1]:
            print((p["drops"] or {}).get(sys.argv[2], 0))
' "$(key_pub "${TAG}y")" "$1"
}
drop_counted() { [ "$(drop_count "$1")" -gt 0 ] 2>/dev/null; }

# counted_everywhere CAUSE — > 0 in the JSON, the text and the metrics.
counted_everywhere() {
	local cause=$1 pub n text metric
	pub=$(key_pub "${TAG}y")
	n=$(drop_count "$cause")
	# The text: the "drops:" line of this peer's section.
	text=$("$ROAM" show "$WX" | awk -v pub="$pub" '/^peer: /{mine = ($2 == pub)} mine && /^  drops: /' |
		grep -oE "\b$cause [0-9]+")
	metric=$("$ROAM" metrics "$WX" | grep -F "roam_peer_dropped_packets_total{" | grep -F "public_key=\"$pub\"" |
		grep -F "reason=\"$cause\"")
	echo "  figures: $cause: json $n; text '${text:-none}'; metrics '${metric:-none}'" >&"$RT_OUT"
	[ "${n:-0}" -gt 0 ] || { echo "--json: no $cause"; return 1; }
	[ "${text#"$cause "}" -gt 0 ] 2>/dev/null || { echo "text: no $cause"; "$ROAM" show "$WX"; return 1; }
	[ "${metric##* }" -gt 0 ] 2>/dev/null || { echo "metrics: no $cause"; return 1; }
}

# Pings through the tunnel that cannot get out (they fail: exit status ignored).
# roam doctor, watching while X keeps pinging through the refusing rule,
# names the cause: its "sending" check FAILs with send_refused.
doctor_names_refusal() {
	local out verdict
	nsx "$X" ping -c 30 -i 0.1 -W 1 -q 198.18.0.2 >/dev/null 2>&1 &
	local ppid=$!
	out=$(nsx "$X" "$ROAM" doctor "$WX" --json --wait 2 2>/dev/null)
	kill "$ppid" 2>/dev/null
	wait "$ppid" 2>/dev/null
	verdict=$("$RT_PY" -c 'import json,sys
d = json.load(sys.stdin)
for i in d["interfaces"] if "interfaces" in d else [d]:
    for c in i["checks"]:
        if c["check"] == "sending":
            text = str(c.get("evidence")) + " " + str(c.get("decision"))
            print(c["status"], "send_refused" in text, "firewall" in text)' <<<"$out")
	echo "  figures: doctor sending check: ${verdict:-none}" >&"$RT_OUT"
	[ "$verdict" = "FAIL True True" ] || { echo "doctor did not name the refusal: ${verdict:-no sending check}"; return 1; }
}

poke() { nsx "$X" ping -c 5 -i 0.2 -W 1 -q 198.18.0.2 >/dev/null 2>&1; return 0; }

send_refused() {
	nsx "$X" nft -f - <<-EOF || return 1
		table inet roamtest {
			chain out {
				type filter hook output priority 0; policy accept;
				ip daddr 192.0.2.2 udp dport $PORT drop
			}
		}
	EOF
	poke
	wait_until 3 drop_counted send_refused
	counted_everywhere send_refused || { nsx "$X" nft delete table inet roamtest; return 1; }
	doctor_names_refusal || { nsx "$X" nft delete table inet roamtest; return 1; }
	nsx "$X" nft delete table inet roamtest || return 1
	wait_until 10 ping_ok "$X" 198.18.0.2 || { echo "no ping after the nft rule went"; return 1; }
}

send_unreachable() {
	ip -n "$X" route add unreachable 192.0.2.2/32 || return 1
	poke
	wait_until 3 drop_counted send_unreachable
	counted_everywhere send_unreachable || { ip -n "$X" route del unreachable 192.0.2.2/32; return 1; }
	ip -n "$X" route del unreachable 192.0.2.2/32 || return 1
	wait_until 10 ping_ok "$X" 198.18.0.2 || { echo "no ping after the unreachable route went"; return 1; }
}

# Exit counters of X's roamd (its last log line of figures): the sticky
# sources of the swaps were forgotten, and every datagram seen leaving in
# fragments in case 1 was counted as sent fragmented.
exit_counters() {
	local pid line split frag checked forgotten
	pid=$(ip netns pids "$X" | while read -r p; do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = roamd ] && echo "$p"
	done | head -n 1)
	[ -n "$pid" ] || { echo "no roamd in $X"; return 1; }
	kill -TERM "$pid"
	wait_until 5 bash -c "! kill -0 $pid 2>/dev/null" || return 1
	line=$(grep "data path:" "$RT_TMP/$WX.log" | tail -n 1)
	[ -n "$line" ] || { echo "no counters in the log"; tail -n 5 "$RT_TMP/$WX.log"; return 1; }
	split=$(grep -oE '\(([0-9]+) split\)' <<<"$line" | tr -dc 0-9)
	frag=$(grep -oE '([0-9]+) sent fragmented' <<<"$line" | tr -dc 0-9)
	checked=$(grep -oE '([0-9]+) checked' <<<"$line" | tr -dc 0-9)
	forgotten=$(grep -oE '([0-9]+) forgotten' <<<"$line" | tr -dc 0-9)
	echo "  figures: X's exit counters: ${split:-?} GSO batches split, ${frag:-?} sent fragmented," \
		"(seen on the wire: $FRAGGED), sticky sources ${checked:-?} checked, ${forgotten:-?} forgotten" >&"$RT_OUT"
	echo "$line"
	[ "${forgotten:-0}" -gt 0 ] || { echo "no sticky source forgotten"; return 1; }
	[ "${frag:-0}" -ge "$FRAGGED" ] || { echo "$FRAGGED datagrams left in fragments, ${frag:-0} counted"; return 1; }
}

# ---------------------------------------------------------------------------

if t_check "lab comes up (roamd on both ends)" lab_up a "$R_ON"; then
	for f in 4 6; do
		t_check "outer v$f: configure and handshake" set_outer "$f" &&
			t_check "outer v$f: MTU 1300 and back: delivered throughout, GSO batches return" \
				mtu_drop_and_return "$f" &&
			t_check "outer v$f: at route MTU 1300 nothing longer left" route_mtu_honoured "$f"
	done
	t_check "outer v4 again" set_outer 4 &&
		t_check "DF on every full-size outer datagram (offloads on)" df_everywhere "offloads on"
	t_check "outer v6 again" set_outer 6 &&
		t_check "IPv6 source swapped during bursts $SWAPS times: GSO stays on, tunnel works" source_swaps
	t_check "outer v4 for the failure cases" set_outer 4 && {
		t_check "nft output drop: send_refused in show, --json, metrics and doctor; tunnel back after" send_refused
		t_check "unreachable route: send_unreachable counted; tunnel back after" send_unreachable
	}
	t_check "X's exit counters: fragmented sends counted, sticky sources forgotten" exit_counters
fi
rt_cleanup

if t_check "lab comes up (roamd ROAMD_NO_GSO=1 on both ends)" lab_up n "$R_NOGSO"; then
	t_check "outer v4 (NO_GSO): configure and handshake" set_outer 4 &&
		t_check "DF on every full-size outer datagram (ROAMD_NO_GSO=1)" df_everywhere "ROAMD_NO_GSO=1"
fi
rt_cleanup

t_check "cleanup leaves no namespace or socket" rt_nothing_left
t_finish
