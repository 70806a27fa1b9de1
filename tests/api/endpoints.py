# SPDX-License-Identifier: Apache-2.0
"""Every endpoint in every state, with good and hostile input, while a
test guest runs and re-checks its memory: the guest must keep running
with its memory intact, and every answer must match docs/api/cvmm.yaml."""
import json
import os
import socket
import subprocess
import sys
import threading
import time

from apiclient import Client, Tap, SpecError

MICROVM, GUEST, TMP = sys.argv[1], sys.argv[2], sys.argv[3]
SOCK = os.path.join(TMP, "api.sock")
SERIAL = os.path.join(TMP, "serial")
EVENTS = os.path.join(TMP, "events")
DISK = os.path.join(TMP, "disk.img")
with open(DISK, "wb") as f:
    f.truncate(1 << 20)

PLAN = 78
t = Tap(PLAN)
vmm = subprocess.Popen([MICROVM, "--api-socket", SOCK, "--guest-arg", "0=1",
                        "--event-monitor", "path=" + EVENTS],
                       stdout=subprocess.DEVNULL, stderr=open(os.path.join(TMP, "stderr"), "w"))
c = Client(SOCK)


def st(method, ep, body=None, **kw):
    try:
        return c.req(method, ep, body, **kw)
    except SpecError as e:
        t.check("%s %s answers as docs/api/cvmm.yaml says" % (method, ep), False, e)
        return (None, None)


def expect(desc, want, method, ep, body=None, **kw):
    s, j = st(method, ep, body, **kw)
    return t.check(desc, s == want, "status %s, body %s" % (s, j))


def running_and_intact():
    s, j = st("GET", "vm.info")
    serial = open(SERIAL, errors="replace").read() if os.path.exists(SERIAL) else ""
    return (vmm.poll() is None and s == 200 and j["state"] == "Running" and
            "staying up" in serial and "memory changed" not in serial)


