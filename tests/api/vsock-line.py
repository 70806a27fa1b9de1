# SPDX-License-Identifier: Apache-2.0
"""vsock-line.py SOCKET LINE: through a VMM's vsock unix socket, connect
to the guest's port 5000, send LINE and expect "echo: LINE" back (the
snapshot-net test guest's vsock echo). Exit 0 when it came."""
import socket
import sys

s = socket.socket(socket.AF_UNIX)
s.settimeout(15)
s.connect(sys.argv[1])
f = s.makefile("rwb", buffering=0)
f.write(b"CONNECT 5000\n")
assert f.readline().startswith(b"OK "), "no OK"
f.write(sys.argv[2].encode() + b"\n")
got = f.readline().decode()
assert got == "echo: %s\n" % sys.argv[2], got
