#!/bin/sh
# make check-slow (not in CI by default: downloads Debian's cloud kernel and
# boots it under TCG): QEMU as the vhost-user frontend, a Linux guest
# (busybox initramfs, virtio-net on virtio-mmio) as the driver,
# cvmm-vhost-user-net on a TAP as the backend, all in a private network
# namespace. The guest (192.0.2.2) pings the host side of the TAP
# (192.0.2.1) with small and 1400-byte packets.
# Skips (TAP) without root, /dev/net/tun, qemu-system-x86_64, busybox
# (busybox-static), depmod/modprobe/cpio or the kernel package.
set -u
top_builddir=${top_builddir:-.}
DAEMON=$top_builddir/examples/vhost-user-net/cvmm-vhost-user-net
QEMU=$(command -v qemu-system-x86_64 || true)
BUSYBOX=/bin/busybox
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; fail=1; }
skip_all() { echo "1..0 # SKIP $1"; exit 0; }
fail=0

[ "$(id -u)" = 0 ] && [ -c /dev/net/tun ] || skip_all "needs root and /dev/net/tun"
[ -n "$QEMU" ] || skip_all "qemu-system-x86_64 not installed (qemu-system-x86)"
[ -x "$BUSYBOX" ] || skip_all "static busybox not installed (busybox-static)"
PATH=$PATH:/usr/sbin:/sbin
for t in depmod modprobe cpio ip unshare; do
	command -v $t >/dev/null || skip_all "$t not installed (kmod, cpio, iproute2, util-linux)"
done
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
echo "1..4"

ird=$TMP/initrd
mkdir -p $ird/bin $ird/proc $ird/sys $ird/dev $ird/lib/modules
cp $BUSYBOX $ird/bin/busybox
initramfs_modules "$cache" $ird virtio_mmio virtio_net
cat >$ird/init <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
while read -r m; do insmod "$m" || echo "GUEST: insmod $m failed"; done </modules.order
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
step() { if "$@"; then echo "GUEST-OK: $*"; else echo "GUEST-FAIL: $*"; fi; }
echo "GUEST-MAC $(cat /sys/class/net/eth0/address)"
ip link set eth0 up
ip addr add 192.0.2.2/24 dev eth0
step ping -c 3 -W 10 192.0.2.1
step ping -c 3 -W 10 -s 1400 192.0.2.1
echo GUEST-DONE
poweroff -f
INIT
chmod +x $ird/init
(cd $ird && find . | cpio -o -H newc 2>/dev/null | gzip -1) >$TMP/initrd.gz

SOCK=$TMP/net.sock
ip link set lo up
"$DAEMON" --socket $SOCK --tap vunetq0 --mac 52:54:00:12:34:56 2>$TMP/daemon.log &
PID=$!
i=0
while [ ! -S $SOCK ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
ip link set vunetq0 up
ip addr add 192.0.2.1/24 dev vunetq0

start=$(date +%s)
timeout ${CVMM_VUNET_QEMU_TIMEOUT:-300} "$QEMU" -accel tcg -M microvm,pit=on,rtc=on,memory-backend=mem \
	-m 256M -object memory-backend-memfd,id=mem,size=256M,share=on \
	-global virtio-mmio.force-legacy=false \
	-chardev socket,id=c,path=$SOCK -netdev vhost-user,id=n,chardev=c \
	-device virtio-net-device,netdev=n,mac=52:54:00:12:34:56 \
	-kernel "$vmlinuz" -initrd $TMP/initrd.gz \
	-append "console=ttyS0 tsc_early_khz=2500000 lpj=10000000 no_timer_check panic=-1 quiet" \
	-display none -serial file:$TMP/console -no-reboot &
QPID=$!
wait $QPID
QPID=
echo "# guest ran $(( $(date +%s) - start )) s"
grep GUEST $TMP/console | sed 's/^/# /'
grep -q "GUEST-MAC 52:54:00:12:34:56" $TMP/console && ok "guest sees the MAC from --mac" ||
	notok "guest sees the MAC from --mac"
grep -q "GUEST-OK: ping -c 3 -W 10 192.0.2.1" $TMP/console && ok "guest pings the host side of the TAP" ||
	notok "guest pings the host side of the TAP"
grep -q "GUEST-OK: ping -c 3 -W 10 -s 1400 192.0.2.1" $TMP/console &&
	ok "guest pings with 1400-byte packets" || notok "guest pings with 1400-byte packets"
kill -TERM $PID; wait $PID; rc=$?
PID=
[ $rc -eq 0 ] && ok "daemon exits 0 on SIGTERM" || notok "daemon exits 0 on SIGTERM (rc $rc)"
[ $fail -eq 0 ] || { sed 's/^/# console: /' $TMP/console | tail -30; sed 's/^/# daemon: /' $TMP/daemon.log; }
exit $fail
