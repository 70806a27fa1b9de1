#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""icmp-echo.py ADDRESS [TRIES]: an ICMP echo request with a payload of its
own, sent once a second up to TRIES times (default 10): exit 0 when the
matching reply comes back (iputils ping is not among the packages; a raw
socket needs root, as the TAPs do)."""
import os
import select
import socket
import struct
import sys


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def main():
    addr, tries = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10
    ident = os.getpid() & 0xFFFF
    payload = b"cvmm-clone-%d" % os.getpid()
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    for seq in range(1, tries + 1):
        h = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        c = csum(h + payload)
        s.sendto(struct.pack("!BBHHH", 8, 0, c, ident, seq) + payload, (addr, 0))
        while select.select([s], [], [], 1.0)[0]:
            pkt, src = s.recvfrom(2048)
            ihl = (pkt[0] & 15) * 4
            t, _, _, i, q = struct.unpack("!BBHHH", pkt[ihl:ihl + 8])
            if src[0] == addr and t == 0 and i == ident and pkt[ihl + 8:] == payload:
                print("reply from %s seq %d" % (addr, q))
                return 0
    print("no reply from %s" % addr, file=sys.stderr)
    return 1


sys.exit(main())
