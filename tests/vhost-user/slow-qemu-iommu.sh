#!/bin/sh
# make check-slow (downloads Debian's cloud kernel; ~15 s under TCG): QEMU
# as the vhost-user frontend behind an emulated IOMMU, cvmm-vhost-user-blk
# as the backend. q35 with intel-iommu (device-iotlb=on), the disk
# vhost-user-blk-pci with iommu_platform=on,ats=on, Linux with
# intel_iommu=on iommu.strict=1 (every unmap invalidated at once): the
# daemon sees only IOVAs, asks QEMU for each translation (IOTLB MISS on the
# backend channel, UPDATE back) and drops them on INVALIDATE. The guest
# writes 2 MiB with O_DIRECT and reads it back; the host image must hold
# the same bytes.
set -u
top_builddir=${top_builddir:-.}
. "${top_srcdir:-.}/tests/lib/sh-lib.sh"
DAEMON=$top_builddir/examples/vhost-user-blk/cvmm-vhost-user-blk
BUSYBOX=/bin/busybox
n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; fail=1; }
skip_all() { echo "1..0 # SKIP $1"; exit 0; }

PATH=$PATH:/usr/sbin:/sbin
need_cmd qemu-system-x86_64 qemu-system-x86
[ -x "$BUSYBOX" ] || need_cmd "$BUSYBOX" busybox-static
for t in depmod modprobe; do need_cmd $t kmod; done
need_cmd cpio cpio
need_cmd apt-get apt
need_cmd md5sum coreutils
[ -x "$DAEMON" ] || { echo "1..0 # SKIP $DAEMON not built"; exit 0; }

. "${top_srcdir:-.}/tests/lib/debian-kernel.sh"
cache=${CVMM_KERNEL_CACHE:-$top_builddir/slow-cache}
debian_kernel "$cache" || skip_all "cannot fetch Debian's linux-image-cloud-amd64"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/cvmm-vub-iommu.XXXXXX")
PID=
cleanup() {
	[ -n "$PID" ] && kill $PID 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
echo "1..4"

ird=$TMP/initrd
initramfs_begin $ird "$cache" virtio_pci virtio_blk
cat >>$ird/init <<'INIT'
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
echo "GUEST-IOMMU-GROUPS $(ls /sys/kernel/iommu_groups | wc -l)"
dd if=/dev/urandom of=/pattern bs=64k count=32 2>/dev/null
want=$(md5sum /pattern | cut -d' ' -f1)
echo "GUEST-PATTERN $want"
dd if=/pattern of=/dev/vda bs=64k count=32 oflag=direct 2>/dev/null && echo GUEST-WROTE
got=$(dd if=/dev/vda bs=64k count=32 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
[ "$got" = "$want" ] && echo "GUEST-OK reads back $got" || echo "GUEST-FAIL read $got"
poweroff -f
INIT
initramfs_pack $ird $TMP/initrd.gz

IMG=$TMP/disk.img
SOCK=$TMP/blk.sock
truncate -s 16M $IMG
CVMM_VHOST_USER_BLK_LOG=debug "$DAEMON" --socket $SOCK --disk $IMG 2>$TMP/daemon.log &
PID=$!
i=0
while [ ! -S $SOCK ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done

start=$(date +%s)
timeout ${CVMM_VUB_QEMU_TIMEOUT:-300} qemu-system-x86_64 -accel tcg \
	-M q35,kernel-irqchip=split -m 512M \
	-object memory-backend-memfd,id=mem,size=512M,share=on -numa node,memdev=mem \
	-device intel-iommu,intremap=on,device-iotlb=on \
	-chardev socket,id=c,path=$SOCK \
	-device vhost-user-blk-pci,chardev=c,iommu_platform=on,ats=on,disable-legacy=on \
	-kernel "$vmlinuz" -initrd $TMP/initrd.gz \
	-append "console=ttyS0 intel_iommu=on iommu.strict=1 tsc_early_khz=2500000 lpj=10000000 no_timer_check panic=-1 quiet" \
	-display none -serial file:$TMP/console -no-reboot
echo "# guest ran $(( $(date +%s) - start )) s"
grep GUEST $TMP/console | sed 's/^/# /'
grep -q "GUEST-IOMMU-GROUPS [1-9]" $TMP/console && ok "the guest runs with an IOMMU" ||
	notok "the guest runs with an IOMMU"
grep -q "GUEST-OK reads back" $TMP/console && ok "2 MiB written and read back through IOVAs" ||
	notok "2 MiB written and read back through IOVAs"
want=$(sed -n 's/.*GUEST-PATTERN \([0-9a-f]*\).*/\1/p' $TMP/console)
got=$(head -c 2097152 $IMG | md5sum | cut -d' ' -f1)
[ -n "$want" ] && [ "$got" = "$want" ] && ok "the host image holds the guest's bytes" ||
	notok "the host image holds the guest's bytes ($got, guest $want)"
misses=$(grep -c "IOTLB miss" $TMP/daemon.log)
inval=$(grep -c "IOTLB invalidate" $TMP/daemon.log)
refused=$(grep -c "refused" $TMP/daemon.log)
echo "# daemon: $misses misses, $inval invalidations, $refused requests refused"
[ "$misses" -gt 0 ] && [ "$inval" -gt 0 ] && [ "$refused" -eq 0 ] &&
	ok "translations came through misses, unmaps as invalidations, nothing refused" ||
	notok "translations came through misses, unmaps as invalidations, nothing refused"
stop_pid $PID TERM 20
PID=
exit $fail
