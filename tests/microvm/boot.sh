#!/bin/sh
# cvmm-microvm boots the boot-protocol test guests through each loader
# path, and each guest reports what it found: the command line, the memory
# map, the initrd, and the entry it came through.
#   linux64.elf      ELF without a PVH note: 64-bit entry, boot_params in RSI
#   pvh.elf          ELF with a PVH note: 32-bit entry, hvm_start_info in EBX
#   linux64.bzImage  bzImage (setup header + payload): 64-bit entry
. "${top_srcdir:-.}/tests/microvm/lib.sh"
require_kvm
plan 37

guests=$top_builddir/tests/boot-guests
initrd=$TMP/initrd
head -c 100000 /dev/urandom >"$initrd"
want_sum=$(od -An -v -tu1 "$initrd" | tr -s ' ' '\n' | awk 'NF { s += $1 } END { print s }')

for g in linux64.elf pvh.elf linux64.bzImage; do
	run_vm out --kernel "$guests/$g" --memory 256M --initrd "$initrd" \
		--cmdline "console=ttyS0 cvmm.token=a1b2c3 exit=7"
	cp "$out" "$TMP/report-$g"
	check "$g: exits with the code the guest wrote to the debug-exit port" test "$rc" -eq 7
	check "$g: guest sees the command line" \
		grep -qx "cmdline: console=ttyS0 cvmm.token=a1b2c3 exit=7" "$out"
	check "$g: memory map has low RAM below the EBDA" \
		grep -qx "e820: 0x0000000000000000 0x000000000009fc00 1" "$out"
	check "$g: memory map has RAM from 1 MiB to 256 MiB" \
		grep -qx "e820: 0x0000000000100000 0x000000000ff00000 1" "$out"
	# Not the whole 32-bit hole: Linux clips reserved ranges out of the
	# PCI host bridge's windows (crates/vmm boot_reserved_ranges).
	check "$g: memory map reserves the I/O APIC and LAPIC up to 4 GiB, not the device windows" \
		sh -c "grep -qx 'e820: 0x00000000fec00000 0x0000000001400000 2' '$out' &&
			! grep -q '^e820: 0x00000000c0000000' '$out'"
	check "$g: every initrd byte arrived (sum $want_sum)" \
		grep -q "initrd: .* 100000 bytes, sum $want_sum\$" "$out"

	run_vm out --kernel "$guests/$g" --memory 5G --cmdline "console=ttyS0"
	check "$g: 5 GiB guest has RAM above 4 GiB" \
		grep -qx "e820: 0x0000000100000000 0x0000000080000000 1" "$out"
done
check "pvh.elf came through PVH with a valid start_info" \
	grep -q "boot-test: pvh entry, start_info at .* magic ok" "$TMP/report-pvh.elf"
check "linux64.bzImage: boot_params carries the image's setup header (protocol 2.15)" \
	grep -q "hdr: version 0x000000000000020f" "$TMP/report-linux64.bzImage"

# Serial input reaches the guest and its echo comes back.
printf 'ping\nsecond line\nquit\n' >"$TMP/in"
run_vm out --kernel "$guests/linux64.elf" --cmdline "echo" <"$TMP/in"
check "serial input round-trips through the UART" grep -qx "echo: second line" "$out"
# From a pipe whose writer is gone before the guest took every byte: the
# hang-up must not starve the retry (it once spun the loop for good).
(sleep 1; printf 'ping\nquit\n') | timeout 30 "$MICROVM" --kernel "$guests/linux64.elf" \
	--cmdline "echo" >"$TMP/pipe-out" 2>&1
prc=$?
check "serial input from a pipe that closes: the guest gets it all and exits 0" \
	sh -c "[ $prc -eq 0 ] && grep -qx 'echo: ping' '$TMP/pipe-out'"

run_vm out --kernel "$guests/pvh.elf" --cpus 4 --memory 64M --cmdline "exit=3"
check "4 vCPUs: the boot processor runs and exits" test "$rc" -eq 3

# ACPI discovery and SMP bring-up the way a kernel does it: MADT, then
# INIT-SIPI-SIPI through the in-kernel local APIC.
for cpus in 1 2 8; do
	run_vm out --kernel "$guests/smp.elf" --cpus $cpus --cmdline "exit=4"
	check "$cpus vCPUs: the MADT lists $cpus CPUs" grep -q "^madt: $cpus cpus" "$out"
	check "$cpus vCPUs: every application processor starts" \
		grep -qx "smp: $((cpus - 1)) of $((cpus - 1)) application processors started" "$out"
done
run_vm out --kernel "$guests/smp.elf" --cpus 2 --cmdline poweroff
check "ACPI poweroff through the FADT sleep register ends the VM with 0" \
	sh -c "test $rc -eq 0 && grep -q 'acpi: poweroff' '$out'"
run_vm out --kernel "$guests/smp.elf" --cpus 2 --cmdline reset
check "i8042 reset ends the VM with 0" sh -c "test $rc -eq 0 && grep -q 'i8042: reset' '$out'"
run_vm out --kernel "$guests/smp.elf" --cpus 2 --cmdline triplefault
check "a triple fault exits 2" test "$rc" -eq 2
check "a triple fault prints the vCPU's registers" \
	sh -c "grep -q 'vCPU 0: triple fault' '$out' && grep -q '^  rip ' '$out'"

# SIGTERM stops a running VM cleanly with 128 + 15.
timeout 30 "$MICROVM" --kernel "$guests/linux64.elf" --cmdline echo </dev/zero >"$TMP/term" 2>&1 &
pid=$!
sleep 1
kill -TERM $pid
wait $pid
check "SIGTERM ends the VM with status 143" test $? -eq 143
finish
