#!/bin/sh
# The CPL3 virtio-blk test guest through --disk vhost_user=on against our
# cvmm-vhost-user-blk and against qemu-storage-daemon: the guest's writes
# are checked on the host with cmp.
. "${top_srcdir:-.}/tests/microvm-vhost/lib.sh"
require_kvm
require_guests virtio-blk
need_cmd qemu-storage-daemon qemu-system-common
plan 11

for backend in blk qsd; do
	mkpattern "$TMP/disk" 256 5
	cp "$TMP/disk" "$TMP/orig"
	start_$backend "$TMP/s" "$TMP/disk"
	run_vm out --kernel "$BLK" --transport mmio --disk vhost_user=on,socket="$TMP/s" \
		--guest-arg 0=1 --guest-arg 1=0 --guest-arg 2=256 --guest-arg 3=5
	check "$backend: guest reads all 256 sectors with the host's pattern" \
		ok_with "read 256 sectors ok"
	stop_backend

	# A wrong seed must be noticed: the check cannot pass by accident.
	start_$backend "$TMP/s" "$TMP/disk"
	run_vm out --kernel "$BLK" --transport mmio --disk vhost_user=on,socket="$TMP/s" \
		--guest-arg 0=1 --guest-arg 1=0 --guest-arg 2=8 --guest-arg 3=6
	check "$backend: guest notices content that differs from the pattern" \
		sh -c "test $rc -eq $((0x16))"
	stop_backend

	truncate -s 0 "$TMP/w"
	truncate -s 1M "$TMP/w"
	start_$backend "$TMP/s" "$TMP/w"
	run_vm out --kernel "$BLK" --transport mmio --disk vhost_user=on,socket="$TMP/s" \
		--guest-arg 0=2 --guest-arg 1=10 --guest-arg 2=100 --guest-arg 3=9
	check "$backend: guest writes 100 sectors and reads them back" ok_with "wrote 100 sectors ok"
	stop_backend
	mkpattern "$TMP/exp" 110 9
	sectors "$TMP/exp" 10 100 >"$TMP/exp.part"
	sectors "$TMP/w" 10 100 >"$TMP/w.part"
	check "$backend: the host file holds the guest's pattern (cmp)" cmp "$TMP/exp.part" "$TMP/w.part"
	check "$backend: sectors around the written range stay zero" sh -c \
		"test \"\$(dd if='$TMP/w' bs=512 count=10 2>/dev/null | tr -d '\\000' | wc -c)\" -eq 0 && \
		 test \"\$(dd if='$TMP/w' bs=512 skip=110 2>/dev/null | tr -d '\\000' | wc -c)\" -eq 0"
done

# The generic form: any device id, here 2 (block) with one queue.
mkpattern "$TMP/disk" 64 3
start_blk "$TMP/s" "$TMP/disk"
run_vm out --kernel "$BLK" --transport mmio --vhost-user type=2,socket="$TMP/s",queues=1 \
	--guest-arg 0=1 --guest-arg 1=0 --guest-arg 2=64 --guest-arg 3=3
check "--vhost-user type=2: the guest reads the pattern" ok_with "read 64 sectors ok"
stop_backend
finish
