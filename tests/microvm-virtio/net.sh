#!/bin/sh
# virtio-net on a TAP in a private network namespace: the CPL3 guest
# driver ARPs for the host's address and must see the host kernel's reply
# (transmit queue -> TAP -> host stack -> TAP -> receive queue).
. "${top_srcdir:-.}/tests/microvm-virtio/lib.sh"
require_kvm
require_guests virtio-net virtio-net-mq
need_cmd ip iproute2
if ! unshare -n true 2>/dev/null; then
	echo "1..0 # SKIP needs unshare -n (root or user namespaces)"
	exit 0
fi
plan 8

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

# Multiqueue on virtio-pci: vCPU k sends on pair k and takes each
# completion from its queue's own MSI-X vector (arg 3 bit 1: the handler
# checks the vCPU each interrupt reached; bit 0: all vectors to vCPU 0).
# mq PAIRS ARG3: sets out and rc; the TAP's rx_packets in $out.rx.
mq() {
	out="$TMP/out.mq.$1.$2"
	rc=0
	unshare -n sh -c 'ip tuntap add dev vtap0 mode tap multi_queue && ip link set vtap0 up &&
		timeout 60 "$@"; r=$?
		sed -n "s/^ *vtap0: *[0-9]* *\([0-9]*\) .*/\1/p" /proc/net/dev >"$0.rx"; exit $r' \
		"$out" "$MICROVM" --kernel "$GUESTS/virtio-net-mq.img" --cpus 2 --net tap=vtap0,queues=2 \
		--log-level info --guest-arg 0="$bar" --guest-arg 1=300 --guest-arg 2="$1" \
		--guest-arg 3="$2" </dev/null >"$out" 2>&1 || rc=$?
}
out="$TMP/out.bar"
timeout 30 "$MICROVM" --kernel "$GUESTS/virtio-net-mq.img" --log-level info \
	--guest-arg 2=0 </dev/null >"$out" 2>&1 || true
bar=$(sed -n 's/.*32-bit BAR window \(0x[0-9a-f]*\) .*/\1/p' "$out")
mq 2 2
check "queues=2 on virtio-pci: each vCPU's frames complete on its own queue's MSI-X vector, on that vCPU" \
	ok_with "interrupts 300 300; misrouted 0, stray 0"
check "the TAP took every frame of both pairs" test "$(cat "$out.rx" 2>/dev/null || echo 0)" -ge 600
mq 2 3
check "both queues' vectors sent to vCPU 0: every interrupt arrives there" \
	ok_with "interrupts 300 300; misrouted 0, stray 0"
mq 1 2
check "one pair of two: its vector alone fires" ok_with "1 pair(s), 300 frames each, vectors to their senders; interrupts 300;"
finish
