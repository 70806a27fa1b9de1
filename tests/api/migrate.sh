#!/bin/sh
# vm.send-migration / vm.receive-migration through cvmm-remote: a guest
# checking 8 MiB of its memory (tests/guests/snapshot.c) moves pre-copy from
# one cvmm-microvm to an empty one over a unix socket, then locally (memfds)
# to a third; each source ends, each destination runs the guest, which goes
# on counting with every byte in place; then post-copy (memory_mode on both
# sides) to a fourth, and pre-copy over 3 TCP connections (through TLS
# with a CA when this cvmm-microvm has TLS) to a fifth, with cvmm-remote's
# progress lines. Hostile: a destination nobody
# listens on (one-line error, the source VM keeps running), unknown fields,
# receiving on a VMM that has a VM. Every answer of vm.migration-progress is
# validated against docs/api/cvmm.yaml by the python client. The migration
# thread's seccomp filter traps what it does not need.
. "${top_srcdir:-.}/tests/api/lib.sh"
. "$top_srcdir/tests/api/lib-mig.sh"
require_kvm
require_python
plan 38
one_line_error() { # SOCK STATUS CMD...
	s=$1; want=$2; shift 2
	R "$s" "$@" >"$TMP/o" 2>"$TMP/e" && return 1
	[ "$(wc -l <"$TMP/e")" -eq 1 ] && grep -q "^cvmm-remote: $want" "$TMP/e"
}
# $! is timeout's pid: its VMM goes first (kill -9 of timeout alone orphans it)
trap 'for p in $src $dst $dst2 $dst3 $dst4 $dst5; do c=$(child_of $p); kill -9 $c $p 2>/dev/null; done
      rm -rf "$TMP"' EXIT

cat >"$TMP/vm.json" <<JSON
{"payload": {"kernel": "$GUESTS/snapshot.img"}, "cpus": {"boot_vcpus": 2, "max_vcpus": 2},
 "memory": {"size": 134217728, "shared": true}, "serial": {"mode": "File", "file": "$TMP/serial"}}
JSON
start_vmm "$TMP/src.sock" "$TMP/src.out"; src=$pid
start_vmm "$TMP/dst.sock" "$TMP/dst.out"; dst=$pid
R "$TMP/src.sock" create "$TMP/vm.json" && R "$TMP/src.sock" boot
check "the guest runs on the source" wait_for "$TMP/serial" "round 16" 20

# hostile requests first: nothing may change on the source
check "send-migration to a socket nobody listens on: one line '500: ... cannot connect'" \
	one_line_error "$TMP/src.sock" "500: vm.send-migration: cannot connect to 'unix:$TMP/nobody'" \
	send-migration destination_url=unix:"$TMP/nobody"
check "... and the source VM keeps running" state_is "$TMP/src.sock" Running
check "... progress says failed (validated)" progress_is "$TMP/src.sock" failed
check "vm.send-migration with an unknown field: 400 naming it (validated)" \
	api_error "$TMP/src.sock" vm.send-migration '{"destination_url": "unix:/x", "bogus": 1}' \
	400 "unknown field 'bogus'"
check "vm.send-migration with local not a boolean: 400 (validated)" \
	api_error "$TMP/src.sock" vm.send-migration '{"destination_url": "unix:/x", "local": 1}' \
	400 "'local' must be a boolean"
check "vm.receive-migration with an unknown field: 400 naming it (validated)" \
	api_error "$TMP/dst.sock" vm.receive-migration '{"receiver_url": "unix:/x", "timeout_s": 3}' \
	400 "unknown field 'timeout_s'"
check "send-migration to ftp:x: one line '400: ...'" \
	one_line_error "$TMP/src.sock" "400: vm.send-migration: 'ftp:x'" send-migration destination_url=ftp:x
check "receive-migration on a VMM that has a VM: one line '409: ...'" \
	one_line_error "$TMP/src.sock" 409 receive-migration receiver_url=unix:"$TMP/y"

# pre-copy, unix socket
check "receive-migration receiver_url=unix:PATH on the empty VMM" \
	R "$TMP/dst.sock" receive-migration receiver_url=unix:"$TMP/mig1.sock"
before=$(last_round)
check "send-migration destination_url=unix:PATH,downtime_ms=300" \
	R "$TMP/src.sock" send-migration destination_url=unix:"$TMP/mig1.sock",downtime_ms=300
