#!/bin/sh
# virtio-rng and virtio-console driven by CPL3 guests.
. "${top_srcdir:-.}/tests/microvm-virtio/lib.sh"
require_kvm
require_guests virtio-rng virtio-console
plan 11

run_vm out --kernel "$GUESTS/virtio-rng.img" --transport mmio --rng
check "virtio-rng: 64 bytes, twice, not zero, different" ok_with "64 random bytes twice"
run_vm out --kernel "$GUESTS/virtio-rng.img" --transport mmio --rng --guest-arg 0=4096
check "virtio-rng: 4096-byte requests" ok_with "4096 random bytes twice"
run_vm out --kernel "$GUESTS/virtio-rng.img" --transport mmio
check "virtio-rng guest without --rng finds no device" sh -c \
	"test $rc -eq $((0x31)) && grep -q 'no virtio-rng device' '$out'"

# The irqfd lands on the GSI the DSDT and command line name: slot 0 is
# GSI 5, slot 1 GSI 6; the guest routes one I/O APIC pin and looks for the
# used-buffer interrupt in the LAPIC IRR.
run_vm out --kernel "$GUESTS/virtio-rng.img" --transport mmio --rng --guest-arg 1=5
check "interrupt: the rng alone (slot 0) interrupts on GSI 5" \
	ok_with "interrupt on pin 5 (vector 0x41 pending, ISR 1)"
truncate -s 64K "$TMP/disk"
run_vm out --kernel "$GUESTS/virtio-rng.img" --transport mmio --disk path="$TMP/disk" --rng --guest-arg 1=6
check "interrupt: behind a disk (slot 1) the rng interrupts on GSI 6" \
	ok_with "interrupt on pin 6 (vector 0x41 pending, ISR 1)"
run_vm out --kernel "$GUESTS/virtio-rng.img" --transport mmio --disk path="$TMP/disk" --rng --guest-arg 1=5
check "interrupt: nothing on the idle disk's GSI 5" sh -c \
	"test $rc -eq $((0x37)) && grep -q 'no used-buffer interrupt' '$out'"

run_vm out --kernel "$GUESTS/virtio-console.img" --transport mmio --console file="$TMP/con" --guest-arg 0=3
check "virtio-console file=: the guest sends 3 lines" ok_with "3 lines sent"
printf 'virtio-console line %d from the guest\n' 0 1 2 >"$TMP/con.exp"
check "virtio-console file=: the file holds exactly those lines" cmp "$TMP/con" "$TMP/con.exp"

run_vm out --kernel "$GUESTS/virtio-console.img" --transport mmio --console stdio --serial off </dev/null
check "virtio-console stdio: the line reaches stdout" ok_with "virtio-console line 0 from the guest"
# With the serial port off, the only way out is the virtio console.
check "virtio-console stdio: the serial port stayed silent" sh -c \
	"! grep -q 'lines sent' '$out'"
# Input: with the serial port off, a pipe on stdin feeds the console's
# receive queue; the guest echoes it on the transmit queue.
f="$TMP/in.$n"
rc=0
printf 'typed on the host\n' | timeout 30 "$MICROVM" --kernel "$GUESTS/virtio-console.img" --transport mmio \
	--console stdio --serial off --guest-arg 1=1 >"$f" 2>&1 || rc=$?
out=$f
check "virtio-console stdio: host input reaches the guest and comes back" \
	ok_with "echo: typed on the host"
finish
