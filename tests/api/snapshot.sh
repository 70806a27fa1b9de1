#!/bin/sh
# vm.snapshot and vm.restore through cvmm-remote: a guest checking 8 MiB of
# its memory (tests/guests/snapshot.c) is paused and snapshotted, the VMM
# ends, a new empty VMM restores it (Paused until vm.resume, in OnDemand
# mode) and the guest goes on counting with every byte in place; the event
# monitor reports snapshotting/snapshotted/restoring/restored and progress
# (snapshot-progress, restore-progress with byte counts); hostile and
# out-of-state requests get one line with their status. Diff snapshots
# (snapshot_type Full then Diff, Firecracker's field) restored as a chain
# (diff_urls, a cvmm extension): the guest finds every byte of the last.
. "${top_srcdir:-.}/tests/api/lib.sh"
require_kvm
plan 26
SOCK=$TMP/api.sock
SNAP=$TMP/snap
R() { timeout 30 "$REMOTE" --api-socket "$SOCK" "$@"; }
one_line_error() {
	want=$1; shift
	R "$@" >"$TMP/o" 2>"$TMP/e" && return 1
	[ "$(wc -l <"$TMP/e")" -eq 1 ] && grep -q "^cvmm-remote: $want" "$TMP/e"
}
start_vmm() { # EVENTS-FILE
	rm -f "$SOCK"
	"$MICROVM" --api-socket "$SOCK" --event-monitor path="$1" >"$TMP/vmm.out" 2>&1 &
	vmm=$!
	i=0
	while ! [ -S "$SOCK" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
}
trap 'kill -9 $vmm 2>/dev/null; rm -rf "$TMP"' EXIT
rounds_seen() { test "$(grep -ac '^round ' "$1")" -ge "$2"; }

cat >"$TMP/vm.json" <<JSON
{"payload": {"kernel": "$GUESTS/snapshot.img"}, "cpus": {"boot_vcpus": 2, "max_vcpus": 2},
 "memory": {"size": 134217728}, "serial": {"mode": "File", "file": "$TMP/serial"}}
JSON
start_vmm "$TMP/ev1"
R create "$TMP/vm.json" && R boot
check "the guest runs" wait_for "$TMP/serial" "round 32" 20
check "snapshot while running: one line '409: ...'" one_line_error 409 snapshot destination_url=file://"$SNAP"
R pause
check "snapshot with an unknown field: one line" one_line_error "snapshot: unknown field" snapshot destination_url=file://"$SNAP",bogus=1
check "snapshot destination_url=file:///DIR" R snapshot destination_url=file://"$SNAP"
before=$(grep -a '^round ' "$TMP/serial" | tail -1 | cut -d' ' -f2)
check "the directory holds config.json, state, memory, manifest" \
	sh -c "cd '$SNAP' && test -s config.json && test -s state && test -s manifest && test \$(stat -c %s memory) -eq 134217728"
check "the event monitor saw snapshotting and snapshotted" \
	sh -c "grep -q snapshotting '$TMP/ev1' && grep -q snapshotted '$TMP/ev1'"
check "the event monitor saw snapshot-progress with byte counts" \
	sh -c "grep -q '\"snapshot-progress\".*bytes_total' '$TMP/ev1'"
check "snapshot-progress: the last snapshot completed, 128 MiB of 128" sh -c "
	'$REMOTE' --api-socket '$SOCK' snapshot-progress >'$TMP/prog' &&
	grep -q '\"operation\": \"snapshot\"' '$TMP/prog' && grep -q '\"state\": \"completed\"' '$TMP/prog' &&
	grep -q '\"bytes_total\": 134217728' '$TMP/prog' && grep -q '\"bytes_done\": 134217728' '$TMP/prog'"
check "CVMM_REMOTE_PROGRESS=1: the snapshot's progress as lines, to the end" sh -c "
	CVMM_REMOTE_PROGRESS=1 timeout 30 '$REMOTE' --api-socket '$SOCK' snapshot destination_url=file://'$TMP/snapp' 2>'$TMP/pl' &&
	grep -q '^snapshot: completed, memory 128.0 of 128.0 MiB' '$TMP/pl'"
check "resume after the snapshot" R resume
R shutdown-vmm >/dev/null; wait_pid $vmm 20

start_vmm "$TMP/ev2"
check "restore a missing snapshot: one line naming its manifest" \
	one_line_error "500: .*$TMP/nowhere/manifest" restore source_url=file://"$TMP/nowhere"
check "restore with a bad memory_restore_mode: one line '400: ...'" \
	one_line_error 400 restore source_url=file://"$SNAP",memory_restore_mode=Lazy
check "restore source_url=,memory_restore_mode=OnDemand" \
	R restore source_url=file://"$SNAP",memory_restore_mode=OnDemand
check "info: Paused after a restore without resume" sh -c "'$REMOTE' --api-socket '$SOCK' info | grep -q '\"state\": \"Paused\"'"
R resume
check "resume: the guest goes on counting and finds every byte" sh -c "
	i=0; while ! grep -aq '^round ' '$TMP/serial' || [ \$(grep -ac '^round ' '$TMP/serial') -lt 3 ]; do
		[ \$i -ge 200 ] && exit 1; sleep 0.1; i=\$((i+1)); done
	! grep -aq MISMATCH '$TMP/serial' && test \$(grep -a '^round ' '$TMP/serial' | head -1 | cut -d' ' -f2) -gt $before"
check "the event monitor saw restoring and restored" \
	sh -c "grep -q restoring '$TMP/ev2' && grep -q '\"restored\"' '$TMP/ev2'"
check "the event monitor saw restore-progress (OnDemand's background fill)" \
	sh -c "grep -q '\"restore-progress\".*bytes_done' '$TMP/ev2'"
R shutdown-vmm >/dev/null; wait_pid $vmm 20

# diff snapshots: a Full base (dirty tracking on from it), two Diffs of
# what the guest wrote in between, a restore of the chain
start_vmm "$TMP/ev3"
R create "$TMP/vm.json" && R boot
wait_for "$TMP/serial" "round 32" 20
R pause
check "snapshot_type=Diff without a Full base first: one line '400: ...'" \
	one_line_error "400: .*needs a base" snapshot destination_url=file://"$TMP/d0",snapshot_type=Diff
check "snapshot_type=Full" R snapshot destination_url=file://"$TMP/base",snapshot_type=Full
for d in d1 d2; do
	k=$(grep -ac "^round " "$TMP/serial")
	R resume
	eventually 20 rounds_seen "$TMP/serial" $((k + 2))
	R pause
	R snapshot destination_url=file://"$TMP/$d",snapshot_type=Diff || break
done
last=$(grep -a '^round ' "$TMP/serial" | tail -1 | cut -d' ' -f2)
# (the guest rewrites its whole 8 MiB every round, so a Diff is about as
# large as the data of the base: only bounded by what the guest writes)
check "two Diffs written, each holding only what the guest wrote (under 16 MiB of 128)" sh -c "
	test -s '$TMP/d1/manifest' && test -s '$TMP/d2/manifest' &&
	test \$(du -k '$TMP/d1/memory' | cut -f1) -lt 16384 &&
	test \$(du -k '$TMP/d2/memory' | cut -f1) -lt 16384"
R shutdown-vmm >/dev/null; wait_pid $vmm 20
: >"$TMP/serial"
start_vmm "$TMP/ev4"
check "restore of a Diff alone: refused, one line" \
	one_line_error "[45]00: .*a diff snapshot" restore source_url=file://"$TMP/d2"
check "restore with diff_urls out of order: refused, one line" \
	one_line_error "400: .*older" restore source_url=file://"$TMP/base",diff_urls=[file://$TMP/d2,file://$TMP/d1]
check "restore source_url=base,diff_urls=[d1,d2] (OnDemand, resume)" \
	R restore source_url=file://"$TMP/base",diff_urls=[file://$TMP/d1,file://$TMP/d2],memory_restore_mode=OnDemand,resume=on
check "the chain's guest goes on from the last Diff and finds every byte" sh -c "
	i=0; while [ \$(grep -ac '^round ' '$TMP/serial') -lt 3 ]; do
		[ \$i -ge 200 ] && exit 1; sleep 0.1; i=\$((i+1)); done
	! grep -aq MISMATCH '$TMP/serial' && test \$(grep -a '^round ' '$TMP/serial' | head -1 | cut -d' ' -f2) -gt $last"
R shutdown-vmm >/dev/null; wait_pid $vmm 20
: >"$TMP/serial"
start_vmm "$TMP/ev5"
check "the same chain by Copy finds every byte too" sh -c "
	timeout 30 '$REMOTE' --api-socket '$SOCK' restore source_url=file://$TMP/base,diff_urls=[file://$TMP/d1,file://$TMP/d2],resume=on &&
	i=0; while [ \$(grep -ac '^round ' '$TMP/serial') -lt 3 ]; do
		[ \$i -ge 200 ] && exit 1; sleep 0.1; i=\$((i+1)); done
	! grep -aq MISMATCH '$TMP/serial' && test \$(grep -a '^round ' '$TMP/serial' | head -1 | cut -d' ' -f2) -gt $last"
R shutdown-vmm >/dev/null; wait_pid $vmm 20
run_vm out --restore source_url=file://"$SNAP"
check "cvmm-microvm --restore of an API snapshot: one line pointing to vm.restore" \
	sh -c "test $rc -eq 1 && grep -q 'vm.restore' '$out'"
finish
