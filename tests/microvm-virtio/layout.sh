#!/bin/sh
# Where the guest learns about the devices: the DSDT (one LNRO0005 device
# per transport with its window and GSI, read by a test guest that walks
# the ACPI tables) and the kernel command line (virtio_mmio.device=, read
# back by a boot-protocol guest).
. "${top_srcdir:-.}/tests/microvm-virtio/lib.sh"
require_kvm
require_guests virtio-acpi
plan 8

truncate -s 64K "$TMP/d1" "$TMP/d2"
run_vm out --kernel "$GUESTS/virtio-acpi.img" --transport mmio --disk path="$TMP/d1" --disk path="$TMP/d2" \
	--console file="$TMP/con" --rng
# The guest exits with 0x40 + the count (clear of the VMM's own 1, 2, 3).
check "DSDT: 4 LNRO0005 devices for two disks, a console and an rng" test "$rc" -eq $((0x40 + 4))
check "DSDT: windows 4 KiB apart from 0xd0000000, 0x200 bytes each" sh -c \
	"test \"\$(grep -c 'virtio-acpi: mem d000[0-3]000 size 200' '$out')\" -eq 4 && \
	 grep -q 'mem d0000000' '$out' && grep -q 'mem d0003000' '$out'"
check "DSDT: GSIs 5, 6, 7, 9 (the serial's 4 and the RTC's 8 skipped), edge" sh -c \
	"grep -q 'irq 5 flags 3' '$out' && grep -q 'irq 6 flags 3' '$out' && \
	 grep -q 'irq 7 flags 3' '$out' && grep -q 'irq 9 flags 3' '$out' && \
	 ! grep -q 'irq 8 ' '$out' && ! grep -q 'irq 4 ' '$out'"
run_vm out --kernel "$GUESTS/virtio-acpi.img" --transport mmio
check "DSDT: no virtio device without options" sh -c "test $rc -eq $((0x40)) && grep -q '0 LNRO0005' '$out'"

boot=$top_builddir/tests/boot-guests/linux64.elf
if [ -f "$boot" ]; then
	# ACPI on (the default): the DSDT is the one registration; a second
	# one on the command line made Linux log "can't request region".
	run_vm out --kernel "$boot" --cmdline "console=ttyS0 exit=7" --transport mmio --disk path="$TMP/d1" --rng
	check "command line: no virtio_mmio.device= while ACPI describes the devices" \
		grep -qx "cmdline: console=ttyS0 exit=7" "$out"
	run_vm out --kernel "$boot" --cmdline "console=ttyS0 acpi=off exit=7" --transport mmio --disk path="$TMP/d1" --rng
	check "command line: acpi=off gets virtio_mmio.device= for each device after the user's text" \
		grep -qx "cmdline: console=ttyS0 acpi=off exit=7 virtio_mmio.device=512@0xd0000000:5 virtio_mmio.device=512@0xd0001000:6" "$out"
	run_vm out --kernel "$boot" --cmdline "console=ttyS0 x=\"acpi=off\" exit=7" --transport mmio --disk path="$TMP/d1"
	check "command line: a quoted acpi=off inside another value does not count" \
		grep -qx "cmdline: console=ttyS0 x=\"acpi=off\" exit=7" "$out"
	run_vm out --kernel "$boot" --cmdline "console=ttyS0 acpi=off exit=7"
	check "command line: untouched without devices" grep -qx "cmdline: console=ttyS0 acpi=off exit=7" "$out"
else
	for i in 1 2 3 4; do n=$((n + 1)); echo "ok $n - # SKIP $boot not built"; done
fi
finish
