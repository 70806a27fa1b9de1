#!/bin/sh
# make check-slow (not in CI by default: downloads Debian's cloud kernel and
# boots it under TCG, ~30 s): QEMU as the vhost-user frontend, a Linux
# guest as the driver, cvmm-vhost-user-blk as the backend. The guest
# (busybox initramfs) mounts the ext4 image through virtio-blk, writes
# files, remounts, reads them back; the host then checks the file system
# with e2fsck and the file contents with debugfs.
# Fails at once without qemu-system-x86_64, busybox (busybox-static),
# mkfs.ext4/e2fsck/debugfs (e2fsprogs), kmod or cpio (tools/packages.txt);
# skips without the kernel package.
set -u
top_builddir=${top_builddir:-.}
. "${top_srcdir:-.}/tests/lib/sh-lib.sh"
DAEMON=$top_builddir/examples/vhost-user-blk/cvmm-vhost-user-blk
QEMU=$(command -v qemu-system-x86_64 || true)
BUSYBOX=/bin/busybox
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; fail=1; }
skip_all() { echo "1..0 # SKIP $1"; exit 0; }
fail=0

PATH=$PATH:/usr/sbin:/sbin
need_cmd qemu-system-x86_64 qemu-system-x86
[ -x "$BUSYBOX" ] || need_cmd "$BUSYBOX" busybox-static
for t in mkfs.ext4 e2fsck debugfs; do need_cmd $t e2fsprogs; done
for t in depmod modprobe; do need_cmd $t kmod; done
need_cmd cpio cpio
need_cmd apt-get apt
[ -x "$DAEMON" ] || { echo "1..0 # SKIP $DAEMON not built"; exit 0; }

