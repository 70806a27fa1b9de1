#!/bin/sh
# Post-copy with a vhost-user disk: the guest of tests/guests/snapshot-blk.c
# writes and re-checks self-describing sectors through cvmm-vhost-user-blk,
# four requests at a time, without a pause. Each VMM has a daemon of its own
# on the same socket path and image (as two hosts would): the destination's
# daemon registers its mapping of guest RAM with userfaultfd through the
# POSTCOPY messages, faults on pages that have not come, and the
# destination VMM fetches them from the source like a vCPU fault and wakes
# it (how many faults depends on the race with the push). The guest runs
# 32 more passes there with every check passing; when stopped, the image
# holds its last pass.
. "${top_srcdir:-.}/tests/api/lib.sh"
require_kvm
require_python
VUBLK=$top_builddir/examples/vhost-user-blk/cvmm-vhost-user-blk
if ! python3 -c 'import ctypes, sys; sys.exit(ctypes.CDLL(None).syscall(323, 0) < 0)'; then
	echo "1..0 # SKIP no userfaultfd for this user (root, or vm.unprivileged_userfaultfd=1)"
	exit 0
fi
plan 8

IMG=$GUESTS/snapshot-blk.img
SECTORS=64
truncate -s 1M "$TMP/disk.img"
all=""
trap 'for p in $all; do kill -9 $p 2>/dev/null; done; rm -rf "$TMP"' EXIT
R() { timeout 60 "$REMOTE" --api-socket "$@"; }
last_pass() { grep -a '^blk pass ' "$1" | tail -1 | cut -d' ' -f3; }
passes_past() { # LOG N
	p=$(last_pass "$1")
	[ -n "$p" ] && [ "$p" -ge "$2" ] && ! grep -aq MISMATCH "$1"
}
sock_up() { [ -S "$1" ]; }

"$VUBLK" --socket "$TMP/vu.sock" --disk "$TMP/disk.img" >"$TMP/d0" 2>&1 &
d0=$!; all="$all $d0"
eventually 10 sock_up "$TMP/vu.sock"
"$MICROVM" --kernel "$IMG" --transport mmio --disk vhost_user=on,socket="$TMP/vu.sock" --serial stdio \
	--api-socket "$TMP/s0.sock" </dev/null >"$TMP/o0" 2>&1 &
pid0=$!; all="$all $pid0"
check "the guest writes and checks its disk through cvmm-vhost-user-blk" \
	wait_for "$TMP/o0" "blk pass 32" 20

local_refused() {
	R "$TMP/s0.sock" send-migration destination_url=unix:"$TMP/none.sock",local=on \
		2>"$TMP/local.err" && return 1
	grep -q "'local' with the vhost-user device '_disk0'" "$TMP/local.err"
}
check "a local migration is refused at once, naming the vhost-user device (the guest runs on)" \
	local_refused

# The destination's daemon: same path (the source keeps its connection to
# the first one), same image.
rm -f "$TMP/vu.sock"
"$VUBLK" --socket "$TMP/vu.sock" --disk "$TMP/disk.img" --locking off >"$TMP/d1" 2>&1 &
d1=$!; all="$all $d1"
eventually 10 sock_up "$TMP/vu.sock"
mkfifo "$TMP/in"
exec 3<>"$TMP/in"
"$MICROVM" --api-socket "$TMP/s1.sock" --log-level info <"$TMP/in" >"$TMP/o1" 2>&1 &
pid1=$!; all="$all $pid1"
eventually 10 sock_up "$TMP/s1.sock"
R "$TMP/s1.sock" receive-migration receiver_url=unix:"$TMP/m1.sock",memory_mode=Postcopy
before=$(last_pass "$TMP/o0")
check "post-copy while requests are in flight: the source ends" \
	sh -c "timeout 60 '$REMOTE' --api-socket '$TMP/s0.sock' send-migration \
	         destination_url=unix:'$TMP/m1.sock',memory_mode=Postcopy 2>/dev/null &&
	       timeout 30 sh -c 'while kill -0 $pid0 2>/dev/null; do sleep 0.1; done'"
check "... the guest goes on for 32 passes on the destination, every check passing" \
	eventually 60 passes_past "$TMP/o1" $((${before:-0} + 32))
# How many of the daemon's accesses faulted depends on the race between
# the push and its first accesses (the push usually wins on one host);
# test-vub-postcopy makes the faults happen for certain.
faults=$(sed -n "s/.*post-copy: device '.*': \([0-9]*\) faults of its vhost-user backend served.*/\1/p" "$TMP/o1" | head -1)
check "the destination's daemon took part in post-copy (ADVISE, LISTEN, its faults served: ${faults:-?})" \
	test -n "$faults"
check "... and post-copy ended for it (POSTCOPY_END: no error)" \
	sh -c "! grep -a 'POSTCOPY_END' '$TMP/o1'"
echo x >&3
rc=0
if timeout 30 sh -c "while kill -0 $pid1 2>/dev/null; do sleep 0.1; done"; then
	wait $pid1 || rc=$?
else
	rc=timeout
fi
last=$(sed -n 's/.*blk stopped after pass \([0-9]*\).*/\1/p' "$TMP/o1")
check "the guest stops cleanly after pass ${last:-?} (status $rc); the image holds that pass in every sector" \
	sh -c "test '$rc' = 0 && python3 '$top_srcdir/tests/microvm/blk-check.py' '$TMP/disk.img' $SECTORS '${last:-0}'"
check "both daemons are still up (no crash)" \
	sh -c "kill -0 $d0 && kill -0 $d1"
exec 3>&-
grep -a -i "MISMATCH\|error" "$TMP"/o* "$TMP"/d* | sed 's/^/# /'
finish
