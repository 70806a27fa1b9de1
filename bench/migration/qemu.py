#!/usr/bin/env python3
"""QEMU migrating a comparable guest over TCP loopback, for the side-by-side
in docs/benchmarks.md: the PVH test guest (tests/boot-guests/pvh.elf, idle
at its echo prompt) in QEMU -M microvm (-cpu host,-arch-capabilities: this host refuses
that MSR) with 256 MiB, 2 vCPUs, downtime limit
300 ms, default bandwidth limit lifted. Prints QEMU's own figures from
query-migrate: total time, downtime, bytes transferred, dirty-sync passes.

usage: qemu.py BUILDDIR [MEM-MIB]
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
mem = int(sys.argv[2]) if len(sys.argv) > 2 else 256
guest = os.path.join(build, "tests/boot-guests/pvh.elf")
qemu = "/usr/bin/qemu-system-x86_64"


def cmd(qmp, extra):
    return [qemu, "-M", "microvm,pit=on,rtc=on", "-accel", "kvm", "-cpu", "host,-arch-capabilities",
            "-smp", "2", "-m", "%dM" % mem, "-nodefaults", "-no-user-config",
            "-display", "none", "-serial", "stdio", "-kernel", guest, "-append", "echo",
            "-qmp", "unix:%s,server=on,wait=off" % qmp] + extra


class Qmp:
    def __init__(self, path):
        for _ in range(200):
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.connect(path)
                break
            except OSError:
                time.sleep(0.05)
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


def main():
    if not os.access(qemu, os.X_OK):
        print("qemu-system-x86_64 not found: skipped")
        return
    d = tempfile.mkdtemp()
    sq, dq = os.path.join(d, "src"), os.path.join(d, "dst")
    port = 40000 + os.getpid() % 20000
    dst = subprocess.Popen(cmd(dq, ["-incoming", "tcp:127.0.0.1:%d" % port]),
                           stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    src = subprocess.Popen(cmd(sq, []), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
    try:
        buf = b""
        while b"echo: ready" not in buf:
            chunk = src.stdout.read1(4096)
            if not chunk:
                raise RuntimeError("source guest never got ready")
            buf += chunk
        q = Qmp(sq)
        Qmp(dq)
        q.call("migrate-set-parameters", **{"downtime-limit": 300,
                                             "max-bandwidth": 10 << 30})
        q.call("migrate", uri="tcp:127.0.0.1:%d" % port)
        while True:
            r = q.call("query-migrate")["return"]
            if r.get("status") in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.01)
        ram = r.get("ram", {})
        print("QEMU     %5d MiB guest, idle:    total %6s ms, downtime %4s ms, %8.1f MiB sent, "
              "%s passes, %s data + %s zero pages (%s)" %
              (mem, r.get("total-time"), r.get("downtime"),
               ram.get("transferred", 0) / 1048576.0, ram.get("dirty-sync-count"),
               ram.get("normal"), ram.get("duplicate"), r.get("status")))
    finally:
        for p in (src, dst):
            p.kill()
            p.wait()


main()
