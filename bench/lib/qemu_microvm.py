# SPDX-License-Identifier: Apache-2.0
"""QEMU running the PVH test guest (tests/boot-guests/pvh.elf), idle at its
echo prompt unless told another command line, driven over QMP: the peer of the snapshot and migration
benchmarks. QEMU 7.2 -M microvm with -accel kvm and 2 vCPUs;
-cpu host,-arch-capabilities because this host refuses that MSR."""
import json
import os
import socket
import subprocess
import time

QEMU = "/usr/bin/qemu-system-x86_64"


def available():
    return os.access(QEMU, os.X_OK)


def cmd(build, mem_mib, qmp, extra=(), append="echo"):
    """The command line of a VM with @mem_mib MiB, its QMP socket at @qmp,
    the guest's command line @append."""
    return [QEMU, "-M", "microvm,pit=on,rtc=on", "-accel", "kvm", "-cpu", "host,-arch-capabilities",
            "-smp", "2", "-m", "%dM" % mem_mib, "-nodefaults", "-no-user-config",
            "-display", "none", "-serial", "stdio",
            "-kernel", os.path.join(build, "tests/boot-guests/pvh.elf"), "-append", append,
            "-qmp", "unix:%s,server=on,wait=off" % qmp] + list(extra)


def start(build, mem_mib, qmp, extra=(), wait_ready=True):
    """Popen of cmd(); with @wait_ready, returns once the guest says ready."""
    if os.path.exists(qmp):
        os.unlink(qmp)
    p = subprocess.Popen(cmd(build, mem_mib, qmp, extra), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE if wait_ready else subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    buf = b""
    while wait_ready and b"echo: ready" not in buf:
        chunk = p.stdout.read1(4096)
        if not chunk:
            p.kill()
            p.wait()
            raise RuntimeError("QEMU's guest never got ready")
        buf += chunk
    return p


def stop(*procs):
    for p in procs:
        p.kill()
        p.wait()


class Qmp:
    """A QMP session; connects (polling every @poll s, for up to 20 s)."""

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

    def wait_migration(self, poll=0.001):
        """query-migrate until completed/failed/cancelled; its answer."""
        while True:
            r = self.call("query-migrate")["return"]
            if r.get("status") in ("completed", "failed", "cancelled"):
                return r
            time.sleep(poll)
