#!/bin/sh
# A real Linux kernel on two vCPUs with Linux's virtio-net and vsock
# drivers: ping and TCP both ways (busybox nc, md5 compared) through a TAP
# in a private network namespace; vsock guest -> host and host -> guest
# through cvmm-microvm's hybrid unix socket. Then reboot (i8042): exit 0.
# On virtio-mmio (--transport mmio) until a run on PCI, the default, is
# verified here (a Linux boot takes 15+ minutes on this loaded machine).
. "${top_srcdir:-.}/tests/linux-guest/lib.sh"
require_linux_guest
PEER=$top_builddir/tests/microvm-virtio/vsock-peer
if ! unshare -n true 2>/dev/null || ! command -v ip >/dev/null || ! [ -x "$PEER" ] ||
   ! busybox nc --help >/dev/null 2>&1; then
	echo "1..0 # SKIP needs unshare -n, ip, busybox nc and tests/microvm-virtio/vsock-peer"
	exit 0
fi
plan 11

s=$TMP/serial
i=0
while [ $i -lt 4096 ]; do printf 'host to guest line %058d\n' $i; i=$((i + 1)); done >"$TMP/host-tx"
host_sum=$(md5sum <"$TMP/host-tx" | cut -d' ' -f1)
# The host's vsock end listens before the VM starts (SOCKET_1234, where
# the VMM connects the guest's connection to host port 1234): the guest
# reaches it whenever it gets there.
VSOCK_PEER_SECONDS=$VM_LIMIT timeout "$VM_LIMIT" "$PEER" "$TMP/v_1234" >"$TMP/peer.out" 2>&1 &
peer=$!
i=0
while ! [ -S "$TMP/v_1234" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
# Everything on the network side lives in the namespace: the TAP at
# 10.0.2.1, the two nc listeners, the VM. The sink on port 5555 reads its
# stdin from a FIFO that never ends (held open by fd 7, which the VM keeps):
# with </dev/null it half-closed at once, and the guest's busybox nc, which
# ends at the first EOF from its socket, stopped sending after 2 KiB (seen
# at load 15; the first run had got all of it).
export KERNEL INITRD MICROVM VM_LIMIT TMP GUEST_CMDLINE
: >"$s"
unshare -n sh -c '
	ip tuntap add dev vtap0 mode tap && ip addr add 10.0.2.1/24 dev vtap0 &&
	ip link set vtap0 up && ip link set lo up || exit 90
	mkfifo "$TMP/hold" && exec 7<>"$TMP/hold" || exit 90
	timeout "$VM_LIMIT" busybox nc -l -p 5555 <"$TMP/hold" >"$TMP/host-rx" 2>"$TMP/nc1.err" &
	echo $! >"$TMP/nc.pids"
	timeout "$VM_LIMIT" busybox nc -l -p 5556 <"$TMP/host-tx" >/dev/null 2>"$TMP/nc2.err" &
	echo $! >>"$TMP/nc.pids"
	exec timeout "$VM_LIMIT" "$MICROVM" --kernel "$KERNEL" --initrd "$INITRD" \
		--cpus 2 --memory 256M --transport mmio --serial file="$TMP/serial" \
		--net tap=vtap0,mac=02:00:00:00:00:0f --vsock cid=7,socket="$TMP/v" \
		--cmdline "$GUEST_CMDLINE cvmm.test=shell,vsock,net cvmm.end=reboot"
' >"$s.out" 2>"$s.err" &
vmpid=$!
vmserial=$s
# The peer and the namespace's listeners live under timeouts of VM_LIMIT:
# an aborted test ends them too.
trap 'stop_vm; kill "$peer" $(cat "$TMP/nc.pids" 2>/dev/null) 2>/dev/null; rm -rf "$TMP"' EXIT
prc2=1
# The guest says when it listens on vsock port 5000; then the host connects.
if wait_guest "$s" "vsock-tool: listening on port 5000"; then
	VSOCK_PEER_SECONDS=$STALL timeout "$STALL" "$PEER" --connect "$TMP/v" 5000 \
		>"$TMP/peer2.out" 2>&1 && prc2=0
fi
wait_vm
# The listeners end with their connection; one the guest never made does not.
for p in $(cat "$TMP/nc.pids" 2>/dev/null); do kill "$p" 2>/dev/null; done
kill "$peer" 2>/dev/null
prc=0
wait "$peer" || prc=$?
out=$s
echo "# /init at $(uptime_at "$s" init) s, done at $(uptime_at "$s" done) s of guest uptime"

check "the kernel reaches /init on 2 vCPUs" grep -q "^cvmm-test: init at" "$s"
check "two CPUs online" guest_says "$s" "cpus 2"
check "vsock: the guest sees CID 7" guest_says "$s" "vsock cid 7"
check "vsock guest -> host: the line arrives, the host's answer comes back" \
	sh -c "test $prc -eq 0 && grep -q 'hello from the guest' '$TMP/peer.out' && \
		grep -qx 'cvmm-test: vsock answer echo: hello from the guest' '$s'"
check "vsock host -> guest: CONNECT 5000, the guest echoes the host's line" \
	sh -c "test $prc2 -eq 0 && grep -q 'echo: hello from the host' '$TMP/peer2.out'"
check "virtio-net: the host answers the guest's ping" grep -q "^cvmm-test: ping [1-3] replies" "$s"
sum=$(md5sum <"$TMP/host-rx" 2>/dev/null | cut -d' ' -f1)
got=$(wc -c <"$TMP/host-rx" 2>/dev/null || echo 0)
check "virtio-net TCP guest -> host: $got bytes, md5 equal" \
	sh -c "test $got -gt 0 && grep -qx 'cvmm-test: net tx $sum $got bytes' '$s'"
check "virtio-net TCP host -> guest: $(wc -c <"$TMP/host-tx") bytes, md5 equal" \
	grep -qx "cvmm-test: net rx $host_sum $(wc -c <"$TMP/host-tx") bytes" "$s"
check "every step passed" sh -c "! grep -q '^cvmm-test: FAIL' '$s' && grep -q '^cvmm-test: ok net' '$s'"
check "reboot ends the VM with 0" test "$rc" -eq 0
check "the seccomp filters stayed quiet" sh -c "! grep -q seccomp '$s.err'"
[ "$failed" -eq 0 ] || { sed 's/^/# serial: /' "$s" | tail -40; sed 's/^/# err: /' "$s.err"; }
finish
