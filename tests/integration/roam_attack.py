#!/usr/bin/env python3
"""Attacker traffic for the roaming lab (tests/integration/test_roam_lab.sh).

Standard library only. Two modes, both sending UDP at a WireGuard listener
from several source ports of the host it runs on (the attacker namespace):

  roam_attack.py random TARGET N [--pcap FILE [--to ADDR]] [--seed S]
      N datagrams: about a third are random bytes of random length (0..1472,
      empty and tiny ones included); the rest are well-sized messages with a
      valid type byte and zero reserved bytes: initiations (148 bytes),
      responses (92), cookie replies (64) and transport data (32 + 16k) —
      plus a few of each type one byte too short or too long. With --pcap,
      half of the transport and response/cookie messages carry receiver
      indexes taken from the capture, so they reach a real session's key
      and must fail authentication there rather than at the index lookup.

  roam_attack.py replay TARGET PCAP [--times K] [--to ADDR]
      Replays, K times each and from fresh source ports, the WireGuard
      messages in PCAP that were sent *to* TARGET's port: captured transport
      data packets (already accepted once: the replay window must drop
      them), the same packets with one ciphertext bit flipped (must fail
      authentication), and captured handshake initiations (their TAI64N
      timestamp is not newer than the last one consumed: must be dropped).

Only what the capture shows sent to TARGET's address and port is used, or
to --to ADDR instead (to replay over IPv6 what was captured over IPv4).

TARGET is HOST:PORT or [V6HOST]:PORT. Prints one summary line:
  attack: mode=random sent=10000 random=3334 typed=6666 known_index=1660 ...
and exits 0 if every datagram was handed to the kernel, 1 otherwise.
"""
import argparse
import os
import random
import socket
import struct
import sys
import time

MSG_SIZES = {1: 148, 2: 92, 3: 64}  # type 4 is 32 + 16k
PER_SOURCE = 500                    # datagrams before moving to the next one


def parse_target(s):
    if s.startswith("["):
        host, _, port = s[1:].partition("]:")
    else:
        host, _, port = s.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"roam_attack: bad target {s!r} (want HOST:PORT or [V6]:PORT)")
    return host, int(port)