check "the source VMM ends (status 0)" ends_ok "$src"
eventually 60 state_is "$TMP/dst.sock" Running
check "vm.info on the destination: Running" state_is "$TMP/dst.sock" Running
check "the guest goes on counting on the destination, every byte in place" \
	eventually 60 counting_past "$before"
check "progress on the destination: completed (validated)" progress_is "$TMP/dst.sock" completed

# local: memfds over the unix socket, from the first destination to a third VMM
start_vmm "$TMP/dst2.sock" "$TMP/dst2.out"; dst2=$pid
check "receive-migration on a third VMM" \
	R "$TMP/dst2.sock" receive-migration receiver_url=unix:"$TMP/mig2.sock"
before=$(last_round)
check "send-migration destination_url=unix:PATH,local=on" \
	R "$TMP/dst.sock" send-migration destination_url=unix:"$TMP/mig2.sock",local=on
check "the local source ends (status 0)" ends_ok "$dst"
eventually 60 state_is "$TMP/dst2.sock" Running
local_ok() { eventually 60 counting_past "$before" && state_is "$TMP/dst2.sock" Running; }
check "after the local migration: Running, the guest counts on, every byte in place" local_ok
check "migration-cancel with nothing running: one line '409: ...'" \
	one_line_error "$TMP/dst2.sock" 409 migration-cancel

# post-copy through the API: memory_mode on both sides; the destination
# runs at once and takes its pages on demand and pushed
check "vm.send-migration with memory_mode Fast: 400 (validated)" \
	api_error "$TMP/dst2.sock" vm.send-migration '{"destination_url": "unix:/x", "memory_mode": "Fast"}' \
	400 "'memory_mode' must be"
check "vm.send-migration Postcopy with connections 2: 400 (validated)" \
	api_error "$TMP/dst2.sock" vm.send-migration \
	'{"destination_url": "unix:/x", "memory_mode": "Postcopy", "connections": 2}' 400 "one connection"
start_vmm "$TMP/dst4.sock" "$TMP/dst4.out"; dst4=$pid
check "receive-migration receiver_url=unix:PATH,memory_mode=Postcopy" \
	R "$TMP/dst4.sock" receive-migration receiver_url=unix:"$TMP/mig4.sock",memory_mode=Postcopy
before=$(last_round)
check "send-migration memory_mode=Postcopy: cvmm-remote prints its progress and returns at the end" \
	sh -c "timeout 30 '$REMOTE' --api-socket '$TMP/dst2.sock' send-migration \
	       destination_url=unix:'$TMP/mig4.sock',memory_mode=Postcopy 2>'$TMP/prog4' &&
	       grep -q '^migration: ' '$TMP/prog4'"
sed 's/^/# /' "$TMP/prog4"
check "the post-copy source ends (status 0)" ends_ok "$dst2"
post_ok() { eventually 60 counting_past "$before" && state_is "$TMP/dst4.sock" Running; }
check "after post-copy: Running, the guest counts on, every byte in place" post_ok
check "progress on the post-copy destination: completed (validated)" \
	eventually 60 progress_is "$TMP/dst4.sock" completed

# pre-copy over 3 TCP connections, through TLS when this build has it
port=$((20000 + $$ % 20000))
start_vmm "$TMP/dst5.sock" "$TMP/dst5.out"; dst5=$pid
tls=
if R "$TMP/dst5.sock" receive-migration receiver_url=tcp:127.0.0.1:1,tls_dir=/nonexistent \
	>/dev/null 2>"$TMP/e"; then
	R "$TMP/dst5.sock" migration-cancel >/dev/null 2>&1
	eventually 10 progress_is "$TMP/dst5.sock" cancelled
	if sh "$top_srcdir/tests/integration/mig-certs.sh" "$TMP/tls/good" >/dev/null 2>&1 &&
	   sh "$top_srcdir/tests/integration/mig-certs.sh" "$TMP/tls/rogue" rogue >/dev/null 2>&1; then
		tls=,tls_dir=$TMP/tls/good
	fi
