#!/usr/bin/env bash
# roamd's offloads (TUN virtio header with TSO/USO, cutting and gluing in
# roamd, UDP GSO and GRO on the sockets), checked end to end:
#
#   pairing (X <-> Y)                            what it shows
#   roamd all on   <-> roamd all on              the fast path is used and correct; X trusts
#                                                decrypted packets' inner checksums (the
#                                                default), Y re-checks them
#                                                (ROAMD_VERIFY_CHECKSUMS=1)
#   roamd all off  <-> roamd all off             ROAMD_NO_OFFLOAD=1 really is the plain path
#   roamd all on   <-> wireguard-go              a peer without GSO/GRO (Debian's
#                                                wireguard-go has neither)
#   roamd all off  <-> wireguard-go
#   roamd all on   <-> roamd NO_GRO              a roamd that cannot take GSO: the
#                                                kernel cuts at its socket
#   roamd all on   <-> roamd all on, outer MTU   segments bigger than the interface: the
#                      1400 < 1420+overhead      kernel refuses them (EMSGSIZE), roamd learns
#                                                the path MTU from it and cuts to fit, GSO on
#   roamd all on   <-> roamd all on, no tx csum  a route without checksum offload (older
#                                                kernels refuse GSO there: EIO)
#
# Each pairing: outer IPv4 and IPv6 (inner the same family), ping with small,
# full-MTU and fragmented packets, ROAM_OFFLOAD_MIB (8) MiB of TCP each way with SHA-256 (bulk:
# the kernel hands roamd 64 KiB TSO segments), TCP with mixed-size writes
# (TCP_NODELAY, 1 byte to 20 KiB: segments of every size, glued or not), and
# UDP datagrams sent in runs of one size and as one UDP_SEGMENT super-packet
# from the application (USO through the TUN), each checked for content. At
# the end each roamd's exit line of counters is checked: the offloads that
# should have been used were, those turned off were not.
#
#   ns X  192.0.2.1/24, fd00:1::1/64  ==veth==  192.0.2.2/24, fd00:1::2/64  ns Y
#   tunnel 198.18.0.1, fd00:2::1      <=====>   198.18.0.2, fd00:2::2
# shellcheck disable=SC2317 # case functions are called through t_check
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

ROAMD=${ROAM_ROAMD:-$(cd "$(dirname "$0")/../.." && pwd)/build/roamd}
[ -x "$ROAMD" ] || t_abort "build/roamd is missing (run make)"
command -v wireguard-go >/dev/null || t_abort "wireguard-go is not installed (scripts/install-deps.sh)"
MIB=${ROAM_OFFLOAD_MIB:-8}
PORT=51820

# roamd with an environment, as one command wg_start can run.
wrapper() { rt_impl_with_env "$1" "$ROAMD" "${@:2}"; }
R_ON=$(wrapper roamd-on LOG_LEVEL=verbose)
R_OFF=$(wrapper roamd-off LOG_LEVEL=verbose ROAMD_NO_OFFLOAD=1)
R_NOGRO=$(wrapper roamd-nogro LOG_LEVEL=verbose ROAMD_NO_GRO=1)
R_VERIFY=$(wrapper roamd-verify LOG_LEVEL=verbose ROAMD_VERIFY_CHECKSUMS=1)

X="" Y="" WX="" WY=""

lab_up() {
	local n=$1 impl_x=$2 impl_y=$3
	X=$(rt_name "${n}x") Y=$(rt_name "${n}y") WX=$(rt_name "${n}wx") WY=$(rt_name "${n}wy")
	ns_create "$X" "$Y" &&
		link_ns "$X" "$Y" 192.0.2.1/24,fd00:1::1/64 192.0.2.2/24,fd00:1::2/64 &&
		wg_start "$impl_x" "$X" "$WX" &&
		wg_start "$impl_y" "$Y" "$WY" &&
		wg_genkey "${n}x" && wg_genkey "${n}y" &&
		wg_set "$X" "$WX" private-key "$(key_file "${n}x")" listen-port "$PORT" &&
		wg_set "$Y" "$WY" private-key "$(key_file "${n}y")" listen-port "$PORT" &&
		wg_ifup "$X" "$WX" 198.18.0.1/32,fd00:2::1/128 198.18.0.2/32,fd00:2::2/128 &&
		wg_ifup "$Y" "$WY" 198.18.0.2/32,fd00:2::2/128 198.18.0.1/32,fd00:2::1/128
}

