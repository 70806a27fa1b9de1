#!/usr/bin/env python3
# blk-check.py FILE SECTORS [PASS]: the disk of tests/guests/snapshot-blk.c.
# Every sector must be one the guest wrote (self-describing: magic, pass,
# sector, then a pattern of the three). With PASS, every sector holds that
# pass; without, pass P up to some sector and P-1 after it (the guest
# writes its passes in sector order, so any moment's file looks so).
import struct, sys
path, n = sys.argv[1], int(sys.argv[2])
want = sys.argv[3] if len(sys.argv) > 3 else ""
M = (1 << 64) - 1
def word(p, s, i):
    if p == 0: return 0
    return [0x4b4c4250414e5343, p, s][i] if i < 3 else ((p << 40) ^ (s << 20) ^ (i * 0x9e3779b97f4a7c15)) & M
data = open(path, "rb").read(n * 512)
passes = []
for s in range(n):
    w = struct.unpack_from("<64Q", data, s * 512)
    p = w[1] if w[0] else 0
    if any(w[i] != word(p, s, i) for i in range(64)):
        sys.exit("sector %d is no sector the guest wrote" % s)
    passes.append(p)
if want:
    sys.exit(0 if all(p == int(want) for p in passes) else "passes %s, want %s" % (passes, want))
k = sum(1 for p in passes if p == passes[0])
ok = passes[0] >= 1 and all(p == passes[0] - 1 for p in passes[k:])
print("# passes: %d sectors at %d, %d at %d%s" % (k, passes[0], n - k, passes[0] - 1,
      " (inside a batch of 4 writes: some of its requests were still in flight)" if k % 4 else ""))
sys.exit(0 if ok else "not a prefix of one pass over the one before: %s" % passes)