fi
if [ -n "$tls" ]; then
	# a source whose certificate another CA signed is refused; it runs on
	R "$TMP/dst5.sock" receive-migration receiver_url=tcp:127.0.0.1:$port$tls >/dev/null
	check "TLS: a source with a certificate of another CA: one line, the source keeps running" \
		sh -c "! timeout 30 '$REMOTE' --api-socket '$TMP/dst4.sock' send-migration \
		       destination_url=tcp:127.0.0.1:$port,tls_dir='$TMP/tls/rogue' 2>'$TMP/e' &&
		       grep -q 'the destination refused the handshake' '$TMP/e' &&
		       [ \$(wc -l <'$TMP/e') -eq 1 ]"
	sed 's/^/# /' "$TMP/e"
	check "... the destination says why (progress: failed, certificate refused)" \
		eventually 10 sh -c "'$REMOTE' --api-socket '$TMP/dst5.sock' migration-progress |
				     grep -q 'certificate is refused'"
	check "... and the source VM is still Running" state_is "$TMP/dst4.sock" Running
else
	grep -q 'without TLS' "$TMP/e" && echo "# tls_dir: this cvmm-microvm has no TLS (static build)"
	for d in "TLS: a source with a certificate of another CA refused" \
		 "... the destination says why" "... the source VM is still Running"; do
		n=$((n + 1)); echo "ok $n - $d # SKIP no TLS in this build, or no certtool"
	done
fi
check "receive-migration receiver_url=tcp:127.0.0.1:PORT${tls:+,tls_dir=DIR}" \
	R "$TMP/dst5.sock" receive-migration receiver_url=tcp:127.0.0.1:$port$tls
before=$(last_round)
check "send-migration connections=3${tls:+,tls_dir=DIR}: progress printed, done" \
	sh -c "timeout 30 '$REMOTE' --api-socket '$TMP/dst4.sock' send-migration \
	       destination_url=tcp:127.0.0.1:$port,connections=3$tls 2>'$TMP/prog5' &&
	       grep -q '^migration: ' '$TMP/prog5'"
sed 's/^/# /' "$TMP/prog5"
check "the source ends (status 0)" ends_ok "$dst4"
conn_ok() {
	eventually 60 counting_past "$before" && state_is "$TMP/dst5.sock" Running &&
	"$REMOTE" --api-socket "$TMP/dst5.sock" migration-progress | grep -q '"connections": 3'
}
on_fail() {
	echo "serial: $(tail -3 "$TMP/serial" | tr '\n' '|') (rounds past $before wanted)"
	R "$TMP/dst5.sock" info | grep '"state"'
	R "$TMP/dst5.sock" migration-progress
	tail -5 "$TMP/dst5.out"
}
check "over 3 connections: Running, the guest counts on, every byte in place; progress says 3" conn_ok
R "$TMP/dst5.sock" shutdown-vmm >/dev/null
wait_pid $dst5 20

# a receive waiting for its connection: cancelled, listening again, and a
# vmm.shutdown while it listens ends the VMM at once
start_vmm "$TMP/dst3.sock" "$TMP/dst3.out"; dst3=$pid
R "$TMP/dst3.sock" receive-migration receiver_url=unix:"$TMP/mig3.sock"
unset -f on_fail
check "migration-cancel of a listening receive; progress: cancelled (validated)" \
	sh -c "'$REMOTE' --api-socket '$TMP/dst3.sock' migration-cancel &&
	       python3 - <<'PY'
import time, apiclient
for _ in range(100):
    st, j = apiclient.Client('$TMP/dst3.sock').req('GET', 'vm.migration-progress')
    if j['state'] == 'cancelled':
        raise SystemExit(0)
    time.sleep(0.1)
raise SystemExit(1)
PY"
check "receive-migration again after the cancel" \
	R "$TMP/dst3.sock" receive-migration receiver_url=unix:"$TMP/mig3.sock"
R "$TMP/dst3.sock" shutdown-vmm >/dev/null
check "shutdown-vmm while listening: the VMM ends (status 0)" ends_ok "$dst3"

# the migration thread is confined: its seccomp self-test (execve) ends
# the VMM with the trap's message
trapped() {
	rm -f "$TMP/st.sock"
	CVMM_SECCOMP_SELFTEST=migration:execve timeout 30 "$MICROVM" --api-socket "$TMP/st.sock" \
		>"$TMP/st" 2>&1 &
	p=$!
	i=0
	while ! [ -S "$TMP/st.sock" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	R "$TMP/st.sock" receive-migration receiver_url=unix:"$TMP/st-mig.sock" >/dev/null 2>&1
	wait $p
	rc=$?
	test $rc -eq 159 && grep -q 'cvmm: seccomp: thread migration made forbidden syscall execve (' "$TMP/st"
}
check "migration thread: execve is trapped (exit 159, message names the thread)" trapped
finish
