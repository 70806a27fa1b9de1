#!/bin/sh
# Instructions per chain popped, walked and completed by the device side,
# counted by callgrind over bench_device_drain() only (stable across runs).
#   run-bench.sh [BENCH_BINARY] [CHAINS]
# Prints "MODE per-chain(batch of 32) per-chain(batch of 1)" per mode:
# a drain after each kick (one notification decision per batch), and the
# worst case of one chain per kick.
set -eu
bin=${1:-${top_builddir:-.}/bench/virtio-queue/bench-virtq}
chains=${2:-20000}
command -v valgrind >/dev/null 2>&1 || { echo "run-bench: valgrind not found" >&2; exit 77; }
[ -x "$bin" ] || { echo "run-bench: $bin not built" >&2; exit 1; }
out=$(mktemp "${TMPDIR:-/tmp}/vq-callgrind.XXXXXX")
trap 'rm -f "$out"' EXIT
per_chain() { # mode batch
	valgrind --tool=callgrind --toggle-collect=bench_device_drain \
		--callgrind-out-file="$out" -q "$bin" "$1" "$chains" "$2" >/dev/null
	ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$out")
	[ -n "$ir" ] || { echo "run-bench: no callgrind summary for $1" >&2; exit 1; }
	awk -v ir="$ir" -v n="$chains" 'BEGIN { printf "%.1f", ir / n }'
}
echo "# mode batch32 batch1 (instructions per chain)"
for mode in split-1 split-3 split-ind packed-1 packed-3 packed-ind; do
	echo "$mode $(per_chain "$mode" 32) $(per_chain "$mode" 1)"
done