def read_pcap(path):
    """Yield (src_ip, sport, dst_ip, dport, payload) for every UDP datagram in
    a classic pcap file (Ethernet, Linux cooked v1/v2 or raw IP)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise SystemExit(f"roam_attack: {path} is not a classic pcap file")
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if linktype == 1:              # Ethernet
            if len(frame) < 14:
                continue
            etype, l3 = struct.unpack("!H", frame[12:14])[0], 14
            while etype in (0x8100, 0x88A8) and len(frame) >= l3 + 4:
                etype = struct.unpack("!H", frame[l3 + 2:l3 + 4])[0]
                l3 += 4
        elif linktype == 113:          # Linux cooked v1
            if len(frame) < 16:
                continue
            etype, l3 = struct.unpack("!H", frame[14:16])[0], 16
        elif linktype == 276:          # Linux cooked v2
            if len(frame) < 20:
                continue
            etype, l3 = struct.unpack("!H", frame[0:2])[0], 20
        elif linktype in (12, 101):    # raw IP
            if not frame:
                continue
            etype = 0x0800 if frame[0] >> 4 == 4 else 0x86DD
            l3 = 0
        else:
            continue
        pkt = frame[l3:]
        if etype == 0x0800 and len(pkt) >= 20 and pkt[9] == 17:
            ihl = (pkt[0] & 15) * 4
            src = socket.inet_ntop(socket.AF_INET, pkt[12:16])
            dst = socket.inet_ntop(socket.AF_INET, pkt[16:20])
            udp = pkt[ihl:]
        elif etype == 0x86DD and len(pkt) >= 40 and pkt[6] == 17:
            src = socket.inet_ntop(socket.AF_INET6, pkt[8:24])
            dst = socket.inet_ntop(socket.AF_INET6, pkt[24:40])
            udp = pkt[40:]
        else:
            continue
        if len(udp) < 8:
            continue
        sport, dport, ulen = struct.unpack("!HHH", udp[:6])
        yield src, sport, dst, dport, udp[8:ulen] if ulen >= 8 else udp[8:]


def same_addr(a, b):
    fam = socket.AF_INET6 if ":" in a else socket.AF_INET
    try:
        return socket.inet_pton(fam, a) == socket.inet_pton(fam, b)
    except OSError:
        return False


def wg_messages(path, host, port):
    """Captured WireGuard messages sent to HOST:PORT (HOST of either family:
    the server's other address counts too when it is in the capture), by
    type: {1: [...], 2: [...], 3: [...], 4: [...]}"""
    out = {1: [], 2: [], 3: [], 4: []}
    for _src, _sport, dst, dport, p in read_pcap(path):
        if dport != port or len(p) < 4 or p[1:4] != b"\0\0\0":
            continue
        if host is not None and not same_addr(dst, host):
            continue
        t = p[0]
        if t in MSG_SIZES and len(p) == MSG_SIZES[t]:
            out[t].append(p)
        elif t == 4 and len(p) >= 32 and len(p) % 16 == 0:
            out[t].append(p)
    return out


class Sender:
    """Sends from a fresh socket (a new source port) every PER_SOURCE
    datagrams, so the traffic comes from many source ports."""

    def __init__(self, host, port):
        self.addr = (host, port)
        self.fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = None
        self.count = 0
        self.errors = 0
        self.ports = set()

    def rotate(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = socket.socket(self.fam, socket.SOCK_DGRAM)
        self.sock.settimeout(2.0)           # a blocked send can't hang us
        self.sock.bind(("::" if self.fam == socket.AF_INET6 else "0.0.0.0", 0))
        self.ports.add(self.sock.getsockname()[1])

    def send(self, payload):
        if self.sock is None or self.count % PER_SOURCE == 0:
            self.rotate()
        self.count += 1
        try:
            self.sock.sendto(payload, self.addr)
        except OSError:
            # ECONNREFUSED after an ICMP port unreachable, ENOBUFS, ...
            self.errors += 1

    def close(self):
        if self.sock is not None:
            self.sock.close()


def typed_message(rng, known_idx):
    """A datagram with a valid type byte and zero reserved bytes."""
    t = rng.choice((1, 1, 2, 3, 4, 4, 4))
    if t == 4:
        size = 32 + 16 * rng.randrange(0, 90)
    else:
        size = MSG_SIZES[t]
    if rng.random() < 0.05:                 # almost right: off by one
        size += rng.choice((-1, 1))
    body = bytearray(rng.randbytes(size - 4))
    used_known = False
    if t in (2, 3, 4) and known_idx and rng.random() < 0.5:
        # The receiver index sits at message offset 8 in a response (after
        # the sender index) and at offset 4 in cookie replies and data.
        idx = rng.choice(known_idx)
        pos = 4 if t == 2 else 0
        body[pos:pos + 4] = idx
        used_known = True
    return bytes((t, 0, 0, 0)) + bytes(body), t, used_known


def cmd_random(a):
    host, port = parse_target(a.target)
    rng = random.Random(a.seed)
    known = []
    if a.pcap:
        for p in wg_messages(a.pcap, a.to or host, port)[4]:
            known.append(p[4:8])
        known = sorted(set(known))
    s = Sender(host, port)
    stats = {"random": 0, "typed": 0, "known_index": 0, 1: 0, 2: 0, 3: 0, 4: 0}
    deadline = time.monotonic() + a.max_seconds
    for i in range(a.count):
        if time.monotonic() > deadline:
            break
        if i % 3 == 0:
            n = rng.choice((0, 1, 2, 3, 4, rng.randrange(0, 1473)))
            s.send(rng.randbytes(n))
            stats["random"] += 1
        else:
            p, t, k = typed_message(rng, known)
            s.send(p)
            stats["typed"] += 1
            stats[t] += 1
            stats["known_index"] += k
    s.close()
    print(f"attack: mode=random sent={s.count} random={stats['random']} typed={stats['typed']}"
          f" init={stats[1]} resp={stats[2]} cookie={stats[3]} data={stats[4]}"
          f" known_index={stats['known_index']} known_indexes={len(known)}"
          f" source_ports={len(s.ports)} send_errors={s.errors}")
    return 0 if s.count == a.count else 1


def cmd_replay(a):
    host, port = parse_target(a.target)
    msgs = wg_messages(a.pcap, a.to or host, port)
    data, inits = msgs[4], msgs[1]
    if not data or not inits:
        print(f"attack: mode=replay capture has data={len(data)} init={len(inits)}: need both",
              file=sys.stderr)
        return 1
    s = Sender(host, port)
    n_data = n_flip = n_init = 0
    for _ in range(a.times):
        for p in data + data[::-1]:         # in order, then reversed
            s.send(p)
            n_data += 1
        for p in data:                      # one ciphertext bit flipped
            b = bytearray(p)
            b[-1] ^= 0x01
            s.send(bytes(b))
            n_flip += 1
        for p in inits:
            s.send(p)
            n_init += 1
        s.rotate()                          # next round from a new port
    s.close()
    print(f"attack: mode=replay data_replays={n_data} bitflipped={n_flip} init_replays={n_init}"
          f" captured_data={len(data)} captured_init={len(inits)}"
          f" source_ports={len(s.ports)} send_errors={s.errors}")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    r = sub.add_parser("random")
    r.add_argument("target")
    r.add_argument("count", type=int)
    r.add_argument("--pcap")
    r.add_argument("--to", help="take from the capture what was sent to this address"
                   " (default: the target's)")
    r.add_argument("--seed", type=int, default=int.from_bytes(os.urandom(4), "big"))
    r.add_argument("--max-seconds", type=float, default=60.0)
    p = sub.add_parser("replay")
    p.add_argument("target")
    p.add_argument("pcap")
    p.add_argument("--times", type=int, default=3)
    p.add_argument("--to", help="replay what was sent to this address (default: the target's)")
    a = ap.parse_args()
    return cmd_random(a) if a.mode == "random" else cmd_replay(a)


if __name__ == "__main__":
    sys.exit(main())
