#!/bin/sh
# A backend killed while the guest is in the middle of its I/O: the VM
# keeps running and the device reports DEVICE_NEEDS_RESET; with
# reconnect=1 a backend that comes back gets the rings again and the
# guest's I/O completes.
. "${top_srcdir:-.}/tests/microvm-vhost/lib.sh"
require_kvm
require_guests virtio-blk
plan 5

truncate -s 1M "$TMP/w"
start_blk "$TMP/s" "$TMP/w"
# Far more one-sector reads than fit in the 4 s the VM is given.
rc=0
timeout 4 "$MICROVM" --kernel "$BLK" --disk vhost_user=on,socket="$TMP/s" \
	--guest-arg 0=4 --guest-arg 1=0 --guest-arg 2=100000000 >"$TMP/h1" 2>&1 &
vm=$!
sleep 1.5
stop_backend
wait $vm || rc=$?
out=$TMP/h1
check "backend killed: the VM keeps running until stopped (timeout's 124)" test "$rc" -eq 124
check "backend killed: the VMM reports DEVICE_NEEDS_RESET" \
	grep -q "backend hung up; virtio-blk DEVICE_NEEDS_RESET" "$out"
check "backend killed: the transport set NEEDS_RESET" grep -q "needs reset" "$out"

start_blk "$TMP/s" "$TMP/w"
rc=0
timeout 60 "$MICROVM" --log-level info --kernel "$BLK" \
	--disk vhost_user=on,socket="$TMP/s",reconnect=1 \
	--guest-arg 0=4 --guest-arg 1=0 --guest-arg 2=60000 >"$TMP/h2" 2>&1 &
vm=$!
sleep 1
# SIGKILL: the daemon gets no chance to finish what it took; its inflight
# record (INFLIGHT_SHMFD, kept by the VMM) lets the next one redo it.
kill -9 "$bpid"; wait "$bpid" 2>/dev/null; bpid=
sleep 1
start_blk "$TMP/s" "$TMP/w"
wait $vm || rc=$?
out=$TMP/h2
check "reconnect=1: the VMM saw the hang-up and reconnected" \
	sh -c "grep -q 'retrying every 1 s' '$out' && grep -q 'backend reconnected' '$out'"
check "reconnect=1: all 60000 requests complete" ok_with "60000 requests done"
finish
