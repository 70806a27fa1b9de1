#!/bin/sh
# Issue 12's test "with everything at once": one guest (tests/guests/
# migrate-all.c: a net and vsock server, a disk writer with four requests
# always in flight, a memory checker, each on a vCPU of its own) moves
# between VMMs in two network namespaces joined by a veth pair, migration
# over TCP across it; each namespace has its own tap0 and (mount
# namespace) its own vsock socket at one path. Moves: pre-copy A -> B over
# two connections, post-copy B -> A, and at the end local (memfds over a
# unix socket, tap0's fd and the vsock listener passed along) inside B,
# first to a destination that refuses (the source runs on). After
# each: the guest answers a ping through the new namespace's TAP and a
# line on its vsock socket, its disk writer and memory checker go on with
# no MISMATCH, and the paused VM's disk image, read on the host, holds
# every sector as one pass wrote it. Then the link cut (the veth brought
# down, link_timeout_s=3, tc shaping so the cut lands mid-way): a
# pre-copy fails with one line and the source runs on; a post-copy
# pauses on both sides (postcopy-paused) and, the link back up, a resume
# brings the rest and the guest goes on as after every move.
# docs/migration.md.
. "${top_srcdir:-.}/tests/api/lib.sh"
. "$top_srcdir/tests/api/lib-mig.sh"
. "$top_srcdir/tests/api/lib-netns.sh"
require_kvm
require_python
require_netns
if ! [ -f "$GUESTS/migrate-all.img" ]; then
	echo "1..0 # SKIP $GUESTS/migrate-all.img not built"
	exit 0
fi
need_cmd tc iproute2
pids=""
trap 'for p in $pids; do kill -9 $p 2>/dev/null; done; rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM
netns_new a; A=$ns
netns_new b; B=$ns
# the migration link: mig0 in each, 10.9.0.1 (A) and 10.9.0.2 (B)
if ! nsenter -t $A -n ip link add mig0 type veth peer name mig0 netns $B 2>"$TMP/veth.err"; then
	echo "1..0 # SKIP no veth pairs here: $(head -1 "$TMP/veth.err")"
	exit 0
fi
nsenter -t $A -n ip addr add 10.9.0.1/24 dev mig0 && nsenter -t $A -n ip link set mig0 up &&
	nsenter -t $B -n ip addr add 10.9.0.2/24 dev mig0 && nsenter -t $B -n ip link set mig0 up ||
	{ echo "Bail out! veth set-up failed"; exit 1; }
plan 60
exec 3>&1  # the disk checks' lines, as TAP comments

SECTORS=64
truncate -s 1M "$TMP/disk"
cat >"$TMP/vm.json" <<JSON
{"payload": {"kernel": "$GUESTS/migrate-all.img"}, "cpus": {"boot_vcpus": 3, "max_vcpus": 3},
 "memory": {"size": 67108864, "shared": true},
 "net": [{"tap": "tap0", "mac": "02:00:00:00:00:10", "id": "net0", "transport": "mmio"}],
 "vsock": {"cid": 3, "socket": "$TMP/vs/vsock", "id": "vsock0", "transport": "mmio"},
 "disks": [{"path": "$TMP/disk", "id": "disk0", "transport": "mmio"}],
 "serial": {"mode": "File", "file": "$TMP/serial"}}
JSON
last_blk() { grep -a '^blk pass ' "$TMP/serial" | tail -1 | cut -d' ' -f3; }
blk_past() { # N: the disk writer printed a pass beyond N, no MISMATCH
	p=$(last_blk)
	[ -n "$p" ] && [ "$p" -gt "$1" ] && ! grep -aq MISMATCH "$TMP/serial"
}
# disk_ok SOCK: with the VM on SOCK paused (its requests finished: the file
# stays as it is), every sector holds the pass that wrote it
stable() { cmp -s "$TMP/disk" "$TMP/disk.copy" || { cp "$TMP/disk" "$TMP/disk.copy"; false; }; }
disk_ok() {
	R "$1" pause || return 1
	cp "$TMP/disk" "$TMP/disk.copy"
	eventually 10 stable
	python3 "$top_srcdir/tests/microvm/blk-check.py" "$TMP/disk.copy" $SECTORS >"$TMP/blk.out" 2>&1
	ok=$?
	sed 's/^/# /' "$TMP/blk.out" >&3
	R "$1" resume && return $ok
}
# all_well WHAT NS SOCK: after a move to the VMM on SOCK in NS, checks
all_well() {
	check "$1: the guest answers a ping through this namespace's TAP" ping_in "$2"
	check "$1: ... and a line on this namespace's vsock socket" vsock_in "$2" "after $1"
	check "$1: the disk writer goes on, every check passing" eventually 30 blk_past "${blk:-0}"
	check "$1: the memory checker counts on, every byte in place" \
		eventually 30 counting_past "${round:-0}"
	check "$1: the disk image (paused, read on the host) holds one pass per sector" disk_ok "$3"
}
# new_serial: the next VMM opens the serial file anew (the last keeps its)
new_serial() {
	blk=$(last_blk) round=$(last_round)
	mv "$TMP/serial" "$TMP/serial.$1"
}

