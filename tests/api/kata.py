# SPDX-License-Identifier: Apache-2.0
"""Kata Containers' start sequence (its clh driver) against cvmm-microvm:
poll vmm.ping, vm.create, vm.info (Created), vm.add-net with the TAP fd as
SCM_RIGHTS data on the same request, vm.boot, vm.info (Running), then
vm.pause/vm.resume, then Kata's VM templating: vm.pause, vm.snapshot,
vmm.shutdown, a new VMM, vm.restore with Cloud Hypervisor's net_fds (a new
TAP's fd as SCM_RIGHTS data, hostile variants refused first): the
restored guest's card moves frames through the new TAP. Runs in a private network
namespace: this script opens the TAP itself, as Kata does, and the
virtio-net test guest must get the host's ARP reply through it."""
import fcntl
import os
import socket
import struct
import subprocess
import sys
import time

from apiclient import Client, Tap, SpecError

MICROVM, GUEST, TMP = sys.argv[1], sys.argv[2], sys.argv[3]
SOCK = os.path.join(TMP, "api.sock")
SERIAL = os.path.join(TMP, "serial")
TUNSETIFF = 0x400454ca
IFF_TAP, IFF_NO_PI, IFF_VNET_HDR = 0x0002, 0x1000, 0x4000

PLAN = 20
t = Tap(PLAN)
tap = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
fcntl.ioctl(tap, TUNSETIFF, struct.pack("16sH", b"ktap0", IFF_TAP | IFF_NO_PI | IFF_VNET_HDR))
subprocess.check_call(["ip", "addr", "add", "10.0.2.1/24", "dev", "ktap0"])
subprocess.check_call(["ip", "link", "set", "ktap0", "up"])

# Kata starts the VMM with only the API socket; guest args are the test
# guest's (host IP, guest IP, stay up after the reply).
vmm = subprocess.Popen([MICROVM, "--api-socket", SOCK, "--guest-arg", "0=0x0a000201",
                        "--guest-arg", "1=0x0a00020f", "--guest-arg", "2=1"],
                       stdout=subprocess.DEVNULL, stderr=open(os.path.join(TMP, "stderr"), "w"))