# set_outer N 4|6 — both ends know each other over that family.
set_outer() {
	local n=$1 ep_x=192.0.2.1:$PORT ep_y=192.0.2.2:$PORT
	[ "$2" = 6 ] && ep_x="[fd00:1::1]:$PORT" ep_y="[fd00:1::2]:$PORT"
	wg_set "$X" "$WX" peer "$(key_pub "${n}y")" endpoint "$ep_y" allowed-ips 198.18.0.2/32,fd00:2::2/128 &&
		wg_set "$Y" "$WY" peer "$(key_pub "${n}x")" endpoint "$ep_x" allowed-ips 198.18.0.1/32,fd00:2::1/128
}

addr_x() { [ "$1" = 6 ] && echo fd00:2::1 || echo 198.18.0.1; }
addr_y() { [ "$1" = 6 ] && echo fd00:2::2 || echo 198.18.0.2; }

# Small, full-MTU (1420 minus the IP and ICMP headers) and fragmented.
pings() {
	local f=$1 ax ay full s
	ax=$(addr_x "$f") ay=$(addr_y "$f")
	full=$((1420 - 28))
	[ "$f" = 6 ] && full=$((1420 - 48))
	local pm=()
	if [ -n "${PMTU_PRIME:-}" ]; then
		# The outer path is smaller than the tunnel's MTU, so roamd fits
		# inner packets to it (pathmtu.h): IPv4 without DF it fragments
		# itself; for IPv6 it answers the first full-size packet with
		# "packet too big", as a router on a smaller link does, and the
		# host fragments from then on.
		if [ "$f" = 4 ]; then pm=(-M dont); else pm=(-M want); fi
		for s in "$full" 3000; do
			nsx "$X" ping "${pm[@]}" -c 1 -W 1 -q -s "$s" "$ay" >/dev/null 2>&1
			nsx "$Y" ping "${pm[@]}" -c 1 -W 1 -q -s "$s" "$ax" >/dev/null 2>&1
		done
	fi
	for s in 56 "$full" 3000; do
		nsx "$X" ping "${pm[@]}" -c 3 -i 0.2 -W 2 -w 5 -q -s "$s" "$ay" || return 1
		nsx "$Y" ping "${pm[@]}" -c 3 -i 0.2 -W 2 -w 5 -q -s "$s" "$ax" || return 1
	done
}

bulk() {
	local f=$1
	tcp_transfer "$X" "$Y" "$(addr_y "$f")" 5001 "$MIB" 60 && tcp_transfer "$Y" "$X" "$(addr_x "$f")" 5002 "$MIB" 60
}

# TCP with writes of random sizes and TCP_NODELAY, so segments of every
# size cross the tunnel; SHA-256 at both ends, as tcp_transfer.
PY_MIXED='
import hashlib, os, random, socket, sys, time
role, addr, port, tmo = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
h, n = hashlib.sha256(), 0
if role == "recv":
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port)); ls.listen(1); ls.settimeout(tmo)
    c, _ = ls.accept(); c.settimeout(tmo)
    while True:
        b = c.recv(random.choice((1, 100, 1500, 65536)))
        if not b: break
        h.update(b); n += len(b)
    c.close()
else:
    c = socket.create_connection((addr, port), timeout=tmo)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rnd = random.Random(int(sys.argv[5]))
    for i in range(3000):
        size = rnd.choice((1, 2, 17, 500, 1367, 1368, 1369, 1400, 2800, 4000, rnd.randint(1, 20000)))
        b = os.urandom(size)
        c.sendall(b); h.update(b); n += size
        if i % 97 == 0: time.sleep(0.002)
    c.shutdown(socket.SHUT_WR)
    c.recv(1)
    c.close()
print(n, h.hexdigest())
'

