#!/bin/sh
# Snapshot and restore figures for docs/benchmarks.md (never part of make
# check): for 128 MiB, 2 GiB and 16 GiB guests with 32 MiB touched
# (tests/guests/snapshot.c, 2 vCPUs), the time to write a snapshot and its
# size on disk, then restore latency in each memory mode: the time inside
# cvmm_vmm_snapshot_restore() and from exec of the restoring cvmm-microvm
# to its vCPUs running (the next guest instruction follows at once), the
# median of $RUNS. Then the PSS sum of 10 clones restored Shared vs Copy
# (a guest with 32 MiB of data of which 1 MiB keeps changing).
# Usage: bench/snapshot/run.sh BUILDDIR [RUNS]
set -u
B=${1:-.}
RUNS=${2:-5}
MICROVM=$B/examples/microvm/cvmm-microvm
IMG=$B/tests/guests/snapshot.img
TMP=$(mktemp -d /var/tmp/cvmm-snapbench-XXXXXX)
pids=""
trap 'for p in $pids; do kill -9 $p 2>/dev/null; done; rm -rf "$TMP"' EXIT

wait_for() { i=0; while ! grep -qaF -- "$2" "$1" 2>/dev/null; do [ $i -ge $(($3 * 20)) ] && return 1; sleep 0.05; i=$((i + 1)); done; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms_after() { grep -a "$2" "$1" | sed -n "s/.*$3 \([0-9.]*\) ms.*/\1/p" | tail -1; }

# snapshot SIZE DIR HOT: boot, let 32 MiB be written, snapshot, exit
snapshot() {
	rm -rf "$2" "$TMP/src.ser"
	"$MICROVM" --kernel "$IMG" --cpus 2 --memory "$1" --guest-arg 0=32 --guest-arg 1="$3" \
		--serial file="$TMP/src.ser" --snapshot destination_url=file://"$2",then=exit \
		>"$TMP/src.log" 2>&1 &
	p=$!; pids="$pids $p"
	wait_for "$TMP/src.ser" "round 2" 60 || { echo "source guest did not run" >&2; exit 1; }
	kill -USR1 $p
	wait $p
	ms_after "$TMP/src.log" "snapshot written" "in"
}

echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ {print int($2/1048576)}' /proc/meminfo) GiB, $(uname -r); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| guest RAM | snapshot ms | memory file | on disk | mode | restore call ms | exec to vCPUs running ms |"
echo "|---|---|---|---|---|---|---|"
for size in 128M 2G 16G; do
	SNAP=$TMP/snap-$size
	sms=$(snapshot $size "$SNAP" 0)
	apparent=$(du -h --apparent-size "$SNAP/memory" | cut -f1)
	disk=$(du -h "$SNAP/memory" | cut -f1)
	for mode in Copy OnDemand Shared; do
		: >"$TMP/call"; : >"$TMP/run"
		for r in $(seq "$RUNS"); do
			rm -f "$TMP/r.ser"
			CVMM_T0_NS=$(date +%s%N) "$MICROVM" --restore source_url=file://"$SNAP",memory_restore_mode=$mode,resume=on \
				--serial file="$TMP/r.ser" --log-level info >"$TMP/r.log" 2>&1 &
			p=$!; pids="$pids $p"
			wait_for "$TMP/r.ser" "round" 60 || echo "restore $mode $size: no round line" >&2
			! grep -qa MISMATCH "$TMP/r.ser" || echo "restore $mode $size: MISMATCH" >&2
			kill -TERM $p; wait $p 2>/dev/null
			ms_after "$TMP/r.log" "restored '" "in" >>"$TMP/call"
			ms_after "$TMP/r.log" "running" "running" >>"$TMP/run"
		done
		echo "| $size | $sms | $apparent | $disk | $mode | $(median <"$TMP/call") | $(median <"$TMP/run") |"
	done
	rm -rf "$SNAP"
done

echo
echo "10 clones of a 128 MiB guest (32 MiB of data, 1 MiB of it rewritten every round), PSS sum:"
SNAP=$TMP/snap-pss
snapshot 128M "$SNAP" 1 >/dev/null
for mode in Shared Copy; do
	cl=""
	for i in $(seq 10); do
		"$MICROVM" --restore source_url=file://"$SNAP",memory_restore_mode=$mode,resume=on \
			--serial file="$TMP/c$i.ser" >/dev/null 2>&1 &
		cl="$cl $!"; pids="$pids $!"
	done
	for i in $(seq 10); do wait_for "$TMP/c$i.ser" "round" 60; done
	sleep 1
	kb=0
	for p in $cl; do kb=$((kb + $(awk '/^Pss:/ {print $2}' /proc/$p/smaps_rollup))); done
	echo "  $mode: $((kb / 1024)) MiB for 10 clones"
	for p in $cl; do kill -TERM $p; done
	for p in $cl; do wait $p 2>/dev/null; done
done
