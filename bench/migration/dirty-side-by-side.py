#!/usr/bin/env python3
"""Live migration side by side in one run: QEMU 7.2 and cvmm-microvm each
migrate the same guest over TCP loopback, the PVH test guest rewriting and
checking a hot area of its memory (tests/boot-guests/pvh.c, dirty=MIB), at
256 MiB with 32 MiB hot and 2 GiB with 128 MiB hot, RUNS runs of each,
interleaved. Both: 2 vCPUs, downtime limit 300 ms, no bandwidth limit.

QEMU's figures are its own (query-migrate: total-time, downtime, ram
transferred, dirty-sync-count). cvmm's are the source's final
vm.migration-progress (total_ms, downtime_ms, bytes_sent, pass + 1), which
the source logs at info as it ends (the VMM, and its API, end once the
destination runs the guest). After each migration the destination's serial
must show the guest counting on (a "dirty: round" past the last one before
the migration) and no MISMATCH.

usage (in a build directory): python3 ../bench/migration/dirty-side-by-side.py BUILDDIR [RUNS]
"""
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import qemu_microvm as qv  # noqa: E402

build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
guest = os.path.join(build, "tests/boot-guests/pvh.elf")
microvm = os.path.join(build, "examples/microvm/cvmm-microvm")
remote = os.path.join(build, "examples/remote/cvmm-remote")
CASES = [(256, 32), (2048, 128)]
WARM_S = 2      # after "dirty: ready": the hot area is being rewritten
AFTER_S = 90    # for the destination's next "dirty: round" (64 rounds)
procs = []      # everything started, killed whatever happens


def spawn(argv, out, err=subprocess.DEVNULL):
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    procs.append(p)
    return p


def stop_all():
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()
    procs.clear()


def text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("latin-1")
    except OSError:
        return ""


def wait_for(cond, secs, what):
    end = time.time() + secs
    while not cond():
        if time.time() > end:
            raise RuntimeError("timed out waiting for " + what)
        time.sleep(0.05)


def last_round(path):
    r = re.findall(r"dirty: round (\d+)", text(path))
    return int(r[-1]) if r else 1


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def warm_up(serial):
    wait_for(lambda: "dirty: ready" in text(serial), 120, "dirty: ready")
    time.sleep(WARM_S)
    return last_round(serial)


def guest_after(serial, before):
    """The destination's guest counts on past @before with every page right."""
    try:
        wait_for(lambda: last_round(serial) > before or "MISMATCH" in text(serial),
                 AFTER_S, "the destination's next round")
    except RuntimeError:
        return "NO PROGRESS (round %d)" % before
    if "MISMATCH" in text(serial):
        return [ln for ln in text(serial).splitlines() if "MISMATCH" in ln][0]
    return "ok, counts on (round %d), no MISMATCH" % last_round(serial)


def run_qemu(d, mem, hot):
    sq, dq = os.path.join(d, "qs.qmp"), os.path.join(d, "qd.qmp")
    so, do = os.path.join(d, "qs.out"), os.path.join(d, "qd.out")
    port = free_port()
    app = "dirty=%d" % hot
    with open(do, "wb") as f:
        spawn(qv.cmd(build, mem, dq, ["-incoming", "tcp:127.0.0.1:%d" % port], app), f)
    with open(so, "wb") as f:
        spawn(qv.cmd(build, mem, sq, append=app), f)
    before = warm_up(so)
    q = qv.Qmp(sq)
    qv.Qmp(dq)  # the destination listens once its QMP answers
    q.call("migrate-set-parameters", **{"downtime-limit": 300, "max-bandwidth": 10 << 30})
    q.call("migrate", uri="tcp:127.0.0.1:%d" % port)
    r = q.wait_migration(poll=0.01)
    if r.get("status") != "completed":
        raise RuntimeError("QEMU migration " + str(r.get("status")))
    ram = r.get("ram", {})
    return (r["total-time"], r["downtime"], ram.get("transferred", 0),
            ram.get("dirty-sync-count"), guest_after(do, before))


def run_cvmm(d, mem, hot):
    ss, ds = os.path.join(d, "cs.sock"), os.path.join(d, "cd.sock")
    serial, serr = os.path.join(d, "cs.out"), os.path.join(d, "cs.err")
    port = free_port()
    with open(serr, "wb") as f:
        src = spawn([microvm, "--api-socket", ss, "--kernel", guest, "--cmdline", "dirty=%d" % hot,
                     "--memory", "%dM" % mem, "--cpus", "2", "--serial", "file=" + serial,
                     "--log-level", "info"], subprocess.DEVNULL, f)
    with open(os.path.join(d, "cd.err"), "wb") as f:
        spawn([microvm, "--api-socket", ds], f, f)
    wait_for(lambda: os.path.exists(ds), 20, "the destination's API socket")
    before = warm_up(serial)
    url = "tcp:127.0.0.1:%d" % port
    subprocess.run([remote, "--api-socket", ds, "receive-migration", "receiver_url=" + url],
                   check=True, timeout=30, stdout=subprocess.DEVNULL)
    subprocess.run([remote, "--api-socket", ss, "send-migration", "destination_url=" + url],
                   check=True, timeout=300, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    src.wait(timeout=30)
    # The destination VM takes the source's config, serial file included
    # (truncated at its START, then both append): only rounds printed after
    # the source ended are the destination's.
    before = max(before, last_round(serial))
    m = re.search(r"completed: total (\d+) ms, downtime (\d+) ms, (\d+) bytes sent, pass (\d+)",
                  text(serr))
    if not m:
        raise RuntimeError("no final figures from the source: " + text(serr)[-300:])
    return (int(m[1]), int(m[2]), int(m[3]), int(m[4]) + 1, guest_after(serial, before))


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # through finally
    if not qv.available():
        print("qemu-system-x86_64 not found: skipped")
        return
    res = {}
    print("| VMM | guest | run | total ms | downtime ms | MiB sent | passes | destination's guest |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for mem, hot in CASES:
        for i in range(runs):
            for name, fn in (("QEMU", run_qemu), ("cvmm", run_cvmm)):
                d = tempfile.mkdtemp(prefix="dsbs.")
                try:
                    t, dt, sent, passes, after = fn(d, mem, hot)
                finally:
                    stop_all()
                    subprocess.run(["rm", "-rf", d])
                res.setdefault((name, mem), []).append((t, dt, sent))
                print("| %s | %d MiB, %d MiB hot | %d | %d | %d | %.1f | %s | %s |" %
                      (name, mem, hot, i + 1, t, dt, sent / 1048576.0, passes, after),
                      flush=True)
    print()
    for (name, mem), v in sorted(res.items()):
        t, dt, sent = zip(*v)
        print("%s %5d MiB: total median %d ms (%d-%d), downtime median %d ms (%d-%d), "
              "%.1f MiB median" % (name, mem, statistics.median(t), min(t), max(t),
                                   statistics.median(dt), min(dt), max(dt),
                                   statistics.median(sent) / 1048576.0))


if __name__ == "__main__":
    try:
        main()
    finally:
        stop_all()
