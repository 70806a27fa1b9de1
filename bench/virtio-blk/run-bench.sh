#!/bin/sh
# virtio-blk throughput: cvmm's blk device (io_uring and sync engines) driven
# by the virtio-queue driver helper through the virtio-mmio transport, and
# fio on the same tmpfs file from the host as the ceiling.
#   bench/virtio-blk/run-bench.sh BUILDDIR [SECONDS] [RUNS]
# Each figure is the median of RUNS runs (default 5) of SECONDS (default 3).
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
	rm -f /tmp/cvmm-bench-blk.$$
	echo "$iops $mbps"
}

# fio RW BS ENGINE DEPTH -> "iops mbps" medians
fioc() {
	i=0; : >/tmp/cvmm-bench-fio.$$
	while [ $i -lt "$runs" ]; do
		fio --name=ceiling --filename="$img" --rw="$1" --bs="$2" --ioengine="$3" \
		    --iodepth="$4" --runtime="$secs" --time_based --output-format=terse \
		    --terse-version=3 2>/dev/null | awk -F';' '{print $8, $7 * 1024 / 1e6}' \
		    >>/tmp/cvmm-bench-fio.$$
		i=$((i + 1))
	done
	iops=$(cut -d' ' -f1 /tmp/cvmm-bench-fio.$$ | median)
	mbps=$(cut -d' ' -f2 /tmp/cvmm-bench-fio.$$ | median)
	rm -f /tmp/cvmm-bench-fio.$$
	echo "$iops $mbps"
}

printf '%-28s %12s %10s\n' "case (QD 32, tmpfs file)" "IOPS" "MB/s"
for m in "randread4k randread 4k" "seqread128k read 128k"; do
	set -- $m
	for e in uring sync; do
		set -- $(ours "$1" "$e") "$@"
		printf '%-28s %12s %10s\n' "cvmm $3 $e" "$1" "$2"
		shift 2
	done
	set -- $(fioc "$2" "$3" io_uring 32) "$@"
	printf '%-28s %12s %10s\n' "fio $4 io_uring" "$1" "$2"
	shift 2
	set -- $(fioc "$2" "$3" psync 1) "$@"
	printf '%-28s %12s %10s\n' "fio $4 psync (QD 1)" "$1" "$2"
done
