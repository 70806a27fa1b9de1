#!/bin/sh
# virtio-blk throughput: cvmm's blk device (io_uring and sync engines) driven
# by the virtio-queue driver helper through the virtio-mmio transport, and
# fio on the same tmpfs file from the host as the ceiling.
#   bench/virtio-blk/run-bench.sh BUILDDIR [SECONDS] [RUNS]
# Each figure is the median of RUNS runs (default 5) of SECONDS (default 3).
# "CPU us/IO" is user + system CPU time per request (every thread of the
# process; for fio its job thread): on a shared machine it is the steadier
# figure, the rates follow the load.
set -eu
build=${1:?usage: run-bench.sh BUILDDIR [SECONDS] [RUNS]}
secs=${2:-3}
runs=${3:-5}
bench="$build/bench/virtio-blk/bench-blk"
img=${CVMM_BENCH_IMG:-/dev/shm/cvmm-bench-blk.img}
[ -x "$bench" ] || { echo "build $bench first (make bench/virtio-blk/bench-blk)" >&2; exit 1; }
command -v fio >/dev/null || { echo "fio is not installed (apt-get install fio)" >&2; exit 1; }

trap 'rm -f "$img"' EXIT
dd if=/dev/urandom of="$img" bs=1M count=256 status=none

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# ours MODE ENGINE -> "iops mbps" medians
ours() {
	i=0; : >/tmp/cvmm-bench-blk.$$
	while [ $i -lt "$runs" ]; do
		"$bench" "$img" "$1" "$2" 32 "$secs" >>/tmp/cvmm-bench-blk.$$
		i=$((i + 1))
	done
	iops=$(sed 's/.*iops=\([0-9]*\).*/\1/' /tmp/cvmm-bench-blk.$$ | median)
	mbps=$(sed 's/.*mbps=\([0-9.]*\).*/\1/' /tmp/cvmm-bench-blk.$$ | median)
	cpu=$(sed 's/.*cpu_us=\([0-9.]*\).*/\1/' /tmp/cvmm-bench-blk.$$ | median)
	rm -f /tmp/cvmm-bench-blk.$$
	echo "$iops $mbps $cpu"
}

# fio RW BS ENGINE DEPTH -> "iops mbps" medians
fioc() {
	i=0; : >/tmp/cvmm-bench-fio.$$
	while [ $i -lt "$runs" ]; do
		fio --name=ceiling --filename="$img" --rw="$1" --bs="$2" --ioengine="$3" \
		    --iodepth="$4" --runtime="$secs" --time_based --output-format=terse \
		    --terse-version=3 2>/dev/null | awk -F';' '{ gsub("%", "", $88); gsub("%", "", $89);
		      printf "%d %.1f %.2f\n", $8, $7 * 1024 / 1e6,
		             $8 ? ($88 + $89) / 100 * $9 * 1000 / ($8 * $9 / 1000) : 0 }' \
		    >>/tmp/cvmm-bench-fio.$$
		i=$((i + 1))
	done
	iops=$(cut -d' ' -f1 /tmp/cvmm-bench-fio.$$ | median)
	mbps=$(cut -d' ' -f2 /tmp/cvmm-bench-fio.$$ | median)
	cpu=$(cut -d' ' -f3 /tmp/cvmm-bench-fio.$$ | median)
	rm -f /tmp/cvmm-bench-fio.$$
	echo "$iops $mbps $cpu"
}

row() { printf '%-28s %10s %10s %10s\n' "$1" "$2" "$3" "$4"; }
row "case (QD 32, tmpfs file)" IOPS MB/s "CPU us/IO"
for m in "randread4k randread 4k" "seqread128k read 128k"; do
	set -- $m
	mode=$1 rw=$2 bs=$3
	for e in uring sync; do
		row "cvmm $mode $e" $(ours "$mode" "$e")
	done
	row "fio $rw $bs io_uring" $(fioc "$rw" "$bs" io_uring 32)
	row "fio $rw $bs psync (QD 1)" $(fioc "$rw" "$bs" psync 1)
done
