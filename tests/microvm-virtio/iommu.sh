#!/bin/sh
# virtio-iommu under cvmm-microvm: iommu=on on a PCI device puts a
# virtio-iommu on the bus (slot 1) and the device behind it; the CPL3
# virtio-iommu guest attaches the rng, maps its rings and a buffer, sees
# the DMA land in the mapped page and be refused (used length 0, memory
# untouched) when unmapped, at a guest physical address and through a
# read-only mapping, under the default seccomp filters. iommu=on off PCI
# and bad values get one line; the VM config shows the flag.
. "${top_srcdir:-.}/tests/microvm-virtio/lib.sh"
require_kvm
require_guests virtio-iommu
plan 7

run_vm out --kernel "$GUESTS/virtio-iommu.img" --rng transport=pci,iommu=on --log-level info
bar=$(sed -n 's/.*32-bit BAR window \(0x[0-9a-f]*\) .*/\1/p' "$out")
[ -n "$bar" ] || bar=0
check "--rng transport=pci,iommu=on: the segment is announced" test "$bar" != 0

run_vm out --kernel "$GUESTS/virtio-iommu.img" --rng transport=pci,iommu=on \
	--guest-arg 0="$bar"
check "the rng behind the IOMMU needs ACCESS_PLATFORM" \
	ok_with "the rng needs ACCESS_PLATFORM"
check "map, DMA lands in the mapped page" ok_with "mapped, 64 bytes landed at IOVA"
check "unmap, DMA again refused; GPA-as-IOVA and read-only refused; memory untouched" \
	ok_with "after UNMAP refused, GPA-as-IOVA refused, read-only refused; memory untouched"
check "hostile requests answered, PROBE, no device needs a reset" \
	ok_with "no device needs a reset"

run_vm out --kernel "$GUESTS/virtio-iommu.img" --transport mmio --rng iommu=on
check "--rng iommu=on on virtio-mmio: one line" sh -c \
	"test $rc -ne 0 && grep -q 'iommu=on needs transport=pci' '$out' && [ \$(wc -l <'$out') -eq 1 ]"
run_vm out --kernel "$GUESTS/virtio-iommu.img" --pci --rng iommu=maybe
check "--rng iommu=maybe: one line" sh -c \
	"test $rc -ne 0 && grep -q \"^cvmm-microvm: --rng: iommu: 'maybe' is not on or off\" '$out' &&
	 [ \$(wc -l <'$out') -eq 1 ]"
finish
