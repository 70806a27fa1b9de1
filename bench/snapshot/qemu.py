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
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

build = os.path.abspath(sys.argv[1])
mem = int(sys.argv[2])
runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
guest = os.path.join(build, "tests/boot-guests/pvh.elf")
qemu = "/usr/bin/qemu-system-x86_64"


def cmd(qmp, extra):
    return [qemu, "-M", "microvm,pit=on,rtc=on", "-accel", "kvm", "-cpu", "host,-arch-capabilities",
            "-smp", "2", "-m", "%dM" % mem, "-nodefaults", "-no-user-config",
            "-display", "none", "-serial", "stdio", "-kernel", guest, "-append", "echo",
            "-qmp", "unix:%s,server=on,wait=off" % qmp] + extra


class Qmp:
    def __init__(self, path, poll=0.05):
        for _ in range(int(20 / poll)):
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.settimeout(30)
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                time.sleep(poll)
        self.f = self.s.makefile("rw")
        self.f.readline()
        self.call("qmp_capabilities")

    def call(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if "return" in r or "error" in r:
                return r


def save(d, path):
    q = os.path.join(d, "src.qmp")
    if os.path.exists(q):
        os.unlink(q)
    p = subprocess.Popen(cmd(q, []), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    try:
        buf = b""
        while b"echo: ready" not in buf:
            chunk = p.stdout.read1(4096)
            if not chunk:
                raise RuntimeError("QEMU's guest never got ready")
            buf += chunk
        m = Qmp(q)
        m.call("stop")
        t = time.monotonic()
        m.call("migrate", uri="exec:cat > %s" % path)
        while True:
            r = m.call("query-migrate")["return"]
            if r.get("status") in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.001)
        wall = (time.monotonic() - t) * 1000
        if r.get("status") != "completed":
            raise RuntimeError("QEMU's save: %s" % r)
        return wall, r.get("total-time")
    finally:
        p.kill()
        p.wait()


def load(d, path):
    q = os.path.join(d, "dst.qmp")
    if os.path.exists(q):
        os.unlink(q)
    t = time.monotonic()
    p = subprocess.Popen(cmd(q, ["-incoming", "exec:cat %s" % path]), stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        m = Qmp(q, poll=0.001)
        # the source was stopped, so the loaded VM waits paused: "cont"
        # once the stream is in (as cvmm's resume=on does)
        while m.call("query-migrate")["return"].get("status") != "completed":
            time.sleep(0.001)
        m.call("cont")
        while m.call("query-status")["return"].get("status") != "running":
            time.sleep(0.001)
        return (time.monotonic() - t) * 1000
    finally:
        p.kill()
        p.wait()


def main():
    if not os.access(qemu, os.X_OK):
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