vmm_in $A 0 --guest-arg 0=0x0a00020f; v0=$vmm
R "$TMP/api.0" create "$TMP/vm.json" && R "$TMP/api.0" boot
check "the guest serves on its TAP and vsock socket" wait_for "$TMP/serial" "server: up" 20
check "... writes its disk and checks its memory" \
	sh -c ". '$top_srcdir/tests/microvm/lib.sh'; wait_for '$TMP/serial' 'blk pass 16' 20 &&
	       wait_for '$TMP/serial' 'round 16' 20"
all_well "at first" $A "$TMP/api.0"

# 1. pre-copy A -> B over the veth, two connections
vmm_in $B 1 --guest-arg 0=0x0a00020f; v1=$vmm
R "$TMP/api.1" receive-migration receiver_url=tcp:10.9.0.2:7401
new_serial 1
check "pre-copy A -> B over the veth (two connections): send-migration returns" \
	R "$TMP/api.0" send-migration destination_url=tcp:10.9.0.2:7401,connections=2
check "... the source VMM ends (status 0)" ends_ok $v0
all_well "pre-copy" $B "$TMP/api.1"

# 2. post-copy B -> A
vmm_in $A 2 --guest-arg 0=0x0a00020f --event-monitor path="$TMP/ev.2"; v2=$vmm
R "$TMP/api.2" receive-migration receiver_url=tcp:10.9.0.1:7402,memory_mode=Postcopy
new_serial 2
check "post-copy B -> A over the veth: send-migration returns" \
	R "$TMP/api.1" send-migration destination_url=tcp:10.9.0.1:7402,memory_mode=Postcopy
check "... the source VMM ends (status 0)" ends_ok $v1
check "... the destination completes (validated)" eventually 30 progress_is "$TMP/api.2" completed
all_well "post-copy" $A "$TMP/api.2"

# (3., the local move, is 6. below: 5. resumes from a VM that came by
# post-copy, so the VM in A stays move 2's until then)

link_up() { nsenter -t "$1" -n ip link show mig0 | grep -q LOWER_UP; }
# 4. pre-copy A -> B cut mid-way (A's veth shaped to 2 Mbit/s, then
# down): the source gives up after 3 s (link_timeout_s) with one line and
# its guest runs on; the destination fails and runs nothing
nsenter -t $A -n tc qdisc add dev mig0 root tbf rate 2mbit burst 32kb latency 400ms
vmm_in $B 4 --guest-arg 0=0x0a00020f; v4=$vmm
R "$TMP/api.4" receive-migration receiver_url=tcp:10.9.0.2:7404,link_timeout_s=3
blk=$(last_blk) round=$(last_round)
R "$TMP/api.2" send-migration destination_url=tcp:10.9.0.2:7404,link_timeout_s=3 \
	>/dev/null 2>"$TMP/send.4" &
sender=$!
pids="$pids $sender"
check "pre-copy A -> B through the shaped veth: under way" \
	eventually 30 progress_is "$TMP/api.2" precopy
nsenter -t $A -n ip link set mig0 down
timeout 30 sh -c "while kill -0 $sender 2>/dev/null; do sleep 0.1; done"
rc=0
wait $sender || rc=$?
sed 's/^/# /' "$TMP/send.4" | tail -2
check "link cut (A's veth down) mid-way: send-migration fails with one line (status $rc)" \
	sh -c "test $rc -ne 0 && tail -1 '$TMP/send.4' | grep -q '^cvmm-remote: send-migration: failed: '"
check "... the source VM runs again (its progress: failed)" \
	sh -c ". '$top_srcdir/tests/api/lib.sh'; . '$top_srcdir/tests/api/lib-mig.sh'
	       state_is '$TMP/api.2' Running && progress_is '$TMP/api.2' failed"
check "... the destination fails too, and runs nothing" \
	eventually 20 progress_is "$TMP/api.4" failed
nsenter -t $A -n tc qdisc del dev mig0 root
nsenter -t $A -n ip link set mig0 up
eventually 10 link_up $A
R "$TMP/api.4" shutdown-vmm >/dev/null
all_well "after the cut pre-copy" $A "$TMP/api.2"

# 5. post-copy A -> B cut mid-push: A's veth shaped to 8 Mbit/s so the
# push lasts, then down; both sides give the link up after 3 s and pause
# (postcopy-paused), the source keeping its paused copy
nsenter -t $A -n tc qdisc add dev mig0 root tbf rate 8mbit burst 32kb latency 400ms
vmm_in $B 5 --guest-arg 0=0x0a00020f --event-monitor path="$TMP/ev.5"; v5=$vmm
R "$TMP/api.5" receive-migration receiver_url=tcp:10.9.0.2:7405,memory_mode=Postcopy,link_timeout_s=3
new_serial 5
R "$TMP/api.2" send-migration \
	destination_url=tcp:10.9.0.2:7405,memory_mode=Postcopy,link_timeout_s=3 \
	>/dev/null 2>"$TMP/send.5" &
