#!/usr/bin/env python3
"""Seeds for tests/fuzz/fuzz_dns.c: the answers a resolver gives for
peer.example, built by hand, as the target reads them (blocks of two
bytes of length, then the answer; the first block answers the A query,
the second the AAAA one; the target writes each query's id over the
first two bytes).

    tests/fuzz/seed_dns.py tests/fuzz/corpus/fuzz_dns

Addresses are from the documentation and benchmarking ranges only."""
import hashlib
import ipaddress
import os
import struct
import sys

NAME = "peer.example"
A, AAAA, CNAME, TXT = 1, 28, 5, 16


def qname(name):
    out = b""
    for label in name.split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def record(rtype, rdata, ttl, owner=b"\xc0\x0c"):
    """owner: a pointer to the question's name by default."""
    return owner + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata


def message(qtype, answers, rcode=0, tc=False, name=NAME):
    flags = 0x8180 | rcode | (0x0200 if tc else 0)
    head = struct.pack(">HHHHHH", 0, flags, 1, len(answers), 0, 0)
    return head + qname(name) + struct.pack(">HH", qtype, 1) + b"".join(answers)


def a(addr, ttl=300):
    return record(A, ipaddress.IPv4Address(addr).packed, ttl)


def aaaa(addr, ttl=300):
    return record(AAAA, ipaddress.IPv6Address(addr).packed, ttl)


def blocks(*answers):
    return b"".join(struct.pack(">H", len(m)) + m for m in answers)


def seeds():
    none4, none6 = message(A, []), message(AAAA, [])
    yield blocks(message(A, [a("192.0.2.1")]), none6)
    yield blocks(none4, message(AAAA, [aaaa("fd00::1")]))
    yield blocks(message(A, [a("192.0.2.1"), a("192.0.2.2")]),
                 message(AAAA, [aaaa("fd00::1"), aaaa("fd00::2")]))
    # A CNAME chain: peer.example -> a.example -> b.example -> addresses.
    def chain(qtype, rr):
        names = [qname("a.example"), qname("b.example")]
        return message(qtype, [record(CNAME, names[0], 600),
                               record(CNAME, names[1], 600, owner=names[0]),
                               rr(names[1])])
    yield blocks(chain(A, lambda o: record(A, bytes([198, 51, 100, 7]), 60, owner=o)),
                 chain(AAAA, lambda o: record(AAAA, ipaddress.IPv6Address("fd00::7").packed, 60, owner=o)))
    # A hundred addresses (past NAMES_MAX_ADDRS), some repeated.
    many = [a("198.18.%d.%d" % (i // 50, i % 50 + 1)) for i in range(100)]
    yield blocks(message(A, many + many[:5]), none6)
    yield blocks(none4, message(AAAA, [aaaa("fd00::%x" % (i + 1)) for i in range(100)]))
    # TTL 0, and the largest (2^31-1), and one with the top bit set.
    yield blocks(message(A, [a("203.0.113.1", 0)]), message(AAAA, [aaaa("fd00::1", 0)]))
    yield blocks(message(A, [a("203.0.113.1", 0x7FFFFFFF)]), message(AAAA, [aaaa("fd00::1", 0xFFFFFFFF)]))
    yield blocks(message(A, [a("203.0.113.1", 5), a("203.0.113.2", 86400)]), none6)
    # Truncated: the TC bit, and an answer cut in its last record.
    yield blocks(message(A, [a("192.0.2.9")], tc=True), none6)
    yield blocks(message(A, [a("192.0.2.9"), a("192.0.2.10")])[:-3], none6)
    # Errors: NXDOMAIN, SERVFAIL (asked again), REFUSED.
    yield blocks(message(A, [], rcode=3), message(AAAA, [], rcode=3))
    yield blocks(message(A, [], rcode=2), message(AAAA, [], rcode=2),
                 message(A, [a("192.0.2.3")]), none6)
    yield blocks(message(A, [], rcode=5), none6)
    # Records of the wrong type or class, and an answer for another name.
    yield blocks(message(A, [record(TXT, b"\x05hello", 60), aaaa("fd00::5")]), none6)
    yield blocks(message(A, [a("192.0.2.4")], name="other.example"), none6)
    # A compression pointer that loops.
    yield blocks(message(A, [record(A, bytes(4), 60, owner=b"\xc0\x2a")]) + b"\xc0\x2a", none6)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/corpus/fuzz_dns"
    os.makedirs(out, exist_ok=True)
    for seed in seeds():
        with open(os.path.join(out, hashlib.sha1(seed).hexdigest()), "wb") as f:
            f.write(seed)


if __name__ == "__main__":
    main()
