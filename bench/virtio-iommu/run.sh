#!/bin/sh
# The virtio-iommu's cost per chain on the device side: instructions of
# bench_device_drain() under callgrind (deterministic) and chains per
# second (wall clock, median of 5 runs of 1M chains), for a queue not
# behind the IOMMU (maps 0) and behind it with 1, 64 and 4096 mappings.
#   run.sh [BENCH_BINARY]
set -eu
bin=${1:-${top_builddir:-.}/bench/virtio-iommu/bench-iommu}
chains=20000
command -v valgrind >/dev/null 2>&1 || { echo "run: valgrind not found" >&2; exit 77; }
[ -x "$bin" ] || { echo "run: $bin not built" >&2; exit 1; }
out=$(mktemp "${TMPDIR:-/tmp}/iommu-callgrind.XXXXXX")
trap 'rm -f "$out"' EXIT
ir() { # mode maps
	valgrind --tool=callgrind --toggle-collect=bench_device_drain \
		--callgrind-out-file="$out" -q "$bin" "$1" "$2" "$chains" 32 >/dev/null
	n=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$out")
	awk -v ir="$n" -v n="$chains" 'BEGIN { printf "%.1f", ir / n }'
}
rate() { # mode maps: median chains/s of 5 runs
	for i in 1 2 3 4 5; do
		"$bin" "$1" "$2" 1000000 32 | sed -n 's/.*chains_per_s=\([0-9]*\).*/\1/p'
	done | sort -n | sed -n 3p
}
echo "# mode maps instructions/chain chains/s (batch 32)"
for mode in split-1 split-3 split-ind; do
	for maps in 0 1 64 4096; do
		echo "$mode $maps $(ir "$mode" "$maps") $(rate "$mode" "$maps")"
	done
done
