#!/usr/bin/env python3
"""A paced TCP stream and its receiver, for path-MTU tests: how long did the
stream stall?

  roam_stream.py recv ADDR PORT TIMEOUT_S
      accepts one connection, reads until the sender closes or TIMEOUT_S
      pass, prints "at N" as it goes (every 2 MB), then
      "bytes=N longest_gap_ms=G done=yes|no"; G is the longest
      time between two reads that returned data (a stall of the stream).
  roam_stream.py send ADDR PORT BYTES RATE_BYTES_PER_S
      connects and sends BYTES in 16 KiB writes at about RATE, so the
      transfer lasts long enough for a move to happen in the middle of it.
"""
import socket
import sys
import time

PROGRESS = 2 * 1000 * 1000  # a line "at N" each time this many more arrived


def recv(addr, port, timeout):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    srv = socket.socket(fam, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(1)
    print("ready", flush=True)
    srv.settimeout(timeout)
    deadline = time.monotonic() + timeout
    total, gap, done = 0, 0.0, False
    try:
        c, _ = srv.accept()
        last = time.monotonic()
        while time.monotonic() < deadline:
            c.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                d = c.recv(1 << 16)
            except socket.timeout:
                break
            now = time.monotonic()
            if not d:
                done = True
                break
            gap = max(gap, now - last)
            last = now
            if total // PROGRESS != (total + len(d)) // PROGRESS:
                print("at %d" % (total + len(d)), flush=True)
            total += len(d)
    except socket.timeout:
        pass
    print("bytes=%d longest_gap_ms=%d done=%s" % (total, gap * 1000, "yes" if done else "no"), flush=True)


def send(addr, port, count, rate):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.create_connection((addr, port), timeout=10)
    s.settimeout(60)
    chunk = b"x" * 16384
    start, sent = time.monotonic(), 0
    while sent < count:
        n = min(len(chunk), count - sent)
        s.sendall(chunk[:n])
        sent += n
        ahead = sent / rate - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)
    s.shutdown(socket.SHUT_WR)
    s.close()
    del fam


if __name__ == "__main__":
    if sys.argv[1] == "recv":
        recv(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    else:
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