. "${top_srcdir:-.}/tests/lib/debian-kernel.sh"
cache=${CVMM_KERNEL_CACHE:-$top_builddir/slow-cache}
debian_kernel "$cache" || skip_all "cannot fetch Debian's linux-image-cloud-amd64"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/cvmm-vub-qemu.XXXXXX")
PID=
QPID=
cleanup() {
	[ -n "$QPID" ] && kill $QPID 2>/dev/null
	[ -n "$PID" ] && kill $PID 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
echo "1..10"

# initramfs: busybox, the virtio modules in dependency order, /init
ird=$TMP/initrd
initramfs_begin $ird "$cache" virtio_mmio virtio_blk
cat >>$ird/init <<'INIT'
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
step() { if "$@"; then echo "GUEST-OK: $*"; else echo "GUEST-FAIL: $*"; fi; }
if grep -q vubtest=reconnect /proc/cmdline; then
	# Raw O_DIRECT writes that the first daemon holds; the host kills it
	# and starts another; the writes must complete with the right data.
	dd if=/dev/urandom of=/pattern bs=64k count=32 2>/dev/null
	want=$(md5sum /pattern | cut -d' ' -f1)
	echo "GUEST-PATTERN $want"
	echo GUEST-WRITING
	step dd if=/pattern of=/dev/vda bs=64k count=32 oflag=direct
	got=$(dd if=/dev/vda bs=64k count=32 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
	[ "$got" = "$want" ] && echo "GUEST-OK: reads back $got" || echo "GUEST-FAIL: read $got"
	echo GUEST-DONE
	poweroff -f
fi
step mount -t ext4 /dev/vda /mnt
dd if=/dev/urandom of=/mnt/big bs=64k count=64 2>/dev/null
echo "hello from the guest" >/mnt/hello.txt
sum1=$(md5sum /mnt/big | cut -d' ' -f1)
sync
step umount /mnt
step mount -t ext4 /dev/vda /mnt
sum2=$(md5sum /mnt/big | cut -d' ' -f1)
[ "$sum1" = "$sum2" ] && echo "GUEST-OK: big reads back ($sum2)" || echo "GUEST-FAIL: big $sum1 $sum2"
echo "$sum1" >/mnt/big.md5
step umount /mnt
echo GUEST-DONE
poweroff -f
INIT
initramfs_pack $ird $TMP/initrd.gz

IMG=$TMP/disk.img
SOCK=$TMP/blk.sock
truncate -s 64M $IMG
mkfs.ext4 -q -F $IMG
"$DAEMON" --socket $SOCK --disk $IMG 2>$TMP/daemon.log &
PID=$!
i=0
while [ ! -S $SOCK ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done

start=$(date +%s)
timeout ${CVMM_VUB_QEMU_TIMEOUT:-300} "$QEMU" -accel tcg -M microvm,pit=on,rtc=on,memory-backend=mem \
	-m 256M -object memory-backend-memfd,id=mem,size=256M,share=on \
	-global virtio-mmio.force-legacy=false \
	-chardev socket,id=c,path=$SOCK -device vhost-user-blk,chardev=c \
	-kernel "$vmlinuz" -initrd $TMP/initrd.gz \
	-append "console=ttyS0 tsc_early_khz=2500000 lpj=10000000 no_timer_check panic=-1 quiet" \
	-display none -serial file:$TMP/console -no-reboot &
QPID=$!
wait $QPID
QPID=
echo "# guest ran $(( $(date +%s) - start )) s"
grep GUEST $TMP/console | sed 's/^/# /'
grep -q "GUEST-OK: mount -t ext4 /dev/vda /mnt" $TMP/console &&
	! grep -q GUEST-FAIL $TMP/console && ok "guest mounts, writes, remounts" ||
	notok "guest mounts, writes, remounts"
grep -q "GUEST-OK: big reads back" $TMP/console && ok "guest reads its data back after remount" ||
	notok "guest reads its data back after remount"
stop_pid $PID TERM 20
PID=
[ $rc -eq 0 ] && ok "daemon exits 0 on SIGTERM" || notok "daemon exits 0 on SIGTERM (rc $rc)"
e2fsck -fn $IMG >$TMP/fsck 2>&1 && ok "e2fsck finds the file system clean" ||
	{ sed 's/^/# /' $TMP/fsck; notok "e2fsck finds the file system clean"; }
debugfs -R "cat /hello.txt" $IMG 2>/dev/null | grep -q "hello from the guest" &&
	[ "$(debugfs -R 'cat /big' $IMG 2>/dev/null | md5sum | cut -d' ' -f1)" = \
	  "$(debugfs -R 'cat /big.md5' $IMG 2>/dev/null)" ] &&
	ok "host reads the guest's files from the image" ||
	notok "host reads the guest's files from the image"
# --- backend killed and restarted while the guest's writes are in flight ---
rm -f $SOCK $TMP/console
truncate -s 64M $IMG
CVMM_VHOST_USER_BLK_TEST_STALL=writes CVMM_VHOST_USER_BLK_LOG=info \
	"$DAEMON" --socket $SOCK --disk $IMG 2>$TMP/daemon.log &
PID=$!
i=0
while [ ! -S $SOCK ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
timeout ${CVMM_VUB_QEMU_TIMEOUT:-300} "$QEMU" -accel tcg -M microvm,pit=on,rtc=on,memory-backend=mem \
	-m 256M -object memory-backend-memfd,id=mem,size=256M,share=on \
	-global virtio-mmio.force-legacy=false \
	-chardev socket,id=c,path=$SOCK,reconnect=1 -device vhost-user-blk,chardev=c \
	-kernel "$vmlinuz" -initrd $TMP/initrd.gz \
	-append "console=ttyS0 tsc_early_khz=2500000 lpj=10000000 no_timer_check panic=-1 quiet vubtest=reconnect" \
	-display none -serial file:$TMP/console -no-reboot &
QPID=$!
i=0
while ! grep -q GUEST-WRITING $TMP/console 2>/dev/null && [ $i -lt 1200 ] && kill -0 $QPID 2>/dev/null; do
	sleep 0.25; i=$((i + 1))
done
sleep 3 # the guest's writes reach the daemon, which holds them
kill -KILL $PID; wait $PID 2>/dev/null
CVMM_VHOST_USER_BLK_LOG=info "$DAEMON" --socket $SOCK --disk $IMG 2>$TMP/daemon2.log &
PID=$!
wait $QPID
QPID=
grep GUEST $TMP/console | sed 's/^/# /'
grep -q "GUEST-OK: dd if=/pattern" $TMP/console && ok "guest writes complete across the backend restart" ||
	notok "guest writes complete across the backend restart"
grep -q "GUEST-OK: reads back" $TMP/console && ok "guest reads its data back from the new backend" ||
	notok "guest reads its data back from the new backend"
want=$(sed -n 's/.*GUEST-PATTERN \([0-9a-f]*\).*/\1/p' $TMP/console)
got=$(dd if=$IMG bs=64k count=32 2>/dev/null | md5sum | cut -d' ' -f1)
[ -n "$want" ] && [ "$want" = "$got" ] && ok "the image holds the guest's data" ||
	notok "the image holds the guest's data ($want vs $got)"
grep -q "resubmitting [1-9]" $TMP/daemon2.log && ok "the new daemon resubmitted the held writes from the inflight region" ||
	{ sed 's/^/# daemon2: /' $TMP/daemon2.log; notok "the new daemon resubmitted the held writes from the inflight region"; }
stop_pid $PID TERM 20
PID=
[ $rc -eq 0 ] && ok "restarted daemon exits 0 on SIGTERM" || notok "restarted daemon exits 0 (rc $rc)"
[ $fail -eq 0 ] || { sed 's/^/# console: /' $TMP/console | tail -30; sed 's/^/# daemon: /' $TMP/daemon.log; }
exit $fail
