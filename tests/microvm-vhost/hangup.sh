#!/bin/sh
# A backend killed while the guest is in the middle of its I/O: the VM
# keeps running and the device reports DEVICE_NEEDS_RESET; with
# reconnect=1 a backend that comes back gets the rings again and the
# guest's I/O completes.
. "${top_srcdir:-.}/tests/microvm-vhost/lib.sh"
require_kvm
require_guests virtio-blk
plan 6

truncate -s 1M "$TMP/w"
start_blk "$TMP/s" "$TMP/w"
# Far more one-sector reads than fit in the 4 s the VM is given.
rc=0
timeout 4 "$MICROVM" --kernel "$BLK" --transport mmio --disk vhost_user=on,socket="$TMP/s" \
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

# The guest writes and reads back until told to stop on its serial port,
# so the daemon is always killed with requests in flight, however fast
# the machine is.
rm -f "$TMP/w"; truncate -s 1M "$TMP/w"
start_blk "$TMP/s" "$TMP/w"
mkfifo "$TMP/in"
exec 3<>"$TMP/in"
rc=0
timeout 60 "$MICROVM" --log-level info --kernel "$BLK" --transport mmio \
	--disk vhost_user=on,socket="$TMP/s",reconnect=1 \
	--guest-arg 0=5 --guest-arg 1=0 --guest-arg 2=2048 --guest-arg 3=9 <"$TMP/in" >"$TMP/h2" 2>&1 &
vm=$!
out=$TMP/h2
wait_for "$out" "writing until serial input" 20
sleep 0.3
# SIGKILL: the daemon gets no chance to finish what it took; its inflight
# record (INFLIGHT_SHMFD, kept by the VMM) lets the next one redo it.
kill -9 "$bpid"; wait "$bpid" 2>/dev/null; bpid=
wait_for "$out" "retrying every 1 s" 20
start_blk "$TMP/s" "$TMP/w"
wait_for "$out" "backend reconnected" 20
sleep 0.3
echo x >&3
wait $vm || rc=$?
exec 3>&-
check "reconnect=1: the VMM saw the hang-up and reconnected" \
	sh -c "grep -q 'retrying every 1 s' '$out' && grep -q 'backend reconnected' '$out'"
check "reconnect=1: every write read back right across the restart" \
	ok_with "read back, stopped by the host"
mkpattern "$TMP/want" 2048 9
check "reconnect=1: the disk holds exactly what the guest wrote" cmp "$TMP/w" "$TMP/want"
finish