try:
    c.wait_ready()
    # virtio-mmio (cvmm's platform.transport): the answers and refusals of
    # a VM without PCI; PCI hotplug is tests/api/hotplug.sh's
    VMCONFIG = {"payload": {"kernel": GUEST}, "cpus": {"boot_vcpus": 1, "max_vcpus": 1},
                "memory": {"size": 64 << 20}, "serial": {"mode": "File", "file": SERIAL},
                "platform": {"transport": "mmio"}}

    # --- no VM yet -----------------------------------------------------------
    s, j = st("GET", "vmm.ping")
    t.check("vmm.ping: 200 with version and pid", s == 200 and j["pid"] == vmm.pid)
    bad = [(m, e) for m, e in [("GET", "vm.info"), ("PUT", "vm.boot"), ("PUT", "vm.pause"),
                               ("PUT", "vm.resume"), ("PUT", "vm.shutdown"), ("PUT", "vm.reboot"),
                               ("PUT", "vm.power-button"), ("GET", "vm.counters")]
           if st(m, e)[0] != 404]
    t.check("no VM: info, boot, pause, resume, shutdown, reboot, power-button, counters are 404",
            not bad, bad)
    expect("no VM: vm.add-disk is 404", 404, "PUT", "vm.add-disk", {"path": DISK})
    expect("no VM: vm.delete is 204 (nothing to delete)", 204, "PUT", "vm.delete")

    # --- vm.create: hostile bodies ------------------------------------------------
    hostile = {
        "a wrong type (boot_vcpus a string)": dict(VMCONFIG, cpus={"boot_vcpus": "2"}),
        "an unknown field": dict(VMCONFIG, frobnicate=1),
        "a field cvmm lacks set (iommu true)": dict(VMCONFIG, iommu=True),
        "max_vcpus above boot_vcpus": dict(VMCONFIG, cpus={"boot_vcpus": 1, "max_vcpus": 2}),
        "no payload": {"memory": {"size": 64 << 20}},
        "a list instead of an object": [1, 2],
        "memory below 16 MiB": dict(VMCONFIG, memory={"size": 4096}),
        "an odd net num_queues": dict(VMCONFIG, net=[{"tap": "x", "num_queues": 3}]),
        "a serial mode cvmm lacks (Pty)": dict(VMCONFIG, serial={"mode": "Pty"}),
        "a negative size": dict(VMCONFIG, memory={"size": -1}),
        "two threads per core": dict(VMCONFIG, cpus={"boot_vcpus": 2, "topology": {
            "threads_per_core": 2, "cores_per_die": 1, "dies_per_package": 1, "packages": 1}}),
        "memory hotplug (hotplug_size)": dict(VMCONFIG, memory={"size": 64 << 20,
                                                                "hotplug_size": 1 << 30}),
        "a platform.transport cvmm lacks (usb)": dict(VMCONFIG, platform={"transport": "usb"}),
        "an unknown platform field": dict(VMCONFIG, platform={"transprt": "mmio"}),
    }
    for what, body in hostile.items():
        s, j = st("PUT", "vm.create", body)
        t.check("vm.create with %s: 400 naming the field" % what,
                s == 400 and j and len(j["error"]) > 10, "%s %s" % (s, j))
    s, j = st("PUT", "vm.create", dict(VMCONFIG, iommu=False, watchdog=False,
                                       debug_console={"mode": "Off"}))
    t.check("vm.create with Cloud Hypervisor's defaults for fields cvmm lacks: 204", s == 204, j)
    expect("vm.create twice: 409", 409, "PUT", "vm.create", VMCONFIG)

    # --- Created ------------------------------------------------------------------
    s, j = st("GET", "vm.info")
    t.check("vm.info: Created, config echoed", s == 200 and j["state"] == "Created" and
            j["config"]["payload"]["kernel"] == GUEST and j["config"]["memory"]["size"] == 64 << 20, j)
    bad = [e for e in ["vm.pause", "vm.resume", "vm.shutdown", "vm.reboot", "vm.power-button"]
           if st("PUT", e)[0] != 409]
    t.check("Created: pause, resume, shutdown, reboot, power-button are 409", not bad, bad)
    expect("vm.add-disk: 204", 204, "PUT", "vm.add-disk", {"path": DISK, "readonly": True})
    expect("vm.add-disk with a wrong type: 400", 400, "PUT", "vm.add-disk", {"path": 7})
    expect("vm.add-disk without path: 400", 400, "PUT", "vm.add-disk", {"readonly": True})
    expect("vm.add-vsock: 204", 204, "PUT", "vm.add-vsock",
           {"cid": 3, "socket": os.path.join(TMP, "vsock"), "id": "myvsock"})
    expect("vm.add-vsock again: 400 (one vsock)", 400, "PUT", "vm.add-vsock",
           {"cid": 4, "socket": os.path.join(TMP, "vsock2")})
    expect("vm.add-fs: 204", 204, "PUT", "vm.add-fs", {"tag": "t", "socket": "/nonexistent"})
    expect("vm.add-generic-vhost-user: 204", 204, "PUT", "vm.add-generic-vhost-user",
           {"socket": "/nonexistent", "device_type": 2, "queue_sizes": [256]})
    expect("vm.add-net with a TAP name: 204", 204, "PUT", "vm.add-net", {"tap": "nonexistent0"})
    r, w = os.pipe()
    s, j = st("PUT", "vm.add-disk", {"path": DISK}, fds=[r])
    t.check("vm.add-disk with an fd: 400 (only vm.add-net takes fds)", s == 400, j)
    s, j = st("PUT", "vm.add-net", {}, fds=[r, w])
    t.check("vm.add-net with 2 fds for 1 queue pair: 400", s == 400, j)
    os.close(r)
    os.close(w)
    s, j = st("GET", "vm.info")
    ids = {d.get("id") for d in j["config"]["disks"] + j["config"]["net"] + j["config"]["fs"] +
           j["config"]["generic_vhost_user"]} | {j["config"].get("vsock", {}).get("id")}
    t.check("devices added before boot get Cloud Hypervisor ids (_disk0, _net.., given ids kept)",
            "_disk0" in ids and "myvsock" in ids and len(ids) == 5, ids)
    gone = [i for i in ids - {"_disk0"} if st("PUT", "vm.remove-device", {"id": i})[0] != 204]
    t.check("vm.remove-device of each but the disk: 204", not gone, gone)
    expect("vm.remove-device of an unknown id: 404", 404, "PUT", "vm.remove-device", {"id": "nope"})
    expect("vm.remove-device with a wrong type: 400", 400, "PUT", "vm.remove-device", {"id": 3})

    # --- boot -----------------------------------------------------------------------
    expect("vm.boot: 204", 204, "PUT", "vm.boot")
    s, j = st("GET", "vm.info")
    t.check("vm.info: Running, device_tree has _disk0 with its MMIO window and IRQ",
            s == 200 and j["state"] == "Running" and "_disk0" in j["device_tree"] and
            len(j["device_tree"]["_disk0"]["resources"]) == 2, j and j.get("device_tree"))
    expect("vm.boot twice: 409", 409, "PUT", "vm.boot")
    s, j = st("PUT", "vm.add-disk", {"path": DISK})
    t.check("vm.add-disk while running on virtio-mmio: 409 naming hotplug",
            s == 409 and "hotplug" in j["error"], j)
    expect("vm.remove-device of a virtio-mmio device while running: 409", 409, "PUT",
           "vm.remove-device", {"id": "_disk0"})
    s, j = st("GET", "vm.counters")
    t.check("vm.counters: 200 with an entry per virtio device", s == 200 and "_disk0" in j, j)
    deadline = time.time() + 20
    while time.time() < deadline and "staying up" not in open(SERIAL, errors="replace").read():
        time.sleep(0.1)
    t.check("the guest runs and checks its memory", running_and_intact())

    # --- hostile clients while the guest runs ------------------------------------------------
    s, j = c.raw(b"PUT /api/v1/vm.create HTTP/1.1\r\nContent-Length: 9\r\n\r\n{\"payl", eof=True)
    t.check("truncated JSON body (length says 9, 6 come, then EOF): 400", s == 400, j)
    s, j = st("PUT", "vm.add-disk", raw_body=b'{"path": "\xff\xfe"}')
    t.check("non-UTF-8 body: 400", s == 400 and "UTF-8" in j["error"], j)
    s, j = st("PUT", "vm.add-disk", raw_body=b'{"path": "a"')
    t.check("truncated JSON: 400", s == 400, j)
    s, j = st("PUT", "vm.create", raw_body=b"[" * 100000 + b"]" * 100000)
    t.check("100000-deep nesting: 400", s == 400 and "deeper" in j["error"], j)
    big = b"PUT /api/v1/vm.create HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (16 << 20)
    s, j = c.raw(big + b"x" * (16 << 20))
    t.check("16 MiB body: 413", s == 413, j)
    s, j = c.raw(b"GET /api/v1/vmm.ping HTTP/1.1\r\nX-Junk: " + b"a" * 9000 + b"\r\n\r\n")
    t.check("a 9 KB header: 413", s == 413, j)
    s, j = st("GET", "vm.nonexistent")
    t.check("unknown endpoint: 404", s == 404, j)
    s, j = st("GET", "vm.boot")
    t.check("wrong method (GET vm.boot): 405", s == 405, j)
    s, j = st("DELETE", "vm.info")
    t.check("wrong method (DELETE vm.info): 405", s == 405, j)
    s, j = c.raw(b"BREW /api/v1/vm.info HTTP/1.1\r\n\r\n")
    t.check("an invalid method: 400", s == 400, j)
    s, j = c.raw(b"\x00\x01\x02garbage\r\n\r\n")
    t.check("binary garbage: 400", s == 400, j)
    r, w = os.pipe()
    s, j = st("GET", "vmm.ping", fds=[r, w])
    t.check("fds with vmm.ping: ignored (closed), 200", s == 200, j)
    os.close(r)
    os.close(w)

    # half a header, then a stall: the others are served meanwhile, the
    # staller gets 408 after the read timeout
    stall = c.connect()
    stall.sendall(b"GET /api/v1/vm.info HTTP/1.1\r\nHost: loc")
    t0 = time.time()
    s, j = st("GET", "vm.info")
    t.check("a client stalled mid-header does not block others", s == 200 and time.time() - t0 < 2)
    stall.settimeout(15)
    answer = stall.recv(4096)
    stall.close()
    t.check("the stalled client gets 408 after the read timeout", b" 408 " in answer[:20], answer[:80])

    # 100 connections at once
    conns = []
    for _ in range(100):
        conns.append(c.connect())
    codes = []
    for k in conns:
        try:
            k.sendall(b"GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x\r\n\r\n")
        except OSError:
            pass
    for k in conns:
        try:
            k.settimeout(10)
            data = k.recv(4096)
            codes.append(int(data[9:12]) if data.startswith(b"HTTP/1.1 ") else 0)
        except OSError:
            codes.append(0)
        k.close()
    t.check("100 connections at once: each 200 or 503 (cap 64), at least 64 served",
            all(x in (200, 503) for x in codes) and codes.count(200) >= 64,
            "codes: %s" % sorted(set(codes)))
    t.check("after all that the guest is Running with its memory intact", running_and_intact())

    # --- pause/resume ---------------------------------------------------------------
    expect("vm.pause: 204", 204, "PUT", "vm.pause")
    s, j = st("GET", "vm.info")
    t.check("vm.info: Paused", j and j["state"] == "Paused")
    expect("vm.pause twice: 409", 409, "PUT", "vm.pause")
    expect("vm.add-disk while paused: 409", 409, "PUT", "vm.add-disk", {"path": DISK})
    expect("vm.resume: 204", 204, "PUT", "vm.resume")
    expect("vm.resume twice: 409", 409, "PUT", "vm.resume")
    expect("vm.power-button: 204 (the GED's event; this guest ignores it)", 204, "PUT",
           "vm.power-button")
    expect("vm.reboot: 204", 204, "PUT", "vm.reboot")
    # the new VM's serial file starts empty: wait (bounded) for its guest's
    # line rather than a fixed time (0.5 s was too short at load 29)
    deadline = time.time() + 20
    while time.time() < deadline and "staying up" not in open(SERIAL, errors="replace").read():
        time.sleep(0.1)
    t.check("after reboot the (new) guest runs", running_and_intact())

    # --- shutdown, boot again, delete -------------------------------------------------------
    expect("vm.shutdown: 204", 204, "PUT", "vm.shutdown")
    time.sleep(0.2)
    s, j = st("GET", "vm.info")
    t.check("vm.info: Shutdown, and the VMM stays", s == 200 and j["state"] == "Shutdown" and
            vmm.poll() is None, j)
    bad = [e for e in ["vm.pause", "vm.resume", "vm.shutdown", "vm.reboot"] if st("PUT", e)[0] != 409]
    t.check("Shutdown: pause, resume, shutdown, reboot are 409", not bad, bad)
    expect("vm.boot after shutdown: 204", 204, "PUT", "vm.boot")
    expect("vm.delete while running: 204", 204, "PUT", "vm.delete")
    expect("vm.info after delete: 404", 404, "GET", "vm.info")
    expect("vmm.shutdown: 204", 204, "PUT", "vmm.shutdown")
    try:
        rc = vmm.wait(timeout=10)
    except subprocess.TimeoutExpired:
        rc = None
    t.check("the VMM exits 0 after vmm.shutdown and removes its socket",
            rc == 0 and not os.path.exists(SOCK), rc)
    lines = open(EVENTS).read().splitlines()
    evs = [json.loads(x) for x in lines]
    names = [e["event"] for e in evs]
    t.check("--event-monitor: one JSON object a line, CH's fields",
            all(set(e) == {"timestamp", "source", "event", "properties"} and
                set(e["timestamp"]) == {"secs", "nanos"} for e in evs), lines[:3])
    t.check("events: starting, booting, booted, pausing, paused, resuming, resumed, rebooting, "
            "rebooted, shutdown, deleted, vmm shutdown in order",
            [n for n in names if n != "device-added"] ==
            ["starting", "booting", "booted", "pausing", "paused", "resuming", "resumed",
             "rebooting", "booting", "booted", "rebooted", "shutdown", "booting", "booted",
             "deleted", "shutdown"], names)
finally:
    if vmm.poll() is None:
        vmm.kill()
        vmm.wait()
    t.skip_rest(PLAN, "an earlier step failed")
    if t.failed:
        # what the VMM said is the first thing a rare failure needs
        for line in open(os.path.join(TMP, "stderr"), errors="replace").read().splitlines()[-20:]:
            print("# vmm: " + line)
        if os.path.exists(EVENTS):
            print("# events: " + " ".join(json.loads(x)["event"] for x in open(EVENTS)))
sys.exit(t.done())
