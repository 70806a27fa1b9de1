#!/usr/bin/env python3
"""QEMU saving a VM to a file and loading it, for the side-by-side with
cvmm's snapshots in docs/benchmarks.md (bench/snapshot/run.sh runs it in
the same run). QEMU 7.2 -M microvm with -accel kvm, 2 vCPUs, the PVH test
guest (tests/boot-guests/pvh.elf) idle at its echo prompt: QEMU cannot
boot cvmm's flat test-guest images, so the guest differs (this one touches
well under 1 MiB; QEMU sends untouched pages as one-byte "zero page"
records).

Save: with the VM stopped, `migrate "exec:cat > FILE"` until query-migrate
says completed (wall time of the command, and QEMU's own total-time).
Load: exec of `qemu-system-x86_64 ... -incoming "exec:cat FILE"` until
query-migrate says completed, then `cont` (the saved VM was stopped, so
the loaded one waits paused, as cvmm's resume=off does) until query-status
says running (QMP polled every millisecond; includes QEMU's process
start, as cvmm's "exec to vCPUs running" does).

usage: qemu.py BUILDDIR MEM-MIB [RUNS]   (prints one table row per figure)
"""
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import qemu_microvm as qv  # noqa: E402

build = os.path.abspath(sys.argv[1])
mem = int(sys.argv[2])
runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3


def save(d, path):
    p = qv.start(build, mem, os.path.join(d, "src.qmp"))
    try:
        m = qv.Qmp(os.path.join(d, "src.qmp"))
        m.call("stop")
        t = time.monotonic()
        m.call("migrate", uri="exec:cat > %s" % path)
        r = m.wait_migration()
        wall = (time.monotonic() - t) * 1000
        if r.get("status") != "completed":
            raise RuntimeError("QEMU's save: %s" % r)
        return wall, r.get("total-time")
    finally:
        qv.stop(p)


def load(d, path):
    q = os.path.join(d, "dst.qmp")
    t = time.monotonic()
    p = qv.start(build, mem, q, ["-incoming", "exec:cat %s" % path], wait_ready=False)
    try:
        m = qv.Qmp(q, poll=0.001)
        # the source was stopped, so the loaded VM waits paused: "cont"
        # once the stream is in (as cvmm's resume=on does)
        m.wait_migration()
        m.call("cont")
        while m.call("query-status")["return"].get("status") != "running":
            time.sleep(0.001)
        return (time.monotonic() - t) * 1000
    finally:
        qv.stop(p)


def main():
    if not qv.available():
        print("| QEMU | %d MiB | qemu-system-x86_64 not found: skipped |" % mem)
        return
    d = tempfile.mkdtemp(dir="/var/tmp")
    path = os.path.join(d, "vm.state")
    try:
        saves, totals, loads = [], [], []
        for _ in range(runs):
            w, tt = save(d, path)
            saves.append(w)
            totals.append(tt or 0)
            loads.append(load(d, path))
        size = os.stat(path).st_size
        print("| QEMU 7.2 (-accel kvm) | %d MiB | save %.1f ms (QEMU's total-time %d ms) | "
              "file %.1f MiB (%.1f MiB on disk) | load: exec to running %.1f ms |" %
              (mem, statistics.median(saves), statistics.median(totals), size / 1048576,
               os.stat(path).st_blocks * 512 / 1048576, statistics.median(loads)))
    finally:
        for f in os.listdir(d):
            os.unlink(os.path.join(d, f))
        os.rmdir(d)


main()
