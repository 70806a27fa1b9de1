#!/bin/sh
# A real Linux kernel's virtio-blk driver on cvmm-microvm's vhost-user
# frontend and our cvmm-vhost-user-blk daemon: the guest reads the host's
# first sector and writes 64 KiB through with fsync; the host finds them in
# the image. The guest then idles until SIGTERM: exit 143.
. "${top_srcdir:-.}/tests/linux-guest/lib.sh"
require_linux_guest
plan 5

img=$TMP/disk.img
head -c 1048576 /dev/urandom >"$img"
s0=$(head -c 512 "$img" | md5sum | cut -d' ' -f1)
start_blk "$TMP/s" "$img"
s=$TMP/serial
start_vm "$s" --memory 256M --disk vhost_user=on,socket="$TMP/s" \
	--cmdline "$GUEST_CMDLINE cvmm.test=shell,rawblk cvmm.end=wait"
wait_guest "$s" "cvmm-test: done at"
kill -TERM "$vmpid" 2>/dev/null
wait_vm
out=$s
echo "# /init at $(uptime_at "$s" init) s, done at $(uptime_at "$s" done) s of guest uptime"
check "the kernel reaches /init" grep -q "^cvmm-test: init at" "$s"
check "the guest reads the host's first sector through the daemon" \
	guest_says "$s" "vda sector0 $s0"
check "the guest's write and fsync complete" guest_says "$s" "ok rawblk"
yes "guest wrote this through vda" | head -c 65536 >"$TMP/want"
check "the host finds the guest's 64 KiB at 64 KiB in the image" \
	sh -c "dd if='$img' bs=4096 skip=16 count=16 2>/dev/null | cmp -s - '$TMP/want'"
check "SIGTERM ends the VM with 143" test "$rc" -eq 143
[ "$failed" -eq 0 ] || { sed 's/^/# serial: /' "$s" | tail -40; sed 's/^/# err: /' "$s.err"; }
finish