mixed_one() {
	local src=$1 dst=$2 addr=$3 port=$4 rpid sent got
	local rout="$RT_TMP/mixed.$port.recv"
	nsx "$dst" "$RT_PY" -c "$PY_MIXED" recv "$addr" "$port" 60 >"$rout" 2>&1 {RT_OUT}>&- {RT_ERR}>&- &
	rpid=$!
	RT_PIDS+=("$rpid")
	wait_until 5 rt_listening "$dst" "$port" || { cat "$rout"; return 1; }
	sent=$(nsx "$src" "$RT_PY" -c "$PY_MIXED" send "$addr" "$port" 60 "$port" 2>&1)
	wait "$rpid"
	rt_forget "$rpid"
	got=$(cat "$rout")
	echo "sent: $sent"
	echo "got:  $got"
	[ -n "$sent" ] && [ "$sent" = "$got" ]
}

mixed() {
	local f=$1
	mixed_one "$X" "$Y" "$(addr_y "$f")" 5003 && mixed_one "$Y" "$X" "$(addr_x "$f")" 5004
}

# UDP: runs of datagrams of one size (so the receiver may glue them), then
# the same bytes as UDP_SEGMENT super-packets from the application (the
# kernel hands them to roamd unsegmented through the TUN's USO). Every
# datagram carries its number and a pattern derived from it; the receiver
# counts intact ones and damaged ones. Sent in paced bursts: loss would be
# the machine's, not a bug, so 90% must arrive, and none damaged.
PY_UDP='
import os, random, socket, struct, sys, time
role, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
maxp = 1420 - (48 if fam == socket.AF_INET6 else 28)
def body(seq, size):
    return struct.pack("!I", seq) + random.Random(seq).randbytes(size - 4)
if role == "recv":
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    s.bind((addr, port)); s.settimeout(5)
    want, good, bad, seen = int(sys.argv[4]), 0, 0, set()
    print("ready", flush=True)
    try:
        # Until the sender says it is done: a pause of the sender on a
        # loaded machine must not end the count (a receiver gone early
        # turns the sender'"'"'s next datagrams into "connection refused").
        while good + bad < want:
            d = s.recv(65536)
            if d == b"END!":
                break
            seq = struct.unpack("!I", d[:4])[0] if len(d) >= 4 else -1
            if seq in seen or d != body(seq, len(d)):
                bad += 1
            else:
                seen.add(seq); good += 1
            s.settimeout(15)
    except socket.timeout:
        pass
    print("good", good, "bad", bad)
else:
    import errno
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.connect((addr, port))
    def send(b):
        # A smaller path answered with ICMP "fragmentation needed": the
        # next send reports it once (EMSGSIZE), then the host fragments.
        for _ in range(3):
            try:
                return s.send(b)
            except OSError as e:
                if e.errno != errno.EMSGSIZE:
                    raise
    rnd, seq = random.Random(7), 0
    for run in range(120):
        size = rnd.choice((4, 5, 100, 1000, maxp - 1, maxp))
        for i in range(rnd.randint(1, 20)):
            send(body(seq, size)); seq += 1
        # Paced: integrity is the point, not the receiver'"'"'s speed (a
        # wireguard-go on a loaded 2-core machine drops bursts).
        time.sleep(0.005)
    # UDP_SEGMENT: one send, many datagrams of gso_size (the last shorter).
    for run in range(40):
        size = rnd.choice((500, 1000, maxp))
        count = rnd.randint(2, 30)
        sizes = [size] * (count - 1) + [rnd.randint(4, size)]
        s.setsockopt(socket.SOL_UDP, 103, size)
        try:
            s.send(b"".join(body(seq + i, sz) for i, sz in enumerate(sizes)))
        except OSError as e:
            # Segments larger than the path the host learnt: one by one.
            if e.errno not in (errno.EINVAL, errno.EMSGSIZE):
                raise
            s.setsockopt(socket.SOL_UDP, 103, 0)
            for i, sz in enumerate(sizes):
                send(body(seq + i, sz))
        seq += count
        time.sleep(0.01)
    s.setsockopt(socket.SOL_UDP, 103, 0)
    # Three times, in case one is lost; once the receiver has gone, the
    # next may be refused (its port unreachable), which is fine.
    for _ in range(3):
        time.sleep(0.05)
        try:
            s.send(b"END!")
        except ConnectionRefusedError:
            break
    print(seq)