c = Client(SOCK)
try:
    t0 = time.time()
    s, j = c.wait_ready()
    t.check("vmm.ping answers (polled from exec: %.1f ms)" % ((time.time() - t0) * 1e3), s == 200)
    cfg = {"payload": {"kernel": GUEST, "cmdline": "console=ttyS0"},
           "cpus": {"boot_vcpus": 1, "max_vcpus": 1, "kvm_hyperv": False,
                    "topology": {"threads_per_core": 1, "cores_per_die": 1,
                                 "dies_per_package": 1, "packages": 1}},
           "memory": {"size": 128 << 20, "shared": False, "hugepages": False,
                      "hotplug_method": "Acpi"},
           "serial": {"mode": "File", "file": SERIAL}, "console": {"mode": "Off"},
           "rng": {"src": "/dev/urandom", "iommu": False},
           "iommu": False, "watchdog": False, "pvpanic": False,
           # cvmm's extension: the test guest drives virtio-mmio (Kata's own guests are PCI)
           "platform": {"transport": "mmio"}}
    s, j = c.req("PUT", "vm.create", cfg)
    t.check("vm.create: 204", s == 204, j)
    s, j = c.req("GET", "vm.info")
    t.check("vm.info: Created", s == 200 and j["state"] == "Created", j)
    s, j = c.req("PUT", "vm.add-net", {"mac": "02:00:00:00:00:07", "num_queues": 2,
                                       "queue_size": 256, "id": "eth0"}, fds=[tap])
    t.check("vm.add-net with the TAP fd as SCM_RIGHTS data: 204", s == 204, j)
    s, j = c.req("PUT", "vm.boot")
    t.check("vm.boot: 204", s == 204, j)
    s, j = c.req("GET", "vm.info")
    t.check("vm.info: Running with eth0 in the device tree",
            s == 200 and j["state"] == "Running" and "eth0" in j["device_tree"], j)
    deadline = time.time() + 30
    serial = ""
    while time.time() < deadline and "ARP reply" not in serial:
        time.sleep(0.1)
        serial = open(SERIAL, errors="replace").read() if os.path.exists(SERIAL) else ""
    t.check("the guest sees the network card (mac from vm.add-net) and gets the host's ARP reply",
            "virtio-net: mac 2:0:0:0:0:7" in serial and "ARP reply" in serial, serial)
    s, j = c.req("GET", "vm.counters")
    t.check("vm.counters: eth0 moved frames both ways",
            s == 200 and j["eth0"]["tx_frames"] > 0 and j["eth0"]["rx_frames"] > 0, j)
    s, j = c.req("PUT", "vm.pause")
    t.check("vm.pause: 204", s == 204, j)
    s, j = c.req("PUT", "vm.resume")
    t.check("vm.resume: 204", s == 204, j)
    s, j = c.req("GET", "vm.info")
    t.check("vm.info: Running after resume, guest memory intact",
            j["state"] == "Running" and "memory changed" not in open(SERIAL).read(), j)
    # Kata's VM templating: pause, snapshot, and a clone on its own TAP
    snap = os.path.join(TMP, "snap")
    c.req("PUT", "vm.pause")
    s, j = c.req("PUT", "vm.snapshot", {"destination_url": "file://" + snap})
    t.check("vm.snapshot of the paused VM: 204", s == 204, j)
    s, j = c.req("PUT", "vmm.shutdown")
    t.check("vmm.shutdown: 204", s == 204, j)
    try:
        rc = vmm.wait(timeout=10)
    except subprocess.TimeoutExpired:
        rc = None
    t.check("the VMM exits 0", rc == 0, rc)
    os.close(tap)
    tap = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    fcntl.ioctl(tap, TUNSETIFF, struct.pack("16sH", b"ktap1", IFF_TAP | IFF_NO_PI | IFF_VNET_HDR))
    subprocess.check_call(["ip", "addr", "add", "10.0.2.1/24", "dev", "ktap1"])
    subprocess.check_call(["ip", "link", "set", "ktap1", "up"])
    if os.path.exists(SOCK):
        os.unlink(SOCK)
    vmm = subprocess.Popen([MICROVM, "--api-socket", SOCK], stdout=subprocess.DEVNULL,
                           stderr=open(os.path.join(TMP, "stderr2"), "w"))
    c = Client(SOCK)
    c.wait_ready()
    body = {"source_url": "file://" + snap, "resume": True}
    # eth0 ran on fds: the snapshot names no TAP for it, so leaving it out fails
    bad = [({"net_fds": [{"id": "nope", "num_fds": 1}]}, [tap], "net[0].tap: missing"),
           ({"net_fds": [{"id": "eth0", "num_fds": 1}, {"id": "nope", "num_fds": 1}]},
            [tap, tap], "no network card 'nope'"),
           ({"net_fds": [{"id": "eth0", "num_fds": 2}]}, [tap, tap], "queue pairs"),
           ({"net_fds": [{"id": "eth0", "num_fds": 1}]}, [tap, tap], "came with the request")]
    answers = []
    for extra, fds, want in bad:
        s, j = c.req("PUT", "vm.restore", dict(body, **extra), fds=fds)
        answers.append((s, j, want))
    s, j = c.req("GET", "vm.info")
    t.check("vm.restore without eth0 in net_fds, with an unknown id, a wrong count, fds left over: "
            "400 each, no VM",
            all(a[0] == 400 and a[2] in str(a[1]) for a in answers) and s >= 400,
            "%s %s" % (answers, j))
    s, j = c.req("PUT", "vm.restore", dict(body, net_fds=[{"id": "eth0", "num_fds": 1}]),
                 fds=[tap])
    t.check("vm.restore with net_fds (the new TAP's fd as SCM_RIGHTS data): 204", s == 204, j)
    s, j = c.req("GET", "vm.info")
    t.check("vm.info: the clone Runs with eth0",
            s == 200 and j["state"] == "Running" and "eth0" in j["device_tree"], j)
    # the host's ARP for the guest (a UDP datagram to it) leaves through ktap1: the clone's card
    # takes it in (its RX buffers came with the snapshot)
    os.close(tap)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(3):
        u.sendto(b"x", ("10.0.2.15", 9))
        time.sleep(0.3)
    u.close()
    s, j = c.req("GET", "vm.counters")
    t.check("vm.counters: the clone's eth0 received frames from the new TAP",
            s == 200 and j["eth0"]["rx_frames"] > 0, j)
    s, j = c.req("PUT", "vmm.shutdown")
    t.check("vmm.shutdown of the clone: 204", s == 204, j)
    try:
        rc = vmm.wait(timeout=10)
    except subprocess.TimeoutExpired:
        rc = None
    t.check("the clone's VMM exits 0", rc == 0, rc)
except SpecError as e:
    t.check("answers match docs/api/cvmm.yaml", False, e)
finally:
    if vmm.poll() is None:
        vmm.kill()
        vmm.wait()
    t.skip_rest(PLAN, "an earlier step failed")
sys.exit(t.done())
