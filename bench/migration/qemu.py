#!/usr/bin/env python3
"""QEMU migrating a comparable guest over TCP loopback, for the side-by-side
in docs/benchmarks.md: the PVH test guest (bench/lib/qemu_microvm.py) with
256 MiB, downtime limit 300 ms, default bandwidth limit lifted. Prints
QEMU's own figures from query-migrate: total time, downtime, bytes
transferred, dirty-sync passes.

usage: qemu.py BUILDDIR [MEM-MIB]
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import qemu_microvm as qv  # noqa: E402

build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
mem = int(sys.argv[2]) if len(sys.argv) > 2 else 256


def main():
    if not qv.available():
        print("qemu-system-x86_64 not found: skipped")
        return
    d = tempfile.mkdtemp()
    sq, dq = os.path.join(d, "src"), os.path.join(d, "dst")
    port = 40000 + os.getpid() % 20000
    dst = qv.start(build, mem, dq, ["-incoming", "tcp:127.0.0.1:%d" % port], wait_ready=False)
    try:
        src = qv.start(build, mem, sq)
    except RuntimeError:
        qv.stop(dst)
        raise
    try:
        q = qv.Qmp(sq)
        qv.Qmp(dq)
        q.call("migrate-set-parameters", **{"downtime-limit": 300,
                                             "max-bandwidth": 10 << 30})
        q.call("migrate", uri="tcp:127.0.0.1:%d" % port)
        r = q.wait_migration(poll=0.01)
        ram = r.get("ram", {})
        print("QEMU     %5d MiB guest, idle:    total %6s ms, downtime %4s ms, %8.1f MiB sent, "
              "%s passes, %s data + %s zero pages (%s)" %
              (mem, r.get("total-time"), r.get("downtime"),
               ram.get("transferred", 0) / 1048576.0, ram.get("dirty-sync-count"),
               ram.get("normal"), ram.get("duplicate"), r.get("status")))
    finally:
        qv.stop(src, dst)


main()
