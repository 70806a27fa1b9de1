#!/bin/sh
# A hostile virtio-blk driver: descriptor loops, a header in a writable
# descriptor, sectors past the end, a runaway avail index, a head outside
# the table, data outside RAM. Each bad request is a write of 'E' bytes;
# the device must refuse it (DEVICE_NEEDS_RESET or IOERR), the VMM must
# keep running (the guest resets the device and reads sector 0 again) and
# the host file must be byte for byte what it was.
. "${top_srcdir:-.}/tests/microvm-virtio/lib.sh"
require_kvm
require_guests virtio-blk-hostile
plan 18

mkpattern "$TMP/orig" 64 3
for c in "1 descriptor loop:DEVICE_NEEDS_RESET" \
	 "2 header in a writable descriptor:DEVICE_NEEDS_RESET" \
	 "3 out-of-range sectors:IOERR" \
	 "4 avail index ahead of the ring:DEVICE_NEEDS_RESET" \
	 "5 head outside the table:DEVICE_NEEDS_RESET" \
	 "6 data outside RAM:"; do
	num=${c%% *}
	rest=${c#* }
	what=${rest%%:*}
	cp "$TMP/orig" "$TMP/disk"
	run_vm out --kernel "$GUESTS/virtio-blk-hostile.img" --transport mmio --disk path="$TMP/disk" \
		--guest-arg 0="$num" --guest-arg 1=3
	check "$what: refused (${rest#*:})" grep -qF -- "$what: ${rest#*:}" "$out"
	check "$what: the VMM keeps running, the device works after a reset" \
		ok_with "device works again, sector 0 intact"
	check "$what: the host file is intact" cmp "$TMP/disk" "$TMP/orig"
done
finish
