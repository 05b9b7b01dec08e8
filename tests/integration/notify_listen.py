"""A stand-in for systemd's notification socket (sd_notify(3)), for
test_roamd_notify.sh: binds ADDR (a path, or @name for an abstract one) as
an AF_UNIX datagram socket with SO_PASSCRED, and appends one line per
datagram to OUT: "<seconds since start> <sender pid> <msg, lines joined by |>".
Runs for at most SECONDS. Usage: notify_listen.py ADDR OUT SECONDS"""
import os
import socket
import struct
import sys
import time

addr, out, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
if not addr.startswith("@"):
    os.chmod(addr, 0o777)  # roamd writes after dropping to its own user
start = time.monotonic()
with open(out, "a", buffering=1) as f:
    f.write("listening\n")
    while time.monotonic() - start < limit:
        s.settimeout(max(0.05, limit - (time.monotonic() - start)))
        try:
            msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            break
        pid = 0
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", data[:12])[0]
        text = msg.decode(errors="replace").strip("\n").replace("\n", "|")
        f.write("%.3f %d %s\n" % (time.monotonic() - start, pid, text))
