#!/bin/sh
# virtio-blk with real image files: a CPL3 driver in the guest reads the
# pattern the host wrote, writes one the host checks with cmp, and finds
# read-only disks read-only. The completions as interrupts: on
# virtio-mmio's line (I/O APIC) and on a virtio-pci MSI-X vector, the same
# driver (virtio-blk-irq; bench/virtio-irq/run.sh times it).
. "${top_srcdir:-.}/tests/microvm-virtio/lib.sh"
require_kvm
require_guests virtio-blk virtio-blk-irq
plan 14
BLK=$GUESTS/virtio-blk.img

mkpattern "$TMP/disk" 256 5
cp "$TMP/disk" "$TMP/orig"
run_vm out --kernel "$BLK" --transport mmio --disk path="$TMP/disk" \
	--guest-arg 0=1 --guest-arg 1=0 --guest-arg 2=256 --guest-arg 3=5
check "guest reads all 256 sectors and finds the host's pattern" ok_with "read 256 sectors ok"
check "reading leaves the file unchanged" cmp "$TMP/disk" "$TMP/orig"

# A wrong seed must be noticed: the check cannot pass by accident.
run_vm out --kernel "$BLK" --transport mmio --disk path="$TMP/disk" \
	--guest-arg 0=1 --guest-arg 1=0 --guest-arg 2=8 --guest-arg 3=6
check "guest notices content that differs from the pattern" sh -c "test $rc -eq $((0x16))"

truncate -s 1M "$TMP/w"
run_vm out --kernel "$BLK" --transport mmio --disk path="$TMP/w" \
	--guest-arg 0=2 --guest-arg 1=10 --guest-arg 2=100 --guest-arg 3=9
check "guest writes 100 sectors and reads them back" ok_with "wrote 100 sectors ok"
mkpattern "$TMP/exp" 110 9
sectors "$TMP/exp" 10 100 >"$TMP/exp.part"
sectors "$TMP/w" 10 100 >"$TMP/w.part"
check "the host file holds the guest's pattern (cmp)" cmp "$TMP/exp.part" "$TMP/w.part"
check "sectors around the written range stay zero" sh -c \
	"sectors() { dd if=\"\$1\" bs=512 skip=\$2 count=\$3 2>/dev/null; }; \
	 test \"\$(sectors '$TMP/w' 0 10 | od -An -v -tx1 | tr -d ' \n' | tr -d 0)\" = '' && \
	 test \"\$(sectors '$TMP/w' 110 1938 | od -An -v -tx1 | tr -d ' \n' | tr -d 0)\" = ''"
check "the file size did not change" test "$(wc -c <"$TMP/w")" -eq 1048576

cp "$TMP/orig" "$TMP/ro"
chmod 444 "$TMP/ro"
run_vm out --kernel "$BLK" --transport mmio --disk path="$TMP/ro",readonly=on \
	--guest-arg 0=3 --guest-arg 1=3 --guest-arg 3=5
check "readonly=on: VIRTIO_BLK_F_RO, writes get IOERR, reads work" ok_with "read-only honoured"
check "readonly=on: the file is unchanged" cmp "$TMP/ro" "$TMP/orig"

# Without readonly=on a file the VMM cannot write is an error, not a silent downgrade.
if [ "$(id -u)" -ne 0 ]; then
	run_vm out --kernel "$BLK" --transport mmio --disk path="$TMP/ro"
	check "a read-only file without readonly=on is refused" sh -c \
		"test $rc -eq 1 && grep -q -- '--disk: path: cannot open' '$out'"
else
	n=$((n + 1)); echo "ok $n - # SKIP root can open a 0444 file for writing"
fi

# O_DIRECT where the file system has it (tmpfs does not: then a clear error).
mkpattern "$TMP/direct" 64 5
run_vm out --kernel "$BLK" --transport mmio --disk path="$TMP/direct",direct=on \
	--guest-arg 0=1 --guest-arg 1=0 --guest-arg 2=64 --guest-arg 3=5
if [ "$rc" -eq 0 ]; then
	check "direct=on: the guest reads the pattern" ok_with "read 64 sectors ok"
else
	check "direct=on on a file system without O_DIRECT: one error line, exit 1" sh -c \
		"test $rc -eq 1 && test \$(wc -l <'$out') -eq 1 && grep -q -- '--disk: direct' '$out'"
fi

# Two disks: the guest drives the first, the second is untouched.
cp "$TMP/orig" "$TMP/d2"
run_vm out --kernel "$BLK" --transport mmio --disk path="$TMP/disk" --disk path="$TMP/d2" --rng \
	--guest-arg 0=2 --guest-arg 1=0 --guest-arg 2=4 --guest-arg 3=1
check "two disks and an rng: the guest writes the first, the second is intact" \
	sh -c "test $rc -eq 0 && cmp '$TMP/d2' '$TMP/orig' && ! cmp -s '$TMP/disk' '$TMP/orig'"
# One interrupt per request, on either transport (transports named: the
# default may change).
IRQ=$GUESTS/virtio-blk-irq.img
run_vm out --kernel "$IRQ" --disk path="$TMP/disk",transport=mmio \
	--guest-arg 0=0 --guest-arg 1=20 --guest-arg 2=1
check "transport=mmio: 21 reads, each completion an interrupt on the I/O APIC line" \
	ok_with "20 requests on virtio-mmio, I/O APIC line, 21 interrupts"
run_vm out --kernel "$IRQ" --disk path="$TMP/disk",transport=pci --log-level info \
	--guest-arg 1=1 --guest-arg 2=0
bar=$(sed -n 's/.*32-bit BAR window \(0x[0-9a-f]*\) .*/\1/p' "$out")
run_vm out --kernel "$IRQ" --disk path="$TMP/disk",transport=pci \
	--guest-arg 0="${bar:-0}" --guest-arg 1=20 --guest-arg 2=1
check "transport=pci: 21 reads, each completion an interrupt on the queue's MSI-X vector" \
	ok_with "20 requests on virtio-pci, MSI-X vector, 21 interrupts"
finish
