#!/bin/sh
# vhost-user-blk side by side: cvmm-vhost-user-blk and qemu-storage-daemon
# serve the same tmpfs image; the same driver (cvmm-virtio-user-bench, a
# vhost-user frontend + virtio-blk driver in one host process) measures
# 4 KiB random read/write IOPS at queue depth 1 and 32, 128 KiB sequential
# read/write MB/s, and the daemon's CPU time per I/O (utime + stime from
# /proc/PID/stat over the run).
#
#   bench/vhost-user-blk/run.sh [BUILDDIR] [SECONDS]
#
# Needs the build of examples/vhost-user-blk/cvmm-vhost-user-blk and
# examples/virtio-user/cvmm-virtio-user-bench; qemu-storage-daemon is
# skipped (column "-") when absent.
set -eu
B=${1:-.}
SECS=${2:-5}
DAEMON=$B/examples/vhost-user-blk/cvmm-vhost-user-blk
DRIVER=$B/examples/virtio-user/cvmm-virtio-user-bench
QSD=/usr/bin/qemu-storage-daemon
SHM=${BENCH_SHM:-/dev/shm}
DIR=$(mktemp -d "$SHM/cvmm-vub-bench.XXXXXX")
IMG=$DIR/disk.img
SOCK=$DIR/blk.sock
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT INT TERM

for f in "$DAEMON" "$DRIVER"; do
	[ -x "$f" ] || { echo "run.sh: $f not built" >&2; exit 1; }
done
# 256 MiB of real data on tmpfs (no holes: reads must hit pages).
dd if=/dev/urandom of="$IMG" bs=1M count=256 status=none
HZ=$(getconf CLK_TCK)

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

start() {
	rm -f "$SOCK"
	case $1 in
	cvmm) "$DAEMON" --socket "$SOCK" --disk "$IMG" & PID=$! ;;
	qsd) "$QSD" --blockdev "driver=file,node-name=f,filename=$IMG,aio=io_uring" \
		--export "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=$SOCK,writable=on" \
		>/dev/null 2>&1 & PID=$! ;;
	esac
	i=0
	while [ ! -S "$SOCK" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
}

stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }

# run NAME RW BS QD -> "value cpu_us_per_io" (value: IOPS or MB/s)
run() {
	c0=$(cpu_ticks "$PID")
	out=$("$DRIVER" --socket "$SOCK" --rw "$2" --bs "$3" --qd "$4" --seconds "$SECS")
	c1=$(cpu_ticks "$PID")
	echo "$out" | awk -v c=$((c1 - c0)) -v hz="$HZ" -v kind="$5" '{
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		val = kind == "mbps" ? v["mbps"] : v["iops"]
		printf "%s %.1f\n", val, c / hz * 1e6 / v["ios"] }'
}

WORK="randread:4096:1:iops randread:4096:32:iops randwrite:4096:1:iops randwrite:4096:32:iops read:131072:8:mbps write:131072:8:mbps"
for d in cvmm qsd; do
	if [ $d = qsd ] && [ ! -x "$QSD" ]; then continue; fi
	start $d
	for w in $WORK; do
		IFS=: read rw bs qd kind <<EOT
$w
EOT
		set -- $(run $d "$rw" "$bs" "$qd" "$kind")
		eval "R_${d}_${rw}_${qd}=\$1 C_${d}_${rw}_${qd}=\$2"
	done
	stop
done

get() { eval "echo \${$1:--}"; }
echo "vhost-user-blk, 256 MiB image on tmpfs, ${SECS}s per cell, driver: cvmm-virtio-user-bench (1 queue)"
printf '| %-28s | %14s | %14s | %12s | %12s |\n' workload cvmm qsd "cvmm CPU/IO" "qsd CPU/IO"
printf '|%s|%s|%s|%s|%s|\n' ------------------------------ ----------------: ----------------: --------------: --------------:
for w in $WORK; do
	IFS=: read rw bs qd kind <<EOT
$w
EOT
	label="$rw $((bs / 1024)) KiB qd$qd ($( [ $kind = iops ] && echo IOPS || echo MB/s))"
	printf '| %-28s | %14s | %14s | %9s us | %9s us |\n' "$label" \
		"$(get R_cvmm_${rw}_${qd})" "$(get R_qsd_${rw}_${qd})" \
		"$(get C_cvmm_${rw}_${qd})" "$(get C_qsd_${rw}_${qd})"
done