sender=$!
pids="$pids $sender"
check "post-copy A -> B through the shaped veth: the destination runs the guest" \
	eventually 30 progress_is "$TMP/api.5" postcopy
nsenter -t $A -n ip link set mig0 down
check "link cut (A's veth down) mid-push: the source says postcopy-paused (validated)" \
	eventually 20 progress_is "$TMP/api.2" postcopy-paused
check "... the destination says postcopy-paused (validated)" \
	eventually 20 progress_is "$TMP/api.5" postcopy-paused
timeout 20 sh -c "while kill -0 $sender 2>/dev/null; do sleep 0.1; done"
sed 's/^/# /' "$TMP/send.5" | tail -2
check "... cvmm-remote send-migration fails, its last line naming the pause" \
	sh -c "tail -1 '$TMP/send.5' | grep -q '^cvmm-remote: send-migration: postcopy-paused: '"
check "... both event monitors: postcopy-paused" sh -c "grep -q postcopy-paused '$TMP/ev.2' &&
	grep -q postcopy-paused '$TMP/ev.5'"
check "... the source VM stays Paused, the destination's Running" \
	sh -c ". '$top_srcdir/tests/api/lib.sh'; . '$top_srcdir/tests/api/lib-mig.sh'
	       state_is '$TMP/api.2' Paused && state_is '$TMP/api.5' Running"
# the link back up: a resume over it (the same port) brings the rest;
# the source, itself the destination of move 2's post-copy, ends
nsenter -t $A -n tc qdisc del dev mig0 root
nsenter -t $A -n ip link set mig0 up
eventually 10 link_up $A
check "link back up: receive-migration resume=on on the paused destination" \
	R "$TMP/api.5" receive-migration receiver_url=tcp:10.9.0.2:7405,resume=on,link_timeout_s=3
resumed() {
	R "$TMP/api.2" send-migration destination_url=tcp:10.9.0.2:7405,resume=on,link_timeout_s=3 \
		>/dev/null 2>"$TMP/resume.5"
}
check "... send-migration resume=on: the rest goes, cvmm-remote returns at the end" resumed ||
	{ tail -3 "$TMP/vmm.2.out"; tail -3 "$TMP/vmm.5.out"; } | sed 's/^/# /'
sed 's/^/# /' "$TMP/resume.5" | tail -2
check "... the source VMM ends (status 0)" ends_ok $v2
check "... the destination completes: it has every page (validated)" \
	eventually 30 progress_is "$TMP/api.5" completed
check "... the destination's events: postcopy-paused, then postcopy-resumed" \
	sh -c "grep -n postcopy '$TMP/ev.5' | tail -1 | grep -q postcopy-resumed"
all_well "post-copy resumed" $B "$TMP/api.5"

# 6. local inside B (memfds over a unix socket): the source passes its
# TAP's fd and its vsock listener with them (tap0 takes one owner, the
# socket path exists); the destination builds its devices on those. First
# a destination that refuses (a VM was created there meanwhile): it had
# the fds and closed them; the source's guest runs on, on its own.
vmm_in $B 6r; v6r=$vmm
R "$TMP/api.6r" receive-migration receiver_url=unix:"$TMP/refuse.sock"
printf '{"payload": {"kernel": "%s"}, "memory": {"size": 67108864}}' "$GUESTS/migrate-all.img" \
	>"$TMP/other.json"
R "$TMP/api.6r" create "$TMP/other.json"
local_refused() {
	R "$TMP/api.5" send-migration destination_url=unix:"$TMP/refuse.sock",local=on \
		2>"$TMP/send.6r" && return 1
	sed 's/^/# /' "$TMP/send.6r" >&3
	tail -1 "$TMP/send.6r" | grep -q "^cvmm-remote: send-migration: .*refused"
}
check "local inside B to a destination that refuses: fails with one line" local_refused
check "... the source VM runs again (its progress: failed)" \
	sh -c ". '$top_srcdir/tests/api/lib.sh'; . '$top_srcdir/tests/api/lib-mig.sh'
	       state_is '$TMP/api.5' Running && progress_is '$TMP/api.5' failed"
runs_on() { ping_in $B && vsock_in $B "after the refused local move"; }
check "... and answers a ping through its TAP and a line on its vsock socket" runs_on
R "$TMP/api.6r" shutdown-vmm >/dev/null
vmm_in $B 6 --guest-arg 0=0x0a00020f; v6=$vmm
R "$TMP/api.6" receive-migration receiver_url=unix:"$TMP/local.sock"
new_serial 6
check "local inside B (tap0 and the vsock listener passed as fds): send-migration returns" \
	R "$TMP/api.5" send-migration destination_url=unix:"$TMP/local.sock",local=on
check "... the source VMM ends (status 0)" ends_ok $v5
check "... the destination completes (validated)" eventually 30 progress_is "$TMP/api.6" completed
check "... the vsock socket path is still there (the source left it)" \
	nsenter -t $B -m test -S "$TMP/vs/vsock"
all_well "local" $B "$TMP/api.6"

R "$TMP/api.6" shutdown-vmm >/dev/null
check "no MISMATCH on any serial" sh -c "! grep -a MISMATCH '$TMP'/serial*"
finish
