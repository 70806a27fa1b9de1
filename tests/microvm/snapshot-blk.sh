#!/bin/sh
# A snapshot with virtio-blk requests in flight: the guest
# (tests/guests/snapshot-blk.c) writes and checks self-describing sectors
# of its disk without a pause, four requests at a time, so SIGUSR1 pauses
# it in the middle of a batch. The VMM is killed; the disk file at that
# moment is pass P up to some sector and pass P-1 after it. Each memory
# mode restores it in a new process onto its own copy of that file
# (--disk override): the guest goes on from where it was, every check it
# makes keeps passing (it re-reads the previous pass before each write),
# and once stopped through its serial port the host file holds its last
# pass in every sector.
. "${top_srcdir:-.}/tests/microvm/lib.sh"
require_kvm
plan 9

IMG=$top_builddir/tests/guests/snapshot-blk.img
SNAP=$TMP/snap
SECTORS=64
truncate -s 1M "$TMP/disk.img"
all=""
trap 'for p in $all; do kill -9 $p 2>/dev/null; done; rm -rf "$TMP"' EXIT

# fileok FILE [PASS]: every sector is one the guest wrote; with PASS, all
# of them that pass; without, pass P up to some sector and P-1 after it
fileok() { python3 "$top_srcdir/tests/microvm/blk-check.py" "$1" "$SECTORS" "${2:-}"; }

"$MICROVM" --kernel "$IMG" --transport mmio --disk path="$TMP/disk.img" --serial file="$TMP/s0" \
	--snapshot destination_url=file://"$SNAP" >"$TMP/src.log" 2>&1 &
src=$!; all="$all $src"
check "the guest writes and checks its disk" wait_for "$TMP/s0" "blk pass 32" 20
kill -USR1 $src
check "SIGUSR1 writes the snapshot while requests are in flight" \
	wait_for "$TMP/src.log" "snapshot written" 20
kill -9 $src; wait $src 2>/dev/null
cp "$TMP/disk.img" "$TMP/disk.at-snapshot"
before=$(grep -a '^blk pass ' "$TMP/s0" | tail -1 | cut -d' ' -f3)
check "the disk at the snapshot: one pass over the one before, cut at a sector" \
	fileok "$TMP/disk.at-snapshot"
fileok "$TMP/disk.at-snapshot" | grep '^#'

for mode in Copy OnDemand Shared; do
	cp "$TMP/disk.at-snapshot" "$TMP/d_$mode.img"
	rm -f "$TMP/in_$mode"; mkfifo "$TMP/in_$mode"
	exec 3<>"$TMP/in_$mode"
	out=$TMP/o_$mode
	timeout 60 "$MICROVM" --restore source_url=file://"$SNAP",memory_restore_mode=$mode,resume=on \
		--disk path="$TMP/d_$mode.img" --serial stdio <"$TMP/in_$mode" >"$out" 2>&1 &
	vm=$!; all="$all $vm"
	# 32 more passes, each re-reading what the one before wrote
	eventually 30 sh -c "test \$(grep -a '^blk pass ' '$out' | tail -1 | cut -d' ' -f3) -ge $((before + 32))"
	echo x >&3
	rc=0; wait $vm || rc=$?
	exec 3>&-
	check "restore $mode: the guest goes on, every check passes, it stops cleanly" \
		sh -c "test $rc -eq 0 && ! grep -aq MISMATCH '$out' && grep -aq 'blk stopped after pass' '$out'"
	last=$(sed -n 's/.*blk stopped after pass \([0-9]*\).*/\1/p' "$out")
	check "restore $mode: the host file holds pass ${last:-?} in every sector" \
		fileok "$TMP/d_$mode.img" "${last:-0}"
done
finish
