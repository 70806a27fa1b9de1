#!/bin/sh
# Live migration of a guest with a network card and a vsock connection
# (issue 12's test): a guest serving ARP, ICMP echo and vsock lines
# (tests/guests/snapshot-net.c) with a TAP, a vsock socket and a disk moves
# pre-copy from a VMM in one network namespace to a VMM in another (each
# with its own tap0 and, in a mount namespace of its own, its own vsock
# socket at the same path), then post-copy to a third. After each move the
# guest answers a ping through the new host's TAP and a line on the new
# host's vsock socket; a vsock connection held open across the move is
# reset, as Firecracker and Cloud Hypervisor document (the device sends
# VIRTIO_VSOCK_EVENT_TRANSPORT_RESET, the guest drops its connections, the
# host side of the old socket is closed): the guest says so on its serial.
. "${top_srcdir:-.}/tests/api/lib.sh"
. "$top_srcdir/tests/api/lib-netns.sh"
require_kvm
require_netns
if ! [ -f "$GUESTS/snapshot-net.img" ]; then
	echo "1..0 # SKIP $GUESTS/snapshot-net.img not built"
	exit 0
fi
plan 14
pids=""
trap 'for p in $pids; do kill -9 $p 2>/dev/null; done; rm -rf "$TMP"' EXIT
R() { timeout 30 "$REMOTE" --api-socket "$@"; }
vsock_line() { vsock_in "$@"; }
# hold_vsock PID TAG: a connection to the guest kept open; when it ends,
# $TMP/held.TAG says how ("reset" when the host side saw it closed)
hold_vsock() {
	nsenter -t "$1" -m python3 - "$TMP/vs/vsock" "$TMP/held.$2" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(60)
s.connect(sys.argv[1])
f = s.makefile("rwb", buffering=0)
f.write(b"CONNECT 5000\n")
ok = f.readline().startswith(b"OK ")
f.write(b"held\n")
ok = ok and f.readline() == b"echo: held\n"
open(sys.argv[2], "w").write("open\n" if ok else "broken\n")
try:
    b = f.readline()
    how = "reset" if not b else "data"
except OSError:
    how = "reset"
open(sys.argv[2], "a").write(how + "\n")
PY
	pids="$pids $!"
}
exited() { ! kill -0 "$1" 2>/dev/null; }

cat >"$TMP/vm.json" <<JSON
{"payload": {"kernel": "$GUESTS/snapshot-net.img"}, "platform": {"transport": "mmio"}, "memory": {"size": 67108864, "shared": true},
 "net": [{"tap": "tap0", "mac": "02:00:00:00:00:10", "id": "net0"}],
 "vsock": {"cid": 3, "socket": "$TMP/vs/vsock", "id": "vsock0"},
 "disks": [{"path": "$TMP/disk", "id": "disk0"}],
 "serial": {"mode": "File", "file": "$TMP/serial"}}
JSON
truncate -s 1M "$TMP/disk"
vmm_in_ns 0; v0=$vmm
R "$TMP/api.0" create "$TMP/vm.json" && R "$TMP/api.0" boot
check "the guest serves on its TAP and vsock socket" wait_for "$TMP/serial" "server: up" 20
first_host() { ping_in $v0 && vsock_line $v0 "before"; }
check "it answers a ping and a vsock line on the first host" first_host
hold_vsock $v0 a
eventually 20 grep -q open "$TMP/held.a"

# pre-copy to a VMM in another namespace
vmm_in_ns 1; v1=$vmm
R "$TMP/api.1" receive-migration receiver_url=unix:"$TMP/mig1.sock"
check "pre-copy: send-migration to the second namespace's VMM" \
	R "$TMP/api.0" send-migration destination_url=unix:"$TMP/mig1.sock"
check "the first VMM ends" eventually 30 exited $v0
check "pre-copy: the held vsock connection was reset (host side closed)" \
	eventually 20 grep -q reset "$TMP/held.a"
check "... and the guest saw the transport reset" wait_for "$TMP/serial" "vsock: transport reset" 20
check "pre-copy: the guest answers a ping through the second host's TAP" ping_in $v1
check "pre-copy: ... and a line on the second host's vsock socket" vsock_line $v1 "after precopy"

# post-copy to a third
hold_vsock $v1 b
eventually 20 grep -q open "$TMP/held.b"
# the third VMM opens the serial file anew: the second keeps the old one
mv "$TMP/serial" "$TMP/serial.before-postcopy"
vmm_in_ns 2; v2=$vmm
R "$TMP/api.2" receive-migration receiver_url=unix:"$TMP/mig2.sock",memory_mode=Postcopy
post_send() {
	R "$TMP/api.1" send-migration destination_url=unix:"$TMP/mig2.sock",memory_mode=Postcopy \
		2>"$TMP/post.err"
}
check "post-copy: send-migration to the third namespace's VMM" post_send
sed 's/^/# /' "$TMP/post.err" | tail -2
check "the second VMM ends" eventually 30 exited $v1
check "post-copy: the held vsock connection was reset" eventually 20 grep -q reset "$TMP/held.b"
check "... and the guest saw another transport reset" \
	wait_for "$TMP/serial" "vsock: transport reset" 20
check "post-copy: the guest answers a ping through the third host's TAP" ping_in $v2
check "post-copy: ... and a line on the third host's vsock socket" vsock_line $v2 "after postcopy"
R "$TMP/api.2" shutdown-vmm >/dev/null
wait_pid $v2 20
finish
