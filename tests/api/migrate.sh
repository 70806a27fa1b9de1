#!/bin/sh
# vm.send-migration / vm.receive-migration through cvmm-remote: a guest
# checking 8 MiB of its memory (tests/guests/snapshot.c) moves pre-copy from
# one cvmm-microvm to an empty one over a unix socket, then locally (memfds)
# to a third; each source ends, each destination runs the guest, which goes
# on counting with every byte in place. Hostile: a destination nobody
# listens on (one-line error, the source VM keeps running), unknown fields,
# receiving on a VMM that has a VM. Every answer of vm.migration-progress is
# validated against docs/api/cvmm.yaml by the python client. The migration
# thread's seccomp filter traps what it does not need.
. "${top_srcdir:-.}/tests/api/lib.sh"
require_kvm
require_python
plan 24
R() { # SOCK CMD...
	s=$1; shift
	timeout 30 "$REMOTE" --api-socket "$s" "$@"
}
one_line_error() { # SOCK STATUS CMD...
	s=$1; want=$2; shift 2
	R "$s" "$@" >"$TMP/o" 2>"$TMP/e" && return 1
	[ "$(wc -l <"$TMP/e")" -eq 1 ] && grep -q "^cvmm-remote: $want" "$TMP/e"
}
start_vmm() { # SOCK LOG: sets pid
	rm -f "$1"
	timeout 120 "$MICROVM" --api-socket "$1" >"$2" 2>&1 &
	pid=$!
	i=0
	while ! [ -S "$1" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
}
state_is() { R "$1" info | grep -q "\"state\": \"$2\""; }
progress_is() { # SOCK STATE: validated against the spec
	python3 - "$1" "$2" <<'PY'
import sys, apiclient
st, j = apiclient.Client(sys.argv[1]).req("GET", "vm.migration-progress")
sys.exit(0 if st == 200 and j["state"] == sys.argv[2] else 1)
PY
}
api_error() { # SOCK ENDPOINT BODY STATUS TEXT: a PUT answered STATUS with TEXT
	python3 - "$@" <<'PY'
import json, sys, apiclient
st, j = apiclient.Client(sys.argv[1]).req("PUT", sys.argv[2], json.loads(sys.argv[3]))
sys.exit(0 if st == int(sys.argv[4]) and sys.argv[5] in j["error"] else 1)
PY
}
# the VMM behind timeout PID @1 ends with status 0
ends_ok() {
	eventually 30 exited "$1" || return 1
	wait "$1"
}
# counting: the guest prints more rounds than @2 with no MISMATCH
counting_past() {
	r=$(grep -a '^round ' "$TMP/serial" | tail -1 | cut -d' ' -f2)
	[ -n "$r" ] && [ "$r" -gt "$1" ] && ! grep -aq MISMATCH "$TMP/serial"
}
last_round() { grep -a '^round ' "$TMP/serial" | tail -1 | cut -d' ' -f2; }
exited() { ! kill -0 "$1" 2>/dev/null; }
# $! is timeout's pid: its VMM goes first (kill -9 of timeout alone orphans it)
trap 'for p in $src $dst $dst2 $dst3; do c=$(child_of $p); kill -9 $c $p 2>/dev/null; done
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
	api_error "$TMP/dst.sock" vm.receive-migration '{"receiver_url": "unix:/x", "memory_mode": "Postcopy"}' \
	400 "unknown field 'memory_mode'"
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
eventually 20 state_is "$TMP/dst.sock" Running
check "vm.info on the destination: Running" state_is "$TMP/dst.sock" Running
check "the guest goes on counting on the destination, every byte in place" \
	eventually 20 counting_past "$before"
check "progress on the destination: completed (validated)" progress_is "$TMP/dst.sock" completed

# local: memfds over the unix socket, from the first destination to a third VMM
start_vmm "$TMP/dst2.sock" "$TMP/dst2.out"; dst2=$pid
check "receive-migration on a third VMM" \
	R "$TMP/dst2.sock" receive-migration receiver_url=unix:"$TMP/mig2.sock"
before=$(last_round)
check "send-migration destination_url=unix:PATH,local=on" \
	R "$TMP/dst.sock" send-migration destination_url=unix:"$TMP/mig2.sock",local=on
check "the local source ends (status 0)" ends_ok "$dst"
eventually 20 state_is "$TMP/dst2.sock" Running
local_ok() { eventually 20 counting_past "$before" && state_is "$TMP/dst2.sock" Running; }
check "after the local migration: Running, the guest counts on, every byte in place" local_ok
check "migration-cancel with nothing running: one line '409: ...'" \
	one_line_error "$TMP/dst2.sock" 409 migration-cancel
R "$TMP/dst2.sock" shutdown-vmm >/dev/null
wait_pid $dst2 20

# a receive waiting for its connection: cancelled, listening again, and a
# vmm.shutdown while it listens ends the VMM at once
start_vmm "$TMP/dst3.sock" "$TMP/dst3.out"; dst3=$pid
R "$TMP/dst3.sock" receive-migration receiver_url=unix:"$TMP/mig3.sock"
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
