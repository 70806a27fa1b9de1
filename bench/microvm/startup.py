#!/usr/bin/env python3
"""Start-up time and memory overhead of cvmm-microvm, side by side with
QEMU's -M microvm on the same PVH test guest.

Start-up (median of N runs, default 20):
  first instruction  cvmm: the guest's first instruction writes POST code 1
                     to port 0x80; --boot-timer reports when that exit
                     arrived, measured from CVMM_T0_NS, which this script
                     sets to CLOCK_MONOTONIC just before it spawns the VMM.
                     QEMU has no such device: not measured.
  first serial byte  the first byte of guest output on the VMM's stdout.
  exit               the VMM process has exited (guest wrote the debug-exit port).
QEMU runs its firmware (qboot) before the guest: its figures include it.

Memory overhead: resident memory of the VMM process minus the resident
memory of its guest-RAM mapping (read from /proc/PID/smaps), while the
guest sits waiting for serial input; both all resident pages (RSS) and
private pages only (Private_Clean + Private_Dirty: not shared libraries).

usage: startup.py BUILDDIR [runs]   (CVMM_BENCH_NO_QEMU=1: cvmm-microvm only)
"""
import os
import re
import statistics
import subprocess
import sys
import time

build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
microvm = os.path.join(build, "examples/microvm/cvmm-microvm")
guest = os.path.join(build, "tests/boot-guests/pvh.elf")
qemu = "/usr/bin/qemu-system-x86_64"


def qemu_cmd(mem, cmdline):
    return [qemu, "-M", "microvm,pit=on,rtc=on", "-accel", "kvm", "-cpu", "host",
            "-m", mem, "-nodefaults", "-no-user-config", "-nographic",
            "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
            "-kernel", guest, "-append", cmdline]


def cvmm_cmd(mem, cmdline):
    return [microvm, "--boot-timer", "--kernel", guest, "--memory", mem,
            "--cmdline", cmdline]


def one_run(cmd):
    t0 = time.monotonic_ns()
    env = dict(os.environ, CVMM_T0_NS=str(t0))
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    p.stdout.read(1)
    first_byte = (time.monotonic_ns() - t0) / 1e6
    p.stdout.read()
    err = p.stderr.read().decode(errors="replace")
    p.wait()
    done = (time.monotonic_ns() - t0) / 1e6
    m = re.search(r"boot-timer: post code 0x01 at ([0-9.]+) ms", err)
    return (float(m.group(1)) if m else None), first_byte, done


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x):
    return "n/a" if x is None else "%.1f ms" % x


def overhead_kib(cmd, ram_kib):
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    buf = b""
    while b"echo: ready" not in buf:
        chunk = p.stdout.read1(4096)
        if not chunk:
            raise RuntimeError("guest never got ready: %r" % buf[-200:])
        buf += chunk
    total = guest_rss = private = guest_private = 0
    size = 0
    with open("/proc/%d/smaps" % p.pid) as f:
        for line in f:
            if line.startswith("Size:"):
                size = int(line.split()[1])
            elif line.startswith("Rss:"):
                rss = int(line.split()[1])
                total += rss
                if size >= ram_kib * 0.9:
                    guest_rss += rss
            elif line.startswith(("Private_Clean:", "Private_Dirty:")):
                kib = int(line.split()[1])
                private += kib
                if size >= ram_kib * 0.9:
                    guest_private += kib
    try:
        p.stdin.write(b"quit\n")
        p.stdin.close()
        p.wait(timeout=10)
    except (BrokenPipeError, subprocess.TimeoutExpired):
        p.kill()  # the figure is taken; a guest that missed "quit" must not hang the bench
        p.wait()
    return total - guest_rss, private - guest_private, total


def main():
    have_qemu = os.access(qemu, os.X_OK) and not os.environ.get("CVMM_BENCH_NO_QEMU")
    print("## cvmm-microvm start-up, PVH test guest, 1 vCPU, 128 MiB (median of %d)\n" % runs)
    print("| VMM | first instruction | first serial byte | exit |")
    print("|---|---|---|---|")
    rows = [("cvmm-microvm", cvmm_cmd)]
    if have_qemu:
        rows.append(("QEMU -M microvm (qboot firmware first)", qemu_cmd))
    for name, mk in rows:
        res = [one_run(mk("128M", "exit=0")) for _ in range(runs)]
        print("| %s | %s | %s | %s |" % (name, fmt(median(r[0] for r in res)),
                                          fmt(median(r[1] for r in res)),
                                          fmt(median(r[2] for r in res))))
    print("\n## VMM memory overhead (process memory minus the guest RAM mapping)\n")
    print("RSS counts shared library pages (libc alone is ~1.3 MiB) that every")
    print("process on the host shares; private memory is what each extra VM costs.\n")
    print("| VMM | guest RAM | RSS overhead | private overhead | total RSS |")
    print("|---|---|---|---|---|")
    for mem, kib in (("128M", 128 << 10), ("2G", 2 << 20)):
        for name, mk in rows:
            try:
                over, priv, total = overhead_kib(mk(mem, "echo"), kib)
            except RuntimeError as e:  # one VMM failing spoils no other row
                print("| %s | %s | failed: %s | | |" % (name, mem, e))
                continue
            print("| %s | %s | %.2f MiB | %.2f MiB | %.2f MiB |" %
                  (name, mem, over / 1024, priv / 1024, total / 1024))


if __name__ == "__main__":
    main()
