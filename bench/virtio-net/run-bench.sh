#!/bin/sh
# virtio-net transmit throughput into a TAP (see bench-net.c), 64- and
# 1500-byte frames; each figure is the median of RUNS runs of SECONDS.
#   bench/virtio-net/run-bench.sh BUILDDIR [SECONDS] [RUNS]    (as root)
set -eu
build=${1:?usage: run-bench.sh BUILDDIR [SECONDS] [RUNS]}
secs=${2:-3}
runs=${3:-5}
bench="$build/bench/virtio-net/bench-net"
[ -x "$bench" ] || { echo "build $bench first (make bench/virtio-net/bench-net)" >&2; exit 1; }
tmp=$(mktemp); trap 'rm -f "$tmp"' EXIT
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
i=0
while [ $i -lt "$runs" ]; do "$bench" "$secs" 64 1500 >>"$tmp"; i=$((i + 1)); done
echo "| frame bytes | packets/s | Gbit/s | kernel rx / frames sent (worst run) |"
echo "|---:|---:|---:|---:|"
for f in 64 1500; do
	pps=$(grep "^frame=$f " "$tmp" | sed 's/.*pps=\([0-9]*\).*/\1/' | median)
	gbps=$(grep "^frame=$f " "$tmp" | sed 's/.*gbps=\([0-9.]*\).*/\1/' | median)
	ok=$(grep "^frame=$f " "$tmp" | awk 'BEGIN { m = 1e9 }
		{ split($4, s, "="); split($5, k, "="); r = k[2] / s[2]; if (r < m) m = r }
		END { printf "%.4f", m }')
	echo "| $f | $pps | $gbps | $ok |"
done
echo
echo "raw runs:"; cat "$tmp"
