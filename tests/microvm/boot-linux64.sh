#!/bin/sh
# cvmm-microvm boots the linux64 test guest (an ELF without a PVH note, so
# it enters through the 64-bit boot protocol) and the guest reports what it
# found in boot_params: the command line, the e820 map, the initrd.
. "${top_srcdir:-.}/tests/microvm/lib.sh"
require_kvm
plan 9

guest=$top_builddir/tests/boot-guests/linux64.elf
initrd=$TMP/initrd
head -c 100000 /dev/urandom >"$initrd"
want_sum=$(od -An -v -tu1 "$initrd" | tr -s ' ' '\n' | awk 'NF { s += $1 } END { print s }')

run_vm out --kernel "$guest" --memory 256M --initrd "$initrd" \
	--cmdline "console=ttyS0 cvmm.token=a1b2c3 exit=7"
check "exits with the code the guest wrote to the debug-exit port" test "$rc" -eq 7
check "guest sees the command line" grep -qx "cmdline: console=ttyS0 cvmm.token=a1b2c3 exit=7" "$out"
check "e820 has low RAM below the EBDA" grep -qx "e820: 0x0000000000000000 0x000000000009fc00 1" "$out"
check "e820 has RAM from 1 MiB to the end of the 256 MiB" \
	grep -qx "e820: 0x0000000000100000 0x000000000ff00000 1" "$out"
check "e820 reserves the 32-bit MMIO hole" grep -qx "e820: 0x00000000c0000000 0x0000000040000000 2" "$out"
check "every initrd byte arrived (sum $want_sum)" grep -q "initrd: .* 100000 bytes, sum $want_sum\$" "$out"

# Above 4 GiB: the map must split RAM around the hole.
run_vm out --kernel "$guest" --memory 5G --cmdline "console=ttyS0"
check "5 GiB guest: RAM above 4 GiB in e820" grep -qx "e820: 0x0000000100000000 0x0000000080000000 1" "$out"

# Serial input reaches the guest and its echo comes back.
printf 'ping\nsecond line\nquit\n' >"$TMP/in"
run_vm out --kernel "$guest" --cmdline "echo" <"$TMP/in"
check "serial input round-trips through the UART" grep -qx "echo: second line" "$out"

run_vm out --kernel "$guest" --cpus 4 --memory 64M --cmdline "exit=3"
check "4 vCPUs: the boot processor runs and exits" test "$rc" -eq 3
finish