'

udp_check() {
	local f=$1 src=$2 dst=$3 addr=$4 port=$5 rout total got
	rout="$RT_TMP/udp.$port.recv"
	# The sender decides the count; 1500 is more than it ever sends.
	nsx "$dst" "$RT_PY" -c "$PY_UDP" recv "$addr" "$port" 100000 >"$rout" 2>&1 {RT_OUT}>&- {RT_ERR}>&- &
	local rpid=$!
	RT_PIDS+=("$rpid")
	wait_until 5 grep -q ready "$rout" || { cat "$rout"; return 1; }
	total=$(nsx "$src" "$RT_PY" -c "$PY_UDP" send "$addr" "$port" 2>&1) || { echo "$total"; return 1; }
	wait "$rpid"
	rt_forget "$rpid"
	got=$(tail -n 1 "$rout")
	echo "sent $total; received: $got"
	local good bad
	read -r _ good _ bad <<<"$got"
	[ "${bad:-1}" -eq 0 ] && [ "${good:-0}" -ge $((total * 9 / 10)) ]
}

udp_both() {
	local f=$1
	udp_check "$f" "$X" "$Y" "$(addr_y "$f")" 5005 && udp_check "$f" "$Y" "$X" "$(addr_x "$f")" 5006
}

handshake() {
	nsx "$X" ping -c 1 -W 1 -q "$(addr_y "$1")" >/dev/null 2>&1
	wait_until 10 ping_ok "$X" "$(addr_y "$1")"
}

# stats LOG — the counters roamd logged at exit, as "name=value" words.
exit_counters() {
	local line
	line=$(grep "data path:" "$1" | tail -n 1)
	[ -n "$line" ] || return 1
	# Each figure by the words after it, so that counters added to the
	# line later do not break the reading.
	local w v out=""
	for w in "cut:super-packets cut" "datagrams:datagrams in" "sends:sends," "gso:of them GSO" \
		"gro:GRO buffers received" "glued:packets glued" "writes:TUN writes"; do
		v=$(grep -oE "[0-9]+ ${w#*:}" <<<"$line" | head -n 1)
		[ -n "$v" ] || return 1
		out="$out ${w%%:*}=${v%% *}"
	done
	echo "${out# }"
}

# stop_and_check LOG_OF DEV EXPECT — SIGTERM the roamd serving DEV, then
# check its counters: EXPECT "on" wants every offload used (cut, GSO, GRO,
# glued > 0), "send" cut and GSO (a peer that sends no GSO), "off" none,
# "nogro" everything but GRO, "path-learnt" GSO used and the path MTU learnt
# from the outgoing interface (1400).
stop_and_check() {
	local ns=$1 dev=$2 expect=$3 log="$RT_TMP/$2.log" pid c
	pid=$(ip netns pids "$ns" | while read -r p; do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = roamd ] && echo "$p"
	done | head -n 1)
	[ -n "$pid" ] || { echo "no roamd in $ns"; return 1; }
	kill -TERM "$pid"
	wait_until 5 bash -c "! kill -0 $pid 2>/dev/null" || return 1
	c=$(exit_counters "$log") || { echo "no counters in $log"; tail -n 5 "$log"; return 1; }
	echo "$dev: $c"
	grep "offloads:" "$log"
	local cut gso gro glued
	eval "$(tr ' ' '\n' <<<"$c" | grep -E '^(cut|gso|gro|glued)=')"
	case $expect in
	on | on-verify)
		local sums=trusted
		[ "$expect" = on-verify ] && sums=verified
		[ "$cut" -gt 0 ] && [ "$gso" -gt 0 ] && [ "$gro" -gt 0 ] && [ "$glued" -gt 0 ] &&
			grep -q "inner checksums $sums" "$log" ;;
	send) [ "$cut" -gt 0 ] && [ "$gso" -gt 0 ] ;;
	nogro) [ "$cut" -gt 0 ] && [ "$gso" -gt 0 ] && [ "$gro" -eq 0 ] && [ "$glued" -eq 0 ] ;;
	off) [ "$cut" -eq 0 ] && [ "$gso" -eq 0 ] && [ "$gro" -eq 0 ] && [ "$glued" -eq 0 ] &&
		grep -q "offloads: TUN plain" "$log" ;;
	path-learnt) [ "$gso" -gt 0 ] && grep -q "path MTU to .* is 1400 (the outgoing interface said 1400)" "$log" ;;
	any) true ;;
	esac
}

