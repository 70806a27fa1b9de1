#!/bin/sh
# The guest's used-buffer interrupts go straight from the backend to KVM
# (the vring call fd is the device's irqfd): the VMM's virtio thread does
# not wake per request. Counted while the guest writes and reads back one
# sector at a time: the daemon's threads wake for every request, the
# virtio thread for hardly any. Also after the daemon is killed and a new
# one takes over (reconnect=1: it gets the same irqfd), and with
# qemu-storage-daemon. The virtio-blk guest polls its used ring; that the
# backend's interrupt reaches the guest, with the used bit in
# InterruptStatus, the virtio-rng guest checks against vu-rng (a
# vhost-user virtio-rng backend) on its I/O APIC pin.
. "${top_srcdir:-.}/tests/microvm-vhost/lib.sh"
require_kvm
require_guests virtio-blk virtio-rng
need_cmd qemu-storage-daemon qemu-system-common
plan 8

# The window lasts until the daemon's threads switched DSW times (a few
# per request: some 2000 requests); the virtio thread may wake WAKES times
# in it (with a hop per interrupt it woke once per request: 900 to 2000
# times in such a window on the development machine).
DSW=8000
WAKES=100

# switches DIR...: context switches (voluntary and not) of those tasks.
switches() {
	cat "$@" 2>/dev/null | awk '/ctxt_switches/ { n += $2 } END { print n + 0 }'
}

# virtio_task PID: /proc/PID/task/TID of the thread named "virtio".
virtio_task() {
	for t in /proc/"$1"/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = virtio ] && { echo "$t"; return 0; }
	done
	return 1
}

# more_than PID N: the daemon PID's threads switched more than N times.
more_than() {
	test "$(switches /proc/"$1"/task/*/status)" -gt "$2"
}

# window NAME: while the guest runs, the daemon switches DSW times or
# more; sets $dwin and $vwin to the daemon's and the virtio thread's
# switches meanwhile.
window() {
	v0=$(switches "$vt/status")
	d0=$(switches /proc/"$bpid"/task/*/status)
	if ! eventually 120 more_than "$bpid" $((d0 + DSW)); then
		echo "# $1: the daemon did not switch $DSW times in 120 s"
	fi
	vwin=$(($(switches "$vt/status") - v0))
	dwin=$(($(switches /proc/"$bpid"/task/*/status) - d0))
	echo "# $1: daemon $dwin context switches, VMM virtio thread $vwin"
}

# start_vm EXTRA-DISK-OPTIONS: the guest in mode 5 on $TMP/s, serial
# input from $TMP/in; sets $vm (timeout's pid) and $vt.
start_vm() {
	rm -f "$TMP/in"
	mkfifo "$TMP/in"
	exec 3<>"$TMP/in"
	timeout 300 "$MICROVM" --log-level info --kernel "$BLK" --transport mmio \
		--disk vhost_user=on,socket="$TMP/s$1" \
		--guest-arg 0=5 --guest-arg 1=0 --guest-arg 2=64 --guest-arg 3=9 \
		<"$TMP/in" >"$out" 2>&1 &
	vm=$!
	wait_for "$out" "writing until serial input" 60
	vt=$(virtio_task $(cat /proc/$vm/task/$vm/children))
	[ -n "$vt" ] || echo "# no thread named virtio"
}

# stop_vm: the guest stops at its next look at the serial port.
stop_vm() {
	echo x >&3
	rc=0
	wait "$vm" || rc=$?
	exec 3>&-
}

# direct: the window was long enough and the virtio thread hardly woke.
direct() {
	test -n "$vt" -a "$vwin" -lt "$WAKES" -a "$dwin" -gt "$DSW"
}

truncate -s 1M "$TMP/w"
out=$TMP/o1
start_blk "$TMP/s" "$TMP/w"
start_vm ""
window blk
check "cvmm-vhost-user-blk: the virtio thread sleeps through the requests" direct
stop_vm
stop_backend
check "cvmm-vhost-user-blk: the guest's I/O was right" ok_with "read back, stopped by the host"

# SIGKILL, and a new daemon: it must signal the guest directly as well.
truncate -s 0 "$TMP/w"; truncate -s 1M "$TMP/w"
out=$TMP/o2
start_blk "$TMP/s" "$TMP/w"
start_vm ",reconnect=1"
kill -9 "$bpid"; wait "$bpid" 2>/dev/null; bpid=
wait_for "$out" "retrying every 1 s" 20
start_blk "$TMP/s" "$TMP/w"
wait_for "$out" "backend reconnected" 20
window "after reconnect"
check "reconnect=1: the new daemon signals the guest directly too" direct
stop_vm
stop_backend
check "reconnect=1: the guest's I/O was right across the restart" \
	ok_with "read back, stopped by the host"

# The device is slot 0: GSI 5. The guest routes pin 5 to a vector and
# waits for it in the LAPIC IRR, then reads InterruptStatus.
rm -f "$TMP/r"
"$top_builddir/tests/microvm-vhost/vu-rng" "$TMP/r" >"$TMP/rng.log" 2>&1 &
bpid=$!
wait_sock "$TMP/r"
run_vm out --kernel "$GUESTS/virtio-rng.img" --transport mmio --vhost-user type=4,socket="$TMP/r",queues=1 \
	--guest-arg 1=5
check "vhost-user rng: the backend's interrupt arrives on GSI 5 with InterruptStatus' used bit" \
	ok_with "interrupt on pin 5 (vector 0x41 pending, ISR 1)"
run_vm out --kernel "$GUESTS/virtio-rng.img" --transport mmio --vhost-user type=4,socket="$TMP/r",queues=1 \
	--guest-arg 1=6
check "vhost-user rng: and not on GSI 6, where there is no device (exit 0x37)" \
	test "$rc" -eq $((0x37))
stop_backend

truncate -s 0 "$TMP/w"; truncate -s 1M "$TMP/w"
out=$TMP/o3
start_qsd "$TMP/s" "$TMP/w"
start_vm ""
window qsd
check "qemu-storage-daemon: the virtio thread sleeps through the requests" direct
stop_vm
check "qemu-storage-daemon: the guest's I/O was right" ok_with "read back, stopped by the host"
stop_backend
finish
