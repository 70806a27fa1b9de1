#!/bin/sh
# cvmm-remote against a live cvmm-microvm: each command, its JSON answer
# or its one-line error.
. "${top_srcdir:-.}/tests/api/lib.sh"
require_kvm
plan 29
SOCK=$TMP/api.sock
R() { timeout 20 "$REMOTE" --api-socket "$SOCK" "$@"; }
# one_line_error STATUS CMD...: exit 1 and one stderr line "cvmm-remote: STATUS: ..."
one_line_error() {
	want=$1; shift
	R "$@" >"$TMP/o" 2>"$TMP/e" && return 1
	[ "$(wc -l <"$TMP/e")" -eq 1 ] && grep -q "^cvmm-remote: $want" "$TMP/e"
}
json_has() { R "$1" >"$TMP/j" && grep -q -- "$2" "$TMP/j"; }

timeout 120 "$MICROVM" --api-socket "$SOCK" --guest-arg 0=1 >"$TMP/vmm.out" 2>&1 &
vmm=$!
i=0
while ! [ -S "$SOCK" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
truncate -s 1M "$TMP/disk.img"
cat >"$TMP/vm.json" <<JSON
{"payload": {"kernel": "$GUESTS/hello.img"}, "memory": {"size": 67108864},
 "serial": {"mode": "File", "file": "$TMP/serial"}}
JSON

check "ping: the version as JSON" json_has ping '"version"'
check "info before create: exit 1, one line '404: ...'" one_line_error 404 info
check "create FILE.json" R create "$TMP/vm.json"
check "create again: one line '409: ...'" one_line_error 409 create "$TMP/vm.json"
check "create of a missing file: one line" one_line_error "create:" create "$TMP/nope.json"
check "add-disk path=,readonly=on,ops_size=,ops_refill_time=,id=" \
	R add-disk "path=$TMP/disk.img,readonly=on,ops_size=1000,ops_refill_time=1000,id=d0"
check "add-disk with an unknown field: one line" one_line_error "add-disk: unknown field" add-disk bogus=1
check "add-net tap=,mac=,num_queues=,id=" R add-net tap=nonexistent0,mac=02:00:00:00:00:09,num_queues=2,id=n0
check "add-fs tag=,socket=,id=" R add-fs tag=t,socket=/nonexistent,id=f0
check "add-vsock cid=,socket=,id=" R add-vsock "cid=5,socket=$TMP/vsock,id=v0"
check "add-generic-vhost-user socket=,device_type=,queue_sizes=[],id=" \
	R add-generic-vhost-user "socket=/nonexistent,device_type=2,queue_sizes=[256,256],id=g0"
check "info: Created with the devices" sh -c "'$REMOTE' --api-socket '$SOCK' info >'$TMP/j' &&
	grep -q '\"state\": \"Created\"' '$TMP/j' && grep -q '\"id\": \"g0\"' '$TMP/j' &&
	grep -q '\"size\": 1000' '$TMP/j'"
check "add-net fd=3 passes the caller's fd 3 (SCM_RIGHTS)" sh -c \
	"'$REMOTE' --api-socket '$SOCK' add-net fd=3,id=n1 3</dev/null"
check "add-net fd=[3,4] for one queue pair: one line '400: ... 2 TAP fds ...'" sh -c \
	"! '$REMOTE' --api-socket '$SOCK' add-net 'fd=[3,4]' 3</dev/null 4</dev/null 2>'$TMP/e' &&
	 grep -q '^cvmm-remote: 400: .*2 TAP fds' '$TMP/e'"
check "remove-device n0 n1 f0 v0 g0" sh -c "for d in n0 n1 f0 v0 g0; do
	'$REMOTE' --api-socket '$SOCK' remove-device \$d || exit 1; done"
check "remove-device of an unknown id: one line '404: ...'" one_line_error 404 remove-device zz
check "boot" R boot
check "info: Running, d0 in the device tree" sh -c "'$REMOTE' --api-socket '$SOCK' info >'$TMP/j' &&
	grep -q '\"state\": \"Running\"' '$TMP/j' && grep -q '\"d0\": {' '$TMP/j'"
check "counters: JSON with d0" json_has counters '"d0"'
check "pause" R pause
check "pause again: one line '409: ...'" one_line_error 409 pause
check "resume" R resume
check "reboot" R reboot
check "power-button" R power-button
check "shutdown" R shutdown
check "delete" R delete
check "an unknown command: one line" one_line_error "unknown command" frob
check "shutdown-vmm; the VMM exits 0" sh -c "'$REMOTE' --api-socket '$SOCK' shutdown-vmm && wait_pid=$vmm &&
	i=0; while kill -0 $vmm 2>/dev/null && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i+1)); done; ! kill -0 $vmm 2>/dev/null"
wait $vmm; rc=$?
check "... with status 0" test "$rc" -eq 0
kill $vmm 2>/dev/null
finish
