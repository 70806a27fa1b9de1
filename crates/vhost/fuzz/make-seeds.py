#!/usr/bin/env python3
# Writes the seed corpora of fuzz-vhost-backend and fuzz-vhost-frontend
# (record formats: see the harnesses): python3 make-seeds.py fuzz/corpus
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


def iotlb(iova, size, uaddr, perm, typ):
    return struct.pack("<QQQBB6x", iova, size, uaddr, perm, typ)


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
    # packed rings (bit 34): packed ring geometry, the packed base encoding
    # (a good one, a slot beyond the size), status, reset and what follows
    "packed": rec(1) + rec(15) + rec(16, u64(PF), 0) + rec(2, u64(FEATURES | 1 << 34)) + rec(3)
    + rec(5, struct.pack("<II", 1, 0) + region(0, 0x10000, UVA, 0), nfds=1, kind=0)
    + rec(8, state(1, 50))
    + rec(9, struct.pack("<IIQQQQ", 1, 0, UVA, UVA + 0x2000, UVA + 0x1000, 0))
    + rec(10, state(1, 0x80008000)) + rec(10, state(1, 0x80328000))
    + rec(12, u64(1), nfds=1, kind=1) + rec(39, u64(0xf)) + rec(11, state(1, 0))
    + rec(39, u64(0)) + rec(34) + rec(10, state(1, 0x80008000)) + rec(40),
    # behind an IOMMU (bit 33): IOVA rings, UPDATE/INVALIDATE, then the
    # refused ones (zero size, wrap, unknown type, perm 0, outside memory)
    "iotlb": rec(1) + rec(15) + rec(16, u64(PF), 0) + rec(2, u64(FEATURES | 1 << 33)) + rec(3)
    + rec(5, struct.pack("<II", 1, 0) + region(0, 0x10000, UVA, 0), nfds=1, kind=0)
    + rec(8, state(0, 64))
    + rec(9, struct.pack("<IIQQQQ", 0, 0, 0x40000000, 0x40002000, 0x40001000, 0))
    + rec(22, iotlb(0x40000000, 0x3000, UVA, 3, 2)) + rec(22, iotlb(0x40001000, 0x1000, 0, 0, 3))
    + rec(22, iotlb(0x1000, 0, UVA, 3, 2)) + rec(22, iotlb(0xfffffffffffff000, 0x2000, UVA, 3, 2))
    + rec(22, iotlb(0x1000, 0x1000, UVA, 3, 9)) + rec(22, iotlb(0x1000, 0x1000, UVA, 0, 2))
    + rec(22, iotlb(0x1000, 0x1000, UVA + 0xf000, 1, 2)) + rec(22, b"short"),
    "hostile": NEG + rec(999, b"xx", nfds=2, kind=1) + rec(2, b"abc")
    + rec(5, struct.pack("<II", 1, 0) + region(0xfffffffffffff000, 0x2000, UVA, 0), nfds=1)
    + rec(8, state(7, 3)) + rec(2, u64(0), size=4000),
}


def reply(req, payload=b"", nfds=0, kind=0):
    return bytes([nfds | (kind << 4)]) + struct.pack("<III", req, 1 | 0x4, len(payload)) + payload


def ack(req, v=0):
    return reply(req, u64(v))


def frontend_seed(pf, replies, channel):
    return struct.pack("<QH", pf, len(replies)) + replies + channel


# Without REPLY_ACK only the GETs read a reply (the others are gated off).
plain = reply(1, u64(FEATURES)) + reply(15, u64(PF)) + reply(11, state(0, 7))
chan = (rec(2, flags=0) + rec(4, state(1, 0), flags=NEED_REPLY)
        + rec(5, state(2, 0), flags=0) + rec(1, b"x" * 8, flags=0))
# With every feature: one answer per call, in the harness's order
# (SET_PROTOCOL_FEATURES itself is not acked: REPLY_ACK starts after it).
ALL = (1 << 3) | (1 << 9) | (1 << 16) | (1 << 0) | (1 << 15) | (1 << 12) | (1 << 19) \
    | (1 << 8) | (1 << 1) | (1 << 13) | (1 << 5)
full = (reply(1, u64(FEATURES)) + reply(15, u64(PF)) + ack(3) + ack(2) + ack(5)
        + reply(36, u64(32)) + ack(37) + ack(38) + ack(8) + ack(9) + ack(10)
        + reply(11, state(0, 3)) + ack(12) + ack(13) + ack(14) + ack(18) + reply(17, u64(2))
        + reply(24, struct.pack("<III", 0, 16, 0) + bytes(range(16)))
        + ack(25) + ack(39) + reply(40, u64(0xf)) + ack(34) + ack(6) + ack(7)
        + reply(31, struct.pack("<QQHHI", 4096, 0, 1, 64, 0), nfds=1)
        + ack(32) + reply(28, nfds=1, kind=1) + ack(29) + ack(30)
        + reply(42, u64(0), nfds=1, kind=1) + ack(43) + ack(21))
fe_seeds = {
    "plain": frontend_seed(0, plain, b""),
    "channel": frontend_seed(1 << 5, plain, chan),
    "everything": frontend_seed(ALL, full, chan),
    "errors": frontend_seed(ALL, ack(1, 22) + reply(15) + ack(16, 5000) + reply(99, u64(0)), chan),
}

root = sys.argv[1]
for sub, corpus in (("fuzz-vhost-backend", seeds), ("fuzz-vhost-frontend", fe_seeds)):
    out = os.path.join(root, sub)
    os.makedirs(out, exist_ok=True)
    for name, data in corpus.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
