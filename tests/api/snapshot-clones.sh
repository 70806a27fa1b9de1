#!/bin/sh
# Five clones of one snapshot at once, each answering on a network of its
# own: a guest serving ARP, ICMP echo and vsock lines (tests/guests/
# snapshot-net.c) with a TAP, a vsock socket, a disk image and a serial
# file is snapshotted through the API; five empty VMMs, each in a network
# namespace of its own with a TAP of another name, restore it (Shared
# memory) with vm.restore's overrides: network_overrides and vsock_override
# (Firecracker's fields), disk_overrides and serial (cvmm's). Each clone
# answers a ping in its namespace and a line on its own vsock socket, and
# says so on its own serial file only. Overrides that cannot be taken are
# refused with one line naming the field and leave no VM and no file; a
# clone that would share the writable image of a running one is refused.
. "${top_srcdir:-.}/tests/api/lib.sh"
. "$top_srcdir/tests/api/lib-netns.sh"
require_kvm
require_netns
if ! [ -f "$GUESTS/snapshot-net.img" ]; then
	echo "1..0 # SKIP $GUESTS/snapshot-net.img not built"
	exit 0
fi
plan 23
exec 3>&1  # the refusals' lines, as TAP comments
SNAP=$TMP/snap
pids=""
trap 'for p in $pids; do kill -9 $p 2>/dev/null; done; rm -rf "$TMP"' EXIT
R() { timeout 30 "$REMOTE" --api-socket "$1" "$2" ${3:+"$3"}; }
one_line_error() { # SOCK WANT ARG: a restore refused with one line holding WANT
	R "$1" restore "$3" >"$TMP/o" 2>"$TMP/e" && return 1
	sed 's/^/# /' "$TMP/e" >&3
	[ "$(wc -l <"$TMP/e")" -eq 1 ] && grep -q "^cvmm-remote: $2" "$TMP/e"
}

vsock_line() { # SOCKET LINE: connect to the guest's port 5000, send LINE, get "echo: LINE"
	timeout 20 python3 "$top_srcdir/tests/api/vsock-line.py" "$1" "$2"
}

cat >"$TMP/vm.json" <<JSON
{"payload": {"kernel": "$GUESTS/snapshot-net.img"}, "platform": {"transport": "mmio"}, "memory": {"size": 67108864},
 "net": [{"tap": "tap0", "mac": "02:00:00:00:00:10", "id": "net0"}],
 "vsock": {"cid": 3, "socket": "$TMP/vsock.0", "id": "vsock0"},
 "disks": [{"path": "$TMP/disk.0", "id": "disk0"}],
 "serial": {"mode": "File", "file": "$TMP/serial.0"}}
JSON
truncate -s 1M "$TMP/disk.0"
vmm_in_ns 0 tap0
src=$vmm
R "$TMP/api.0" create "$TMP/vm.json" && R "$TMP/api.0" boot
check "the source guest serves on its TAP and vsock socket" wait_for "$TMP/serial.0" "server: up" 20
check "the source answers a ping in its namespace" ping_in $src
check "the source answers a line on its vsock socket" vsock_line "$TMP/vsock.0" "hello source"
R "$TMP/api.0" pause
check "vm.snapshot of the paused source" R "$TMP/api.0" snapshot destination_url=file://"$SNAP"
# the source keeps running with its image: a clone may not take it as well
R "$TMP/api.0" resume

vmm_in_ns 1 ctap1
c1=$vmm
S=$TMP/api.1
base="source_url=file://$SNAP,memory_restore_mode=Shared,resume=on"
own1="network_overrides=[net0:ctap1],vsock_override=$TMP/vsock.1,serial=file=$TMP/serial.1"
check "network_overrides naming no card: 400, one line naming it" \
	one_line_error "$S" "400: .*network_overrides\[0\].*eth9" "$base,network_overrides=[eth9:ctap1]"
