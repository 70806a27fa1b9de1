#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Figures of the management API for docs/benchmarks.md (never run by make
check): exec to the first answered vmm.ping, vm.boot to the guest's first
serial line (medians of 20), and the round trips of vm.info and of
vm.pause + vm.resume (a new connection each, as cvmm-remote does).
usage: api-bench.py BUILDDIR"""
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

B = sys.argv[1] if len(sys.argv) > 1 else "."
MICROVM = os.path.join(B, "examples/microvm/cvmm-microvm")
GUEST = os.path.abspath(os.path.join(B, "tests/guests/hello.img"))


def req(sock, method, ep, body=b""):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(b"%s /api/v1/%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" %
              (method.encode(), ep.encode(), len(body), body))
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    n = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0]) if b"Content-Length" in head else 0
    while len(rest) < n:
        rest += s.recv(65536)
    s.close()
    return int(head[9:12])


def ms(xs):
    xs = sorted(xs)
    return "median %.3f ms, min %.3f, max %.3f (n=%d)" % (
        statistics.median(xs) * 1e3, xs[0] * 1e3, xs[-1] * 1e3, len(xs))


def cpu_s(pid):
    """CPU time of every thread of @pid so far (/proc/PID/task/*/schedstat, ns)."""
    total = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            total += int(open("/proc/%d/task/%s/schedstat" % (pid, t)).read().split()[0])
        except (OSError, ValueError):
            pass
    return total / 1e9


def start(tmp, *args):
    sock = os.path.join(tmp, "s%d" % time.monotonic_ns())
    t0 = time.monotonic()
    p = subprocess.Popen([MICROVM, "--api-socket", sock] + list(args),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            if req(sock, "GET", "vmm.ping") == 200:
                return p, sock, time.monotonic() - t0, cpu_s(p.pid)
        except (FileNotFoundError, ConnectionRefusedError):
            pass


with tempfile.TemporaryDirectory() as tmp:
    ping, cpu, boot = [], [], []
    for i in range(20):
        p, sock, t, c = start(tmp, "--guest-arg", "0=1")
        ping.append(t)
        cpu.append(c)
        serial = os.path.join(tmp, "serial%d" % i)
        assert req(sock, "PUT", "vm.create", b'{"payload":{"kernel":"%s"},"memory":{"size":67108864},'
                   b'"serial":{"mode":"File","file":"%s"}}' % (GUEST.encode(), serial.encode())) == 204
        t0 = time.monotonic()
        assert req(sock, "PUT", "vm.boot") == 204
        while b"\n" not in open(serial, "rb").read():
            time.sleep(0.0002)
        boot.append(time.monotonic() - t0)
        if i == 19:
            info, pr = [], []
            for _ in range(200):
                t0 = time.monotonic()
                assert req(sock, "GET", "vm.info") == 200
                info.append(time.monotonic() - t0)
            for _ in range(200):
                t0 = time.monotonic()
                assert req(sock, "PUT", "vm.pause") == 204
                assert req(sock, "PUT", "vm.resume") == 204
                pr.append(time.monotonic() - t0)
        req(sock, "PUT", "vmm.shutdown")
        p.wait()
    print("exec -> first answered vmm.ping:        ", ms(ping))
    print("  CPU time of the VMM by then:           ", ms(cpu))
    print("vm.boot sent -> guest's first serial line:", ms(boot))
    print("vm.info round trip:                      ", ms(info))
    print("vm.pause + vm.resume round trip:         ", ms(pr))
