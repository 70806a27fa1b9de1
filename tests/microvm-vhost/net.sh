#!/bin/sh
# --net vhost_user=on against cvmm-vhost-user-net on a TAP in a private
# network namespace: the CPL3 virtio-net guest ARPs for the host's address
# and sees the host kernel's reply (guest TX ring -> backend -> TAP -> host
# stack -> TAP -> backend -> guest RX ring), with the MAC the backend's
# config space gives.
. "${top_srcdir:-.}/tests/microvm-vhost/lib.sh"
require_kvm
require_guests virtio-net
VUNET=$top_builddir/examples/vhost-user-net/cvmm-vhost-user-net
need_cmd ip iproute2
if ! unshare -n true 2>/dev/null || ! [ -x "$VUNET" ]; then
	echo "1..0 # SKIP needs unshare -n and cvmm-vhost-user-net"
	exit 0
fi
plan 3

rc=0
out=$TMP/net.out
unshare -n sh -c 'ip tuntap add dev vtap0 mode tap &&
	ip addr add 10.0.2.1/24 dev vtap0 && ip link set vtap0 up || exit 99
	timeout 60 "$1" --socket "$2/s" --tap vtap0 --mac 02:00:00:00:00:07 >"$2/daemon.log" 2>&1 &
	d=$!
	i=0
	while ! [ -S "$2/s" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	shift 2
	rc=0
	timeout 30 "$@" || rc=$?
	kill $d
	wait $d
	exit $rc' sh "$VUNET" "$TMP" "$MICROVM" --log-level info --kernel "$GUESTS/virtio-net.img" --transport mmio \
	--guest-arg 0=0x0a000201 --guest-arg 1=0x0a00020f \
	--net vhost_user=on,socket="$TMP/s" >"$out" 2>&1 || rc=$?
check "the guest's ARP request is answered by the host through backend and TAP" \
	ok_with "virtio-net: ARP reply from"
check "the guest reads the backend's MAC from the config space" \
	grep -q "virtio-net: mac 2:0:0:0:0:7" "$out"
check "the VMM negotiated a virtio-net device with 2 queues" \
	grep -q "virtio-net (id 1), .* 2 queues, 12 config bytes" "$out"
finish
