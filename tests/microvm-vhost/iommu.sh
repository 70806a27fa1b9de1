#!/bin/sh
# A disk behind the virtio-iommu, in-VMM and served by cvmm-vhost-user-blk
# (iommu=on): the CPL3 virtio-iommu-blk guest maps, does I/O, unmaps and
# sees I/O refused (used length 0, status unwritten, guest memory
# untouched), a read-only mapping refused for device writes and a guest
# physical address refused as an IOVA. The vhost-user backend learns the
# translations from IOTLB messages (its misses, the VMM's invalidations):
# the same sequence must pass against both. The host file holds what the
# guest wrote through the mappings, and nothing of what was refused.
. "${top_srcdir:-.}/tests/microvm-vhost/lib.sh"
require_kvm
require_guests virtio-iommu-blk
plan 9
G=$GUESTS/virtio-iommu-blk.img

# sector_is FILE SECTOR SEED: the guest's pattern (seed + i * 13) there.
sector_is() {
	python3 - "$1" "$2" "$3" <<'PY'
import sys
f, s, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
d = open(f, 'rb').read()[s * 512:(s + 1) * 512]
sys.exit(0 if d == bytes((seed + i * 13) & 0xff for i in range(512)) else 1)
PY
}
zero_sector() {
	test "$(dd if="$1" bs=512 skip="$2" count=1 2>/dev/null | tr -d '\000' | wc -c)" -eq 0
}

truncate -s 1M "$TMP/native"
run_vm out --kernel "$G" --pci --disk path="$TMP/native",iommu=on --log-level info
bar=$(sed -n 's/.*32-bit BAR window \(0x[0-9a-f]*\) .*/\1/p' "$out")
[ -n "$bar" ] || bar=0
run_vm out --kernel "$G" --pci --disk path="$TMP/native",iommu=on --guest-arg 0="$bar"
check "in-VMM disk behind the IOMMU: map, I/O, unmap refused, read-only, GPA refused" \
	ok_with "no device needs a reset"

# Without --log-level: the VMM's log lines would cut into the guest's.
truncate -s 1M "$TMP/vu"
start_blk "$TMP/s" "$TMP/vu"
run_vm out --kernel "$G" --pci --disk vhost_user=on,socket="$TMP/s",iommu=on \
	--guest-arg 0="$bar"
stop_backend
cp "$out" "$TMP/guest.out"
truncate -s 1M "$TMP/vu2"
start_blk "$TMP/s" "$TMP/vu2"
run_vm info --kernel "$G" --pci --disk vhost_user=on,socket="$TMP/s",iommu=on \
	--guest-arg 0="$bar" --log-level info
stop_backend
out=$TMP/guest.out
check "vhost-user disk behind the IOMMU: the disk needs ACCESS_PLATFORM" \
	ok_with "the disk needs ACCESS_PLATFORM"
check "vhost-user: mapped, a sector written and read back through the IOVA" \
	ok_with "written and read back through IOVA"
check "vhost-user: after UNMAP refused, read-only refused, GPA refused, memory untouched" \
	ok_with "no device needs a reset"
check "vhost-user: the host file has the sector written through the mapping" \
	sector_is "$TMP/vu" 8 $((0x21))
check "vhost-user: ... and the one written through the read-only mapping" \
	sector_is "$TMP/vu" 10 $((0x37))
check "vhost-user: the write refused after UNMAP reached nothing" zero_sector "$TMP/vu" 9
check "vhost-user: the backend took ACCESS_PLATFORM (its IOTLB kept in step)" \
	grep -q "backend's IOTLB is kept in step" "$info"

# A backend without the IOTLB protocol cannot sit behind the IOMMU: one line.
need_cmd qemu-storage-daemon qemu-system-common
start_qsd "$TMP/s" "$TMP/vu"
run_vm out --kernel "$G" --pci --disk vhost_user=on,socket="$TMP/s",iommu=on
stop_backend
check "a backend without ACCESS_PLATFORM/IOTLB: refused with one line" sh -c \
	"test $rc -ne 0 && grep -q 'iommu=on: the backend does not offer' '$out' &&
	 [ \$(wc -l <'$out') -eq 1 ]"
finish
