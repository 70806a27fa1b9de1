#!/bin/sh
# Live migration with virtio-blk requests in flight: the guest of
# tests/guests/snapshot-blk.c writes and re-checks self-describing sectors
# of a shared disk image, four requests at a time, without a pause, so
# every switch-over catches requests in flight. Saving the device state
# finishes them (data and used entries land in guest memory): those pages
# must travel too. The VM goes from VMM to VMM (pre-copy, post-copy,
# pre-copy); on each destination the guest runs 32 more passes with every
# check passing, and when stopped the image holds its last pass.
. "${top_srcdir:-.}/tests/api/lib.sh"
require_kvm
require_python
plan 8

IMG=$GUESTS/snapshot-blk.img
SECTORS=64
truncate -s 1M "$TMP/disk.img"
all=""
trap 'for p in $all; do kill -9 $p 2>/dev/null; done; rm -rf "$TMP"' EXIT
R() { timeout 60 "$REMOTE" --api-socket "$@"; }
fileok() { python3 "$top_srcdir/tests/microvm/blk-check.py" "$1" "$SECTORS" "${2:-}"; }
last_pass() { grep -a '^blk pass ' "$1" | tail -1 | cut -d' ' -f3; }
passes_past() { # LOG N
	p=$(last_pass "$1")
	[ -n "$p" ] && [ "$p" -ge "$2" ] && ! grep -aq MISMATCH "$1"
}
sock_up() { [ -S "$1" ]; }

"$MICROVM" --kernel "$IMG" --transport mmio --disk path="$TMP/disk.img" --serial stdio \
	--api-socket "$TMP/s0.sock" </dev/null >"$TMP/o0" 2>&1 &
pid0=$!; all="$all $pid0"
check "the guest writes and checks its disk" wait_for "$TMP/o0" "blk pass 32" 20

# the last destination takes the guest's stop line on its stdin
mkfifo "$TMP/in"
exec 3<>"$TMP/in"
prev=0
for i in 1 2 3; do
	case $i in 2) mode=Postcopy ;; *) mode=Precopy ;; esac
	if [ $i -eq 3 ]; then
		"$MICROVM" --api-socket "$TMP/s$i.sock" <"$TMP/in" >"$TMP/o$i" 2>&1 &
	else
		"$MICROVM" --api-socket "$TMP/s$i.sock" </dev/null >"$TMP/o$i" 2>&1 &
	fi
	pid=$!; all="$all $pid"
	eventually 10 sock_up "$TMP/s$i.sock"
	R "$TMP/s$i.sock" receive-migration receiver_url=unix:"$TMP/m$i.sock",memory_mode=$mode
	before=$(last_pass "$TMP/o$prev")
	eval "src=\$pid$prev"
	check "migration $i ($mode) while requests are in flight: the source ends" \
		sh -c "R() { timeout 60 '$REMOTE' --api-socket \"\$@\"; }
		       R '$TMP/s$prev.sock' send-migration \
		         destination_url=unix:'$TMP/m$i.sock',memory_mode=$mode 2>/dev/null &&
		       timeout 30 sh -c 'while kill -0 $src 2>/dev/null; do sleep 0.1; done'"
	check "... the guest goes on for 32 passes on the destination, every check passing" \
		eventually 60 passes_past "$TMP/o$i" $((${before:-0} + 32))
	eval "pid$i=\$pid"
	prev=$i
done
echo x >&3
rc=0
timeout 30 sh -c "while kill -0 $pid3 2>/dev/null; do sleep 0.1; done" || rc=timeout
wait $pid3 || rc=$?
last=$(sed -n 's/.*blk stopped after pass \([0-9]*\).*/\1/p' "$TMP/o3")
check "the guest stops cleanly after pass ${last:-?} (status $rc); the image holds that pass in every sector" \
	sh -c "test '$rc' = 0 && fileok() { python3 '$top_srcdir/tests/microvm/blk-check.py' \"\$1\" $SECTORS \"\$2\"; } &&
	       fileok '$TMP/disk.img' '${last:-0}'"
exec 3>&-
grep -a MISMATCH "$TMP"/o* | sed 's/^/# /'
finish
