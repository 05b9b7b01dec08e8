#!/usr/bin/env python3
"""A DNS responder for roam doctor's labs: dns_responder.py ADDR [MODE].

Listens on ADDR:53, UDP and TCP (the TCP socket is bound first, so a UDP
listener seen by `ss` means both are there), and answers every query with
its own question, NOERROR: enough for "is it answering". MODE own-only
answers localhost alone and lets every other name go unanswered, as a
forwarder whose upstream is unreachable does (dnsmasq --no-resolv
--server=UNREACHABLE). Exits after 10 minutes without a UDP query.
"""
import socket
import sys
import threading

ADDR = sys.argv[1]
MODE = sys.argv[2] if len(sys.argv) > 2 else "all"


def answer(query):
    if len(query) >= 12 and (MODE == "all" or b"\x09localhost\x00" in query.lower()):
        return query[:2] + bytes([0x81, 0x80]) + query[4:]
    return None


def serve_tcp(listener):
    while True:
        conn, _ = listener.accept()
        conn.settimeout(2)
        try:
            # Each message after its length (two bytes); one query a connection.
            reply = answer(conn.recv(2 + 512)[2:])
            if reply:
                conn.sendall(len(reply).to_bytes(2, "big") + reply)
        except OSError:
            pass
        conn.close()


tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind((ADDR, 53))
tcp.listen(8)
threading.Thread(target=serve_tcp, args=(tcp,), daemon=True).start()
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
udp.bind((ADDR, 53))
udp.settimeout(600)
while True:
    q, peer = udp.recvfrom(512)
    a = answer(q)
    if a:
        udp.sendto(a, peer)
