#!/bin/sh
# A real Linux kernel's virtio-blk driver on cvmm-microvm's vhost-user
# frontend and our cvmm-vhost-user-blk daemon: the guest reads the host's
# first sector and writes 64 KiB through with fsync; the host finds them in
# the image; that disk is on virtio-mmio (transport=mmio, found through
# the DSDT). The same boot has a
# second disk and the rng on virtio-pci, the default: Linux enumerates the PCI segment (ECAM from the MCFG
# table), binds virtio-pci to both with MSI-X vectors, reads and writes
# the PCI disk. The guest then idles until SIGTERM: exit 143.
. "${top_srcdir:-.}/tests/linux-guest/lib.sh"
require_linux_guest
plan 13

img=$TMP/disk.img
head -c 1048576 /dev/urandom >"$img"
s0=$(head -c 512 "$img" | md5sum | cut -d' ' -f1)
pimg=$TMP/pci.img
head -c 1048576 /dev/urandom >"$pimg"
p0=$(head -c 512 "$pimg" | md5sum | cut -d' ' -f1)
start_blk "$TMP/s" "$img"
s=$TMP/serial
start_vm "$s" --memory 256M --disk vhost_user=on,socket="$TMP/s",transport=mmio \
	--disk path="$pimg" --rng \
	--cmdline "$GUEST_CMDLINE cvmm.test=shell,rawblk,pci cvmm.end=wait"
wait_guest "$s" "cvmm-test: done at"
kill -TERM "$vmpid" 2>/dev/null
wait_vm
out=$s
echo "# /init at $(uptime_at "$s" init) s, done at $(uptime_at "$s" done) s of guest uptime"
check "the kernel reaches /init" grep -q "^cvmm-test: init at" "$s"
check "the virtio-mmio disk registered once (no 'can't request region')" \
	sh -c "! grep -q \"can't request region\" '$s'"
check "the guest reads the host's first sector through the daemon" \
	guest_says "$s" "vda sector0 $s0"
check "the guest's write and fsync complete" guest_says "$s" "ok rawblk"
yes "guest wrote this through vda" | head -c 65536 >"$TMP/want"
check "the host finds the guest's 64 KiB at 64 KiB in the image" \
	sh -c "dd if='$img' bs=4096 skip=16 count=16 2>/dev/null | cmp -s - '$TMP/want'"
# virtio-pci: modern device ids 0x1040 + type (blk 2, rng 4).
check "PCI: Linux finds the disk (1af4:1042) and binds virtio-pci" \
	grep -q "^cvmm-test: pci 0000:00:[0-9a-f.]* 0x1af4:0x1042 virtio-pci\$" "$s"
check "PCI: Linux finds the rng (1af4:1044) and binds virtio-pci" \
	grep -q "^cvmm-test: pci 0000:00:[0-9a-f.]* 0x1af4:0x1044 virtio-pci\$" "$s"
check "PCI: Linux reaches the extended config space (ECAM from the MCFG table)" \
	grep -q "^cvmm-test: pci 0000:00:[0-9a-f.]* config 4096 bytes\$" "$s"
check "PCI: the virtio devices' interrupts are MSI-X vectors" \
	grep -q "^cvmm-test: pci irq .*MSI.*virtio[0-9]*-config" "$s"
check "PCI: the disk's request queue interrupt fired" \
	grep -Eq "^cvmm-test: pci irq [0-9]+: [1-9][0-9]* .*MSI.*virtio[0-9]+-req" "$s"
check "PCI: the guest reads the host's first sector of the PCI disk" \
	guest_says "$s" "pcidisk sector0 $p0"
yes "guest wrote this through pcidisk" | head -c 65536 >"$TMP/pwant"
check "PCI: the host finds the guest's 64 KiB in the PCI disk's image" \
	sh -c "guest_says() { grep -qxF -- \"cvmm-test: \$2\" \"\$1\"; }; guest_says '$s' 'ok pci' && \
		dd if='$pimg' bs=4096 skip=16 count=16 2>/dev/null | cmp -s - '$TMP/pwant'"
check "SIGTERM ends the VM with 143" test "$rc" -eq 143
[ "$failed" -eq 0 ] || { sed 's/^/# serial: /' "$s" | tail -40; sed 's/^/# err: /' "$s.err"; }
finish
