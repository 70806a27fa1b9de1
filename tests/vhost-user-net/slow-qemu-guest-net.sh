#!/bin/sh
# make check-slow (not in CI by default: downloads Debian's cloud kernel and
# boots it under TCG): QEMU as the vhost-user frontend, a Linux guest
# (busybox initramfs) as the driver, cvmm-vhost-user-net on a TAP as the
# backend, all in a private network namespace. The guest (192.0.2.2) pings
# the host side of the TAP (192.0.2.1) with small and 1400-byte packets.
# Two boots:
#  - one queue pair: microvm, virtio-net on virtio-mmio, one vCPU;
#  - two queue pairs: microvm with PCIe, virtio-net-pci with mq=on, two
#    vCPUs and daemon --queues 2; INTx (vectors=0), because QEMU 7.2 under
#    TCG segfaults in vhost_net_start (msix_set_vector_notifiers) for any
#    vhost-user netdev on an MSI-X virtio-net-pci, one queue pair too and
#    with DPDK's vhost backend as well (docs/vhost-user-net.md). Linux enables
#    every pair up to the CPU count and steers CPU i's transmissions to pair
#    i (XPS); the guest pings from each CPU in turn (taskset), and the TAP
#    answers a flow on the queue it came in on. The daemon's per-queue
#    counters (logged at info level when a queue stops) must show frames on
#    all four queues.
set -u
top_builddir=${top_builddir:-.}
. "${top_srcdir:-.}/tests/lib/sh-lib.sh"
DAEMON=$top_builddir/examples/vhost-user-net/cvmm-vhost-user-net
QEMU=$(command -v qemu-system-x86_64 || true)
BUSYBOX=/bin/busybox
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; fail=1; }
skip_all() { echo "1..0 # SKIP $1"; exit 0; }
fail=0

[ "$(id -u)" = 0 ] && [ -c /dev/net/tun ] || skip_all "needs root and /dev/net/tun"
PATH=$PATH:/usr/sbin:/sbin
need_cmd qemu-system-x86_64 qemu-system-x86
[ -x "$BUSYBOX" ] || need_cmd "$BUSYBOX" busybox-static
for t in depmod modprobe; do need_cmd $t kmod; done
need_cmd cpio cpio
need_cmd ip iproute2
need_cmd apt-get apt
[ -x "$DAEMON" ] || skip_all "$DAEMON not built"
if [ -z "${CVMM_VUNET_IN_NS:-}" ]; then
	CVMM_VUNET_IN_NS=1 exec unshare -n "$0" "$@"
fi

