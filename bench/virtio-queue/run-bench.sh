#!/bin/sh
# Instructions per chain popped, walked and completed by the device side,
# counted by callgrind over bench_device_step() only (stable across runs).
#   run-bench.sh [BENCH_BINARY] [CHAINS]
# Prints one "MODE instructions-per-chain" line per mode.
set -eu
bin=${1:-${top_builddir:-.}/bench/virtio-queue/bench-virtq}
chains=${2:-20000}
command -v valgrind >/dev/null 2>&1 || { echo "run-bench: valgrind not found" >&2; exit 77; }
[ -x "$bin" ] || { echo "run-bench: $bin not built" >&2; exit 1; }
out=$(mktemp "${TMPDIR:-/tmp}/vq-callgrind.XXXXXX")
trap 'rm -f "$out"' EXIT
for mode in split-1 split-3 split-ind packed-1 packed-3 packed-ind; do
	valgrind --tool=callgrind --toggle-collect=bench_device_step \
		--callgrind-out-file="$out" -q "$bin" "$mode" "$chains" >/dev/null
	ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$out")
	[ -n "$ir" ] || { echo "run-bench: no callgrind summary for $mode" >&2; exit 1; }
	echo "$mode $(awk -v ir="$ir" -v n="$chains" 'BEGIN { printf "%.1f", ir / n }')"
done
