#!/usr/bin/env python3
"""One restore of a cvmm snapshot, timed from the exec (bench/snapshot/run.sh).

Starts `cvmm-microvm --restore source_url=file://SNAP,memory_restore_mode=MODE,
resume=on` with the guest's serial port on a pipe and CVMM_T0_NS set to
CLOCK_MONOTONIC just before the exec, then prints four figures in ms:
the time inside cvmm_vmm_snapshot_restore() (the VMM's own log line),
exec to vCPUs running (its log line, measured from CVMM_T0_NS), exec to
the guest's next whole serial line ("round N", read here as it arrives),
and "ok" or "MISMATCH" (the guest checks its memory every round).

usage: restore1.py MICROVM SNAPDIR MODE [nowait]
  nowait: the guest prints nothing by itself (an idle guest): stop at the
  "running" log line, the third figure is "-".
"""
import os
import re
import select
import subprocess
import sys
import time

microvm, snap, mode = sys.argv[1:4]
nowait = len(sys.argv) > 4 and sys.argv[4] == "nowait"
t0 = time.monotonic_ns()
env = dict(os.environ, CVMM_T0_NS=str(t0))
p = subprocess.Popen([microvm, "--restore",
                      "source_url=file://%s,memory_restore_mode=%s,resume=on" % (snap, mode),
                      "--serial", "stdio", "--log-level", "info"],
                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                     env=env)
line_ms, out, err, verdict = None, b"", b"", "ok"
deadline = time.monotonic() + 60
try:
    while time.monotonic() < deadline and line_ms is None:
        r, _, _ = select.select([p.stdout, p.stderr], [], [], 1.0)
        for f in r:
            chunk = os.read(f.fileno(), 65536)
            if f is p.stdout:
                out += chunk
                if b"MISMATCH" in out:
                    verdict = "MISMATCH"
                # the first whole line the restored guest printed
                if line_ms is None and re.search(rb"round \d+\r?\n", out):
                    line_ms = (time.monotonic_ns() - t0) / 1e6
            else:
                err += chunk
        if nowait and b"restored VM running" in err:
            break
        if p.poll() is not None:
            break
finally:
    p.terminate()
    try:
        _, e2 = p.communicate(timeout=20)
        err += e2
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
text = err.decode(errors="replace")
call = re.search(r"restored '.*' in ([0-9.]+) ms", text)
run = re.search(r"restored VM running ([0-9.]+) ms after exec", text)
print("%s %s %s %s" % (call.group(1) if call else "-", run.group(1) if run else "-",
                       "%.1f" % line_ms if line_ms is not None else "-", verdict))
