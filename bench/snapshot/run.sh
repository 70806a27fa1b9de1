#!/bin/sh
# Snapshot and restore figures for docs/benchmarks.md (never part of make
# check).
# 1. For 128 MiB, 2 GiB and 16 GiB guests with 32 MiB touched
#    (tests/guests/snapshot.c, 2 vCPUs, printing a line every round), the
#    time to write a snapshot and its size on disk, then per memory mode
#    the median of $RUNS restores (bench/snapshot/restore1.py): the time
#    inside cvmm_vmm_snapshot_restore(), exec of the restoring
#    cvmm-microvm to its vCPUs running, and exec to the guest's next
#    serial line (its first round after the restore: every page it checks
#    has been brought in by then).
# 2. Side by side in the same run with QEMU 7.2 (bench/snapshot/qemu.py):
#    the same idle PVH guest (tests/boot-guests/pvh.elf, echo prompt),
#    2 vCPUs, 128 MiB and 2 GiB, saved and loaded by both.
# 3. The PSS sum of 10 clones restored Shared vs Copy (a guest with 32 MiB
#    of data of which 1 MiB keeps changing).
# Usage: bench/snapshot/run.sh BUILDDIR [RUNS]
set -u
B=$(cd "${1:-.}" && pwd)
RUNS=${2:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
MICROVM=$B/examples/microvm/cvmm-microvm
IMG=$B/tests/guests/snapshot.img
PVH=$B/tests/boot-guests/pvh.elf
TMP=$(mktemp -d /var/tmp/cvmm-snapbench-XXXXXX)
pids=""
trap 'for p in $pids; do kill -9 $p 2>/dev/null; done; rm -rf "$TMP"' EXIT

wait_for() { i=0; while ! grep -qaF -- "$2" "$1" 2>/dev/null; do [ $i -ge $(($3 * 20)) ] && return 1; sleep 0.05; i=$((i + 1)); done; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms_after() { grep -a "$2" "$1" | sed -n "s/.*$3 \([0-9.]*\) ms.*/\1/p" | tail -1; }

# snapshot DIR READY-TEXT VMM-ARGS...: boot, wait for READY-TEXT on the
# serial port, snapshot, exit; prints the snapshot's ms
snapshot() {
	dir=$1 ready=$2; shift 2
	rm -rf "$dir" "$TMP/src.ser"
	"$MICROVM" "$@" --serial file="$TMP/src.ser" \
		--snapshot destination_url=file://"$dir",then=exit >"$TMP/src.log" 2>&1 &
	p=$!; pids="$pids $p"
	wait_for "$TMP/src.ser" "$ready" 60 || { echo "source guest did not run" >&2; exit 1; }
	kill -USR1 $p
	wait $p
	ms_after "$TMP/src.log" "snapshot written" "in"
}

# restores SNAP MODE [nowait]: $RUNS restores; prints the three medians
restores() {
	: >"$TMP/rs"
	for r in $(seq "$RUNS"); do
		python3 "$HERE/restore1.py" "$MICROVM" "$1" "$2" ${3:-} >>"$TMP/rs"
	done
	! grep -q MISMATCH "$TMP/rs" || echo "restore $2 of $1: MISMATCH" >&2
	echo "$(cut -d' ' -f1 "$TMP/rs" | median) | $(cut -d' ' -f2 "$TMP/rs" | median) | $(cut -d' ' -f3 "$TMP/rs" | median)"
}

echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(awk '/MemTotal/ {print int($2/1048576)}' /proc/meminfo) GiB, $(uname -r); load: $(cut -d' ' -f1-3 /proc/loadavg); $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "| guest RAM | snapshot ms | memory file | on disk | mode | restore call ms | exec to vCPUs running ms | exec to next serial line ms |"
echo "|---|---:|---:|---:|---|---:|---:|---:|"
for size in 128M 2G 16G; do
	SNAP=$TMP/snap-$size
	sms=$(snapshot "$SNAP" "round 20" --kernel "$IMG" --cpus 2 --memory $size \
		--guest-arg 0=32 --guest-arg 2=1)
	apparent=$(du -h --apparent-size "$SNAP/memory" | cut -f1)
	disk=$(du -h "$SNAP/memory" | cut -f1)
	for mode in Copy OnDemand Shared; do
		echo "| $size | $sms | $apparent | $disk | $mode | $(restores "$SNAP" $mode) |"
	done
	rm -rf "$SNAP"
done

echo
echo "Side by side, the same idle PVH guest (2 vCPUs):"
echo
echo "| VMM | guest RAM | save | file | load |"
echo "|---|---|---|---|---|"
for mib in 128 2048; do
	SNAP=$TMP/pvh-$mib
	sms=$(snapshot "$SNAP" "echo: ready" --kernel "$PVH" --cmdline echo --cpus 2 --memory ${mib}M)
	disk=$(du -k "$SNAP/memory" | cut -f1)
	for mode in Copy OnDemand Shared; do
		m=$(restores "$SNAP" $mode nowait)
		echo "| cvmm $mode | $mib MiB | snapshot $sms ms | memory file on disk $disk KiB | restore call $(echo "$m" | cut -d'|' -f1| tr -d ' ') ms; exec to running $(echo "$m" | cut -d'|' -f2 | tr -d ' ') ms |"
	done
	rm -rf "$SNAP"
	python3 "$HERE/qemu.py" "$B" $mib "$RUNS"
done

echo
echo "10 clones of a 128 MiB guest (32 MiB of data, 1 MiB of it rewritten every round), PSS sum:"
SNAP=$TMP/snap-pss
snapshot "$SNAP" "round 20" --kernel "$IMG" --cpus 2 --memory 128M --guest-arg 0=32 \
	--guest-arg 1=1 --guest-arg 2=1 >/dev/null
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
exit 0
