#!/bin/sh
# Hybrid virtio-vsock: a CPL3 guest driver connects to the host's port 1234;
# the VMM connects that to the unix socket SOCKET_1234 where vsock-peer
# listens; a line goes each way. Without a listener the guest gets RST.
# The other way: vsock-peer --connect asks the VMM's socket for the guest's
# port 5000 ("CONNECT 5000"), where the guest listens and echoes a line.
. "${top_srcdir:-.}/tests/microvm-virtio/lib.sh"
require_kvm
require_guests virtio-vsock
PEER=$top_builddir/tests/microvm-virtio/vsock-peer
if ! [ -x "$PEER" ]; then
	echo "1..0 # SKIP $PEER not built"
	exit 0
fi
plan 8

sock=$TMP/vsock
timeout 30 "$PEER" "${sock}_1234" >"$TMP/peer.out" 2>&1 &
peer=$!
i=0
while ! [ -S "${sock}_1234" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
run_vm out --kernel "$GUESTS/virtio-vsock.img" --transport mmio --vsock cid=7,socket="$sock" --guest-arg 0=1234
prc=0
wait $peer || prc=$?
check "the guest reads its config: CID 7" grep -q "guest CID 7" "$out"
check "guest to host: the host program reads the guest's line" sh -c \
	"test $prc -eq 0 && grep -qx 'hello from the vsock guest' '$TMP/peer.out'"
check "host to guest: the guest reads the host's answer" \
	ok_with "virtio-vsock: got: echo: hello from the vsock guest"
check "the VMM removes its listening socket at exit" test ! -e "$sock"

run_vm out --kernel "$GUESTS/virtio-vsock.img" --transport mmio --vsock cid=7,socket="$sock" --guest-arg 0=999
check "nobody listening on port 999: the guest's request gets RST" sh -c \
	"test $rc -eq $((0x63)) && grep -q 'connection refused' '$out'"

rm -f "$sock"
timeout 30 "$PEER" --connect "$sock" 5000 >"$TMP/peer2.out" 2>&1 &
peer=$!
run_vm out --kernel "$GUESTS/virtio-vsock.img" --transport mmio --vsock cid=9,socket="$sock" \
	--guest-arg 0=5000 --guest-arg 1=1
prc=0
wait $peer || prc=$?
check "host to guest connection: the guest accepts on port 5000 and reads the host's line" \
	ok_with "got: hello from the host"
check "host to guest connection: OK H, then the guest's answer reaches the host program" sh -c \
	"test $prc -eq 0 && grep -q '^vsock-peer: OK [0-9]' '$TMP/peer2.out' && \
	 grep -qx 'echo: hello from the host' '$TMP/peer2.out'"

: >"$TMP/taken"
run_vm out --kernel "$GUESTS/virtio-vsock.img" --transport mmio --vsock cid=7,socket="$TMP/taken"
check "an existing socket path: one error line, exit 1" sh -c \
	"test $rc -eq 1 && test \$(wc -l <'$out') -eq 1 && grep -q -- \"--vsock: socket: '$TMP/taken' already exists\" '$out'"
finish
