#!/bin/sh
# A VM restored from a flags snapshot under --api-socket, then migrated
# (issue 12): `cvmm-microvm --restore ... --api-socket` must restore the
# snapshot, not boot the kernel its stored arguments name (the fresh boot
# passed for the restored guest and a migration carried it on: a real
# Linux "reset" on the destination). The guest (tests/guests/snapshot.c,
# with a disk and an rng so device ids matter) counts on from its
# snapshot's round after the restore, and again on an empty VMM that
# received it pre-copy.
. "${top_srcdir:-.}/tests/api/lib.sh"
require_kvm
plan 5
IMG=$GUESTS/snapshot.img
SNAP=$TMP/snap
all=""
trap 'for p in $all; do kill -9 $p 2>/dev/null; done; rm -rf "$TMP"' EXIT
first_round() { grep -a '^round ' "$1" | head -1 | cut -d' ' -f2; }
last_round() { grep -a '^round ' "$1" | tail -1 | cut -d' ' -f2; }
rounds_seen() { test "$(grep -ac '^round ' "$1")" -ge "$2"; }
went_on() { # SERIAL AFTER: 3 rounds, the first after AFTER, no mismatch
	eventually 30 rounds_seen "$1" 3 && ! grep -aq MISMATCH "$1" &&
		test "$(first_round "$1")" -gt "$2"
}
R() { timeout 30 "$REMOTE" --api-socket "$@"; }
dd if=/dev/zero of="$TMP/disk.img" bs=1M count=1 2>/dev/null

# SIGUSR1 must reach the VMM itself (no timeout(1) in between).
"$MICROVM" --kernel "$IMG" --cpus 2 --serial file="$TMP/s0" --disk path="$TMP/disk.img" --rng \
	--snapshot destination_url=file://"$SNAP" >"$TMP/src.log" 2>&1 &
src=$!; all="$all $src"
wait_for "$TMP/s0" "round 32" 20
kill -USR1 $src
check "a flags snapshot of the guest (disk, rng)" wait_for "$TMP/src.log" "snapshot written" 20
before=$(last_round "$TMP/s0")
kill -9 $src; wait $src 2>/dev/null

"$MICROVM" --restore source_url=file://"$SNAP",resume=on --serial file="$TMP/s1" \
	--api-socket "$TMP/m1.sock" >"$TMP/m1.log" 2>&1 &
m1=$!; all="$all $m1"
check "--restore with --api-socket: the guest counts on from its snapshot (not booted anew)" \
	went_on "$TMP/s1" "$before"
check "... and vm.info says Running" sh -c "'$REMOTE' --api-socket '$TMP/m1.sock' info | grep -q '\"state\": \"Running\"'"

after=$(last_round "$TMP/s1")
: >"$TMP/s1"
"$MICROVM" --api-socket "$TMP/m2.sock" >"$TMP/m2.log" 2>&1 &
m2=$!; all="$all $m2"
eventually 20 test -S "$TMP/m2.sock"
R "$TMP/m2.sock" receive-migration receiver_url=unix:"$TMP/mig" >"$TMP/recv.out" 2>&1 &
rcv=$!
eventually 20 test -S "$TMP/mig"
check "send-migration of the restored VM to an empty VMM" \
	R "$TMP/m1.sock" send-migration destination_url=unix:"$TMP/mig"
wait $rcv
# The destination's serial file is the source's (the same VmConfig).
check "the migrated guest counts on from where the restored one was" went_on "$TMP/s1" "$after"
[ "$failed" -eq 0 ] || for f in "$TMP/m1.log" "$TMP/m2.log" "$TMP/recv.out"; do
	tail -n 5 "$f" | sed 's/^/# /'
done
R "$TMP/m2.sock" shutdown-vmm >/dev/null 2>&1
finish
