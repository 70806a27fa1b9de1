#!/bin/sh
# virtio-net on a TAP in a private network namespace: the CPL3 guest
# driver ARPs for the host's address and must see the host kernel's reply
# (transmit queue -> TAP -> host stack -> TAP -> receive queue).
. "${top_srcdir:-.}/tests/microvm-virtio/lib.sh"
require_kvm
require_guests virtio-net
need_cmd ip iproute2
if ! unshare -n true 2>/dev/null; then
	echo "1..0 # SKIP needs unshare -n (root or user namespaces)"
	exit 0
fi
plan 4

# in_netns TAP-FLAGS ARGS...: a namespace with TAP vtap0 at 10.0.2.1/24, then the VM.
in_netns() {
	flags=$1; shift
	f="$TMP/out.$n.$$"
	rc=0
	unshare -n sh -c 'ip tuntap add dev vtap0 mode tap '"$flags"' &&
		ip addr add 10.0.2.1/24 dev vtap0 && ip link set vtap0 up &&
		exec timeout 30 "$@"' sh "$MICROVM" --kernel "$GUESTS/virtio-net.img" --transport mmio \
		--guest-arg 0=0x0a000201 --guest-arg 1=0x0a00020f "$@" >"$f" 2>&1 || rc=$?
	out=$f
}

in_netns "" --net tap=vtap0,mac=02:00:00:00:00:07
check "the guest's ARP request is answered by the host through the TAP" \
	ok_with "virtio-net: ARP reply from"
check "the guest uses the MAC given with mac=" grep -q "virtio-net: mac 2:0:0:0:0:7" "$out"

in_netns "multi_queue" --net tap=vtap0,queues=2
check "queues=2 on a multi-queue TAP: the first pair carries traffic" \
	ok_with "virtio-net: ARP reply from"

# A multi-queue request on a single-queue TAP is a host error: one line, exit 1.
in_netns "" --net tap=vtap0,queues=2
check "queues=2 on a single-queue TAP: one error line naming --net tap, exit 1" sh -c \
	"test $rc -eq 1 && test \$(wc -l <'$out') -eq 1 && grep -q -- '--net: tap: cannot open' '$out'"
finish
