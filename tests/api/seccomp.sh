#!/bin/sh
# The API thread's seccomp filter: the thread ("api") is filtered while it
# serves a running VM, and a syscall it does not need (execve, the open of
# a new file, an AF_INET socket) ends the VMM with the trap's message.
. "${top_srcdir:-.}/tests/api/lib.sh"
require_kvm
plan 4
SOCK=$TMP/api.sock
timeout 60 "$MICROVM" --api-socket "$SOCK" --kernel "$GUESTS/hello.img" --guest-arg 0=1 \
	--serial off >"$TMP/out" 2>&1 &
vmm=$!
api_filtered() {
	pid=$(child_of "$vmm")   # timeout's child
	[ -n "$pid" ] || return 1
	for task in /proc/$pid/task/*; do
		[ "$(cat "$task/comm")" = api ] && grep -q '^Seccomp:[[:space:]]*2$' "$task/status" && return 0
	done
	return 1
}
eventually 20 api_filtered
check "the api thread serving a running VM shows Seccomp: 2" api_filtered
"$REMOTE" --api-socket "$SOCK" shutdown-vmm >/dev/null 2>&1
wait $vmm
for call in execve open socket; do
	want=$call
	[ "$call" = open ] && want=openat
	rc=0
	CVMM_SECCOMP_SELFTEST=api:$call timeout 30 "$MICROVM" --api-socket "$SOCK" \
		>"$TMP/st" 2>&1 || rc=$?
	out=$TMP/st
	check "api thread: $call is trapped (exit 159, message names $want)" \
		sh -c "test $rc -eq 159 && grep -q 'cvmm: seccomp: thread api made forbidden syscall $want (' '$out'"
done
finish