. "${top_srcdir:-.}/tests/lib/debian-kernel.sh"
cache=${CVMM_KERNEL_CACHE:-$top_builddir/slow-cache}
debian_kernel "$cache" || skip_all "cannot fetch Debian's linux-image-cloud-amd64"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/cvmm-vunet-qemu.XXXXXX")
PID=
QPID=
cleanup() {
	[ -n "$QPID" ] && kill $QPID 2>/dev/null
	[ -n "$PID" ] && kill $PID 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
echo "1..11"

ird=$TMP/initrd
initramfs_begin $ird "$cache" virtio_mmio virtio_pci virtio_net
cat >>$ird/init <<'INIT'
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
step() { if "$@"; then echo "GUEST-OK: $*"; else echo "GUEST-FAIL: $*"; fi; }
echo "GUEST-MAC $(cat /sys/class/net/eth0/address)"
echo "GUEST-QUEUES rx=$(ls -d /sys/class/net/eth0/queues/rx-* | wc -l) cpus=$(nproc)"
ip link set eth0 up
ip addr add 192.0.2.2/24 dev eth0
# From every CPU: XPS sends each CPU's packets on its own transmit queue.
for cpu in $(seq 0 $(($(nproc) - 1))); do
	step taskset -c $cpu ping -c 3 -W 10 192.0.2.1
	step taskset -c $cpu ping -c 3 -W 10 -s 1400 192.0.2.1
done
echo GUEST-DONE
poweroff -f
INIT
initramfs_pack $ird $TMP/initrd.gz

SOCK=$TMP/net.sock
ip link set lo up

# boot PAIRS: daemon with PAIRS queue pairs, QEMU on it, until the guest
# powers off. Console in $TMP/console.PAIRS, daemon log in $TMP/daemon.PAIRS.
boot() {
	pairs=$1
	rm -f $SOCK
	CVMM_VHOST_USER_NET_LOG=info "$DAEMON" --socket $SOCK --tap vunetq0 --queues $pairs \
		--mac 52:54:00:12:34:56 2>$TMP/daemon.$pairs &
	PID=$!
	i=0
	while [ ! -S $SOCK ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	ip link set vunetq0 up
	ip addr add 192.0.2.1/24 dev vunetq0
	if [ $pairs = 1 ]; then
		machine=microvm,pit=on,rtc=on,memory-backend=mem
		dev=virtio-net-device,netdev=n,mac=52:54:00:12:34:56
		netq=
	else
		machine=microvm,pit=on,rtc=on,pcie=on,memory-backend=mem
		dev=virtio-net-pci,netdev=n,mac=52:54:00:12:34:56,mq=on,vectors=0
		netq=,queues=$pairs
	fi
	start=$(date +%s)
	timeout ${CVMM_VUNET_QEMU_TIMEOUT:-300} "$QEMU" -accel tcg -M $machine -smp $pairs \
		-m 256M -object memory-backend-memfd,id=mem,size=256M,share=on \
		-global virtio-mmio.force-legacy=false \
		-chardev socket,id=c,path=$SOCK -netdev vhost-user,id=n,chardev=c$netq \
		-device $dev \
		-kernel "$vmlinuz" -initrd $TMP/initrd.gz \
		-append "console=ttyS0 tsc_early_khz=2500000 lpj=10000000 no_timer_check panic=-1 quiet" \
		-display none -serial file:$TMP/console.$pairs -no-reboot &
	QPID=$!
	wait $QPID
	QPID=
	echo "# $pairs queue pair(s): guest ran $(( $(date +%s) - start )) s"
	grep GUEST $TMP/console.$pairs | sed 's/^/# /'
	stop_pid $PID TERM 20
	PID=
}

# frames QUEUE PAIRS: the frames the daemon counted on QUEUE, all its runs.
frames() {
	sed -n "s/.*queue $1 stopped: \([0-9]*\) frames.*/\1/p" $TMP/daemon.$2 |
		awk '{ n += $1 } END { print n + 0 }'
}

guest_ok() { grep -q "GUEST-OK: $1" $TMP/console.$2; }

boot 1
c=$TMP/console.1
grep -q "GUEST-MAC 52:54:00:12:34:56" $c && ok "guest sees the MAC from --mac" ||
	notok "guest sees the MAC from --mac"
guest_ok "taskset -c 0 ping -c 3 -W 10 192.0.2.1" 1 &&
	ok "guest pings the host side of the TAP" || notok "guest pings the host side of the TAP"
guest_ok "taskset -c 0 ping -c 3 -W 10 -s 1400 192.0.2.1" 1 &&
	ok "guest pings with 1400-byte packets" || notok "guest pings with 1400-byte packets"
[ $rc -eq 0 ] && ok "daemon exits 0 on SIGTERM" || notok "daemon exits 0 on SIGTERM (rc $rc)"
[ $fail -eq 0 ] || { sed 's/^/# console: /' $c | tail -30; sed 's/^/# daemon: /' $TMP/daemon.1; }

f1=$fail
fail=0
boot 2
c=$TMP/console.2
grep -q "GUEST-QUEUES rx=2 cpus=2" $c && ok "2 pairs: the guest has two receive queues and two CPUs" ||
	notok "2 pairs: the guest has two receive queues and two CPUs"
for cpu in 0 1; do
	guest_ok "taskset -c $cpu ping -c 3 -W 10 192.0.2.1" 2 &&
		ok "2 pairs: guest pings from CPU $cpu" || notok "2 pairs: guest pings from CPU $cpu"
	guest_ok "taskset -c $cpu ping -c 3 -W 10 -s 1400 192.0.2.1" 2 &&
		ok "2 pairs: guest pings with 1400-byte packets from CPU $cpu" ||
		notok "2 pairs: guest pings with 1400-byte packets from CPU $cpu"
done
counts=
for q in 0 1 2 3; do counts="$counts q$q=$(frames $q 2)"; done
echo "# daemon frames per queue (0, 2 receive; 1, 3 transmit):$counts"
busy=0
for q in 0 1 2 3; do [ "$(frames $q 2)" -gt 0 ] && busy=$((busy + 1)); done
[ $busy -eq 4 ] && ok "2 pairs: frames on all four queues" ||
	notok "2 pairs: frames on all four queues ($counts )"
[ $rc -eq 0 ] && ok "2 pairs: daemon exits 0 on SIGTERM" ||
	notok "2 pairs: daemon exits 0 on SIGTERM (rc $rc)"
[ $fail -eq 0 ] || { sed 's/^/# console: /' $c | tail -30; sed 's/^/# daemon: /' $TMP/daemon.2; }
[ $f1 -eq 0 ] && [ $fail -eq 0 ]
