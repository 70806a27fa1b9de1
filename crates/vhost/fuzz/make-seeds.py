#!/usr/bin/env python3
# Writes the seed corpus of fuzz-vhost-backend (record format: see the
# harness): python3 make-seeds.py fuzz/corpus/fuzz-vhost-backend
import os
import struct
import sys

NEED_REPLY = 0x8
PF = sum(1 << b for b in (0, 1, 3, 5, 8, 9, 10, 12, 13, 14, 15, 16, 19))
FEATURES = (1 << 30) | (1 << 32) | 0xff
UVA = 0x7f0000000000


def rec(req, payload=b"", flags=NEED_REPLY, nfds=0, kind=0, size=None):
    size = len(payload) if size is None else size
    return bytes([nfds | (kind << 4)]) + struct.pack("<III", req, 1 | flags, size) + payload


def u64(v):
    return struct.pack("<Q", v)


def state(i, n):
    return struct.pack("<II", i, n)


def region(gpa, size, uva, off):
    return struct.pack("<QQQQ", gpa, size, uva, off)


NEG = (rec(1) + rec(15) + rec(16, u64(PF), 0) + rec(2, u64(FEATURES)) + rec(3))

seeds = {
    "negotiate": NEG,
    "vrings": NEG
    + rec(5, struct.pack("<II", 2, 0) + region(0, 0x10000, UVA, 0)
          + region(0x100000, 0x10000, UVA + 0x100000, 0), nfds=2, kind=0)
    + rec(8, state(1, 256))
    + rec(9, struct.pack("<IIQQQQ", 1, 0, UVA, UVA + 0x2000, UVA + 0x1000, 0))
    + rec(10, state(1, 5)) + rec(12, u64(1), nfds=1, kind=1)
    + rec(13, u64(1), nfds=1, kind=1) + rec(14, u64(1 | 0x100))
    + rec(18, state(1, 1)) + rec(11, state(1, 0)),
    "mem-slots": NEG + rec(36)
    + rec(37, u64(0) + region(0, 0x10000, UVA, 0), nfds=1, kind=0)
    + rec(37, u64(0) + region(0x200000, 0x100000, UVA + 0x200000, 0), nfds=1, kind=2)
    + rec(38, u64(0) + region(0, 0x10000, UVA, 0)),
    "config-status": NEG + rec(25, struct.pack("<III", 8, 4, 0) + b"abcd")
    + rec(24, struct.pack("<III", 0, 16, 0) + bytes(16)) + rec(39, u64(0xf))
    + rec(40) + rec(34) + rec(17),
    "log-inflight-state": NEG
    + rec(6, struct.pack("<QQ", 4096, 0), nfds=1, kind=3) + rec(7, nfds=1, kind=1)
    + rec(31, struct.pack("<QQHHI", 0, 0, 2, 128, 0))
    + rec(32, struct.pack("<QQHHI", 4096, 0, 2, 128, 0), nfds=1, kind=3)
    + rec(28) + rec(29) + rec(30) + rec(42, struct.pack("<II", 1, 0), nfds=1, kind=1)
    + rec(43) + rec(21, nfds=1, kind=1),
    "hostile": NEG + rec(999, b"xx", nfds=2, kind=1) + rec(2, b"abc")
    + rec(5, struct.pack("<II", 1, 0) + region(0xfffffffffffff000, 0x2000, UVA, 0), nfds=1)
    + rec(8, state(7, 3)) + rec(2, u64(0), size=4000),
}

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