check "network_overrides with a name over IFNAMSIZ: 400, one line" \
	one_line_error "$S" "400: .*host_dev_name" "$base,network_overrides=[net0:a-very-long-tap-name]"
: >"$TMP/taken"
check "vsock_override onto an existing path: 400, one line" \
	one_line_error "$S" "400: .*vsock_override.*exists" "$base,vsock_override=$TMP/taken"
check "disk_overrides naming no disk: 400, one line" \
	one_line_error "$S" "400: .*disk_overrides\[0\].*nope" "$base,disk_overrides=[nope:$TMP/x]"
check "disk_overrides onto a missing image: 400, one line naming it" \
	one_line_error "$S" "400: .*$TMP/missing" "$base,$own1,disk_overrides=[disk0:$TMP/missing]"
check "console on a VM without one: 400, one line" \
	one_line_error "$S" "400: .*console" "$base,console=tty"
check "the source's writable image while the source runs: refused, one line" \
	one_line_error "$S" "400: .*in use by another process" "$base,$own1"
check "after the refusals: no VM, no serial file, no vsock socket" sh -c "
	! '$REMOTE' --api-socket '$S' info >/dev/null 2>&1 &&
	! test -e '$TMP/serial.1' && ! test -e '$TMP/vsock.1'"
R "$TMP/api.0" shutdown-vmm >/dev/null
wait_pid $src 20
check "the source's serial file saw its own lines only" sh -c "
	grep -q 'hello source' '$TMP/serial.0' && ! grep -q 'clone' '$TMP/serial.0'"

# five clones at once, each with everything of its own
ok=0
for k in 1 2 3 4 5; do
	[ $k -gt 1 ] && vmm_in_ns $k ctap$k && eval c$k=\$vmm
	cp "$TMP/disk.0" "$TMP/disk.$k"
	R "$TMP/api.$k" restore "$base,network_overrides=[net0:ctap$k],vsock_override=$TMP/vsock.$k,disk_overrides=[disk0:$TMP/disk.$k],serial=file=$TMP/serial.$k" &&
		ok=$((ok + 1))
done
check "five clones restored at once, each with its own TAP, vsock socket, image and serial file" \
	test $ok -eq 5
clone_answers() { # PID K
	ping_in "$1" && vsock_line "$TMP/vsock.$2" "hello clone $2"
}
for k in 1 2 3 4 5; do
	eval pid=\$c$k
	check "clone $k answers a ping in its namespace and a line on its vsock socket" \
		clone_answers $pid $k
done
check "each clone's serial file holds its own line and ping only" sh -c "
	for k in 1 2 3 4 5; do
		grep -q \"vsock: hello clone \$k\" '$TMP/serial.'\$k && grep -q 'net: echo' '$TMP/serial.'\$k &&
		test \$(grep -c 'hello clone' '$TMP/serial.'\$k) -eq 1 || exit 1
	done"
own_images() {
	for k in 1 2 3 4 5; do
		eval p=\$c$k
		ls -l /proc/$p/fd >"$TMP/fds"
		grep -q " $TMP/disk.$k\$" "$TMP/fds" && ! grep -q " $TMP/disk.0\$" "$TMP/fds" || return 1
	done
}
check "each clone holds its own image open (and none the source's)" own_images
check "vm.info of clone 3 shows its overrides" sh -c "
	'$REMOTE' --api-socket '$TMP/api.3' info >'$TMP/info.3' && grep -q '\"ctap3\"' '$TMP/info.3' &&
	grep -q '$TMP/vsock.3' '$TMP/info.3' && grep -q '$TMP/disk.3' '$TMP/info.3'"
for k in 1 2 3 4 5; do
	eval pid=\$c$k
	R "$TMP/api.$k" shutdown-vmm >/dev/null 2>&1
	wait_pid $pid 20
done
check "every clone's VMM ended and removed its vsock socket" sh -c "
	for k in 1 2 3 4 5; do ! test -e '$TMP/vsock.'\$k || exit 1; done"
finish