# Turns checksum offload off on a veth end (ethtool -K DEV tx off) with the
# legacy ETHTOOL_STXCSUM ioctl: no ethtool binary needed.
PY_TXCSUM='
import ctypes, fcntl, socket, struct, sys
buf = ctypes.create_string_buffer(struct.pack("II", 0x17, 0), 8)
ifr = struct.pack("16sP", sys.argv[1].encode(), ctypes.addressof(buf)).ljust(40, b"\0")
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
fcntl.ioctl(s.fileno(), 0x8946, ifr)
'

# run_pairing N LABEL IMPL_X IMPL_Y EXPECT_X EXPECT_Y [mtu1400|notxcsum]
# (ROAM_OFFLOAD_PAIRINGS="a c" runs only those.)
run_pairing() {
	case " ${ROAM_OFFLOAD_PAIRINGS:-a b c d e f g} " in *" $1 "*) ;; *) return 0 ;; esac
	local n=$1 label=$2 ix=$3 iy=$4 ex=$5 ey=$6 path=${7:-} f
	PMTU_PRIME=""
	[ "$path" = mtu1400 ] && PMTU_PRIME=1
	t_check "$label: lab comes up" lab_up "$n" "$ix" "$iy" || { rt_cleanup; return 1; }
	case $path in
	mtu1400)
		t_check "$label: veth MTU 1400" eval \
			'ip -n "$X" link set "$(link_name "$RT_LINKS" a)" mtu 1400 &&
			 ip -n "$Y" link set "$(link_name "$RT_LINKS" b)" mtu 1400' ;;
	notxcsum)
		t_check "$label: veth checksum offload off" eval \
			'nsx "$X" "$RT_PY" -c "$PY_TXCSUM" "$(link_name "$RT_LINKS" a)" &&
			 nsx "$Y" "$RT_PY" -c "$PY_TXCSUM" "$(link_name "$RT_LINKS" b)"' ;;
	esac
	for f in 4 6; do
		if ! t_check "$label, outer/inner v$f: configure and handshake" eval 'set_outer "$n" "$f" && handshake "$f"'; then
			continue
		fi
		t_check "$label, v$f: ping 56 B, full MTU and fragmented, both ways" pings "$f"
		t_check "$label, v$f: ${MIB} MiB TCP each way, SHA-256 matches" bulk "$f"
		t_check "$label, v$f: TCP of mixed-size writes each way, SHA-256 matches" mixed "$f"
		t_check "$label, v$f: UDP runs and UDP_SEGMENT sends each way arrive intact" udp_both "$f"
	done
	[ "$ex" != none ] && t_check "$label: X's counters show offloads $ex" stop_and_check "$X" "$WX" "$ex"
	[ "$ey" != none ] && t_check "$label: Y's counters show offloads $ey" stop_and_check "$Y" "$WY" "$ey"
	rt_cleanup
}

run_pairing a "roamd on <-> roamd on (Y verifying inner checksums)" "$R_ON" "$R_VERIFY" on on-verify
run_pairing b "roamd off <-> roamd off" "$R_OFF" "$R_OFF" off off
run_pairing c "roamd on <-> wireguard-go" "$R_ON" wireguard-go send none
run_pairing d "roamd off <-> wireguard-go" "$R_OFF" wireguard-go off none
run_pairing e "roamd on <-> roamd without GRO" "$R_ON" "$R_NOGRO" on nogro
run_pairing f "roamd on <-> roamd on, outer MTU 1400" "$R_ON" "$R_ON" path-learnt path-learnt mtu1400
run_pairing g "roamd on <-> roamd on, no tx checksum offload" "$R_ON" "$R_ON" any any notxcsum

t_check "cleanup leaves no namespace or socket" rt_nothing_left
t_finish
