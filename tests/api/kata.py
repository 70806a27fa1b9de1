# SPDX-License-Identifier: Apache-2.0
"""Kata Containers' start sequence (its clh driver) against cvmm-microvm:
poll vmm.ping, vm.create, vm.info (Created), vm.add-net with the TAP fd as
SCM_RIGHTS data on the same request, vm.boot, vm.info (Running), then
vm.pause/vm.resume, vm.shutdown, vmm.shutdown. Runs in a private network
namespace: this script opens the TAP itself, as Kata does, and the
virtio-net test guest must get the host's ARP reply through it."""
import fcntl
import os
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

PLAN = 14
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
           "iommu": False, "watchdog": False, "pvpanic": False}
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
    s, j = c.req("PUT", "vm.shutdown")
    t.check("vm.shutdown: 204", s == 204, j)
    s, j = c.req("PUT", "vmm.shutdown")
    t.check("vmm.shutdown: 204", s == 204, j)
    try:
        rc = vmm.wait(timeout=10)
    except subprocess.TimeoutExpired:
        rc = None
    t.check("the VMM exits 0", rc == 0, rc)
except SpecError as e:
    t.check("answers match docs/api/cvmm.yaml", False, e)
finally:
    if vmm.poll() is None:
        vmm.kill()
        vmm.wait()
    t.skip_rest(PLAN, "an earlier step failed")
sys.exit(t.done())
