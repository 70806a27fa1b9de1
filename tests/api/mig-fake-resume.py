#!/usr/bin/env python3
"""A hostile source resuming a post-copy (docs/migration.md, "Post-copy
recovery"): START with CVMM_MIG_F_RESUME for RAM [0, MEM), its request
connection, the destination's RECEIVED bitmaps read until ACCEPT, then
what MODE says:
  outside  PASS and PAGES at the first page past RAM (the destination must
           refuse them and stay paused)
  plain    (no RESUME flag: a new migration to a paused destination)
Prints what the destination answered on stdout.

usage: mig-fake-resume.py SOCKET MEM NCPUS MODE
"""
import socket
import struct
import sys

START, PASS, PAGES, RESULT, ACCEPT, RECEIVED = 1, 2, 3, 9, 10, 13
F_POSTCOPY, F_RESUME = 0x1, 0x8


def msg(t, payload):
    return struct.pack("<IIQ", t, 0, len(payload)) + payload


def read_msg(s):
    h = b""
    while len(h) < 16:
        b = s.recv(16 - len(h))
        if not b:
            return None, None
        h += b
    t, _, n = struct.unpack("<IIQ", h)
    p = b""
    while len(p) < n:
        b = s.recv(n - len(p))
        if not b:
            return None, None
        p += b
    return t, p


def main():
    path, mem, ncpus, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    flags = F_POSTCOPY | (F_RESUME if mode != "plain" else 0)
    start = struct.pack("<8sIIIIQQIIQ", b"CVMMMIGR", 1, flags, ncpus, 1, mem, 0, 0, 0, 0)
    start += struct.pack("<QQ", 0, mem)
    main_s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    main_s.connect(path)
    main_s.sendall(msg(START, start))
    req = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    req.connect(path)
    main_s.settimeout(20)
    held = 0
    while True:
        t, p = read_msg(main_s)
        if t is None:
            print("closed")
            return
        if t == RESULT:
            print("RESULT %d %s" % (struct.unpack("<i", p[:4])[0], p[8:].decode(errors="replace")))
            return
        if t == RECEIVED:
            held += sum(bin(b).count("1") for b in p[16:])
            continue
        if t == ACCEPT:
            print("ACCEPT after RECEIVED of %d pages held" % held)
            break
    main_s.sendall(msg(PASS, struct.pack("<QQ", 99, 1)))
    main_s.sendall(msg(PAGES, struct.pack("<QII", mem, 1, 0) + b"\xee" * 4096))
    t, p = read_msg(main_s)
    if t == RESULT:
        print("then RESULT %d %s" % (struct.unpack("<i", p[:4])[0], p[8:].decode(errors="replace")))
    else:
        print("then", "closed" if t is None else t)


if __name__ == "__main__":
    main()
