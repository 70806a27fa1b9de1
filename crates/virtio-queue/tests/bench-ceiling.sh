#!/bin/sh
# TAP: the device side's cost per chain stays under a ceiling (callgrind
# instruction counts are deterministic). The ceilings are the figures
# measured with gcc 12 -O2 (docs/crates/virtio-queue.md) plus about 7%, so a
# regression of a few instructions per chain trips them. Skips without
# valgrind, for sanitizer builds (valgrind cannot run them) and for
# unoptimised builds.
bin=${top_builddir:-.}/bench/virtio-queue/bench-virtq
skip_all() { echo "1..0 # SKIP $1"; exit 0; }
command -v valgrind >/dev/null 2>&1 || skip_all "valgrind not installed"
[ -x "$bin" ] || skip_all "$bin not built"
if nm "$bin" 2>/dev/null | grep -q '__asan_init\|__ubsan_handle'; then
	skip_all "sanitizer build (valgrind cannot run it)"
fi
"$bin" split-1 64 32 | grep -q 'optimized=1' || skip_all "unoptimised build"

out=$(mktemp "${TMPDIR:-/tmp}/vq-ceiling.XXXXXX")
trap 'rm -f "$out"' EXIT
chains=3200
set -- split-1:152 split-3:284 split-ind:402 packed-1:154 packed-3:350 packed-ind:482
echo "1..$#"
n=0
for pair in "$@"; do
	n=$((n + 1))
	mode=${pair%%:*} ceiling=${pair#*:}
	if ! valgrind --tool=callgrind --toggle-collect=bench_device_drain \
		--callgrind-out-file="$out" -q "$bin" "$mode" "$chains" 32 >/dev/null 2>&1; then
		echo "not ok $n - $mode: benchmark failed under valgrind"
		continue
	fi
	ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$out")
	per=$(( ${ir:-999999999} / chains ))
	if [ "$per" -le "$ceiling" ]; then
		echo "ok $n - $mode: $per instructions per chain (ceiling $ceiling)"
	else
		echo "not ok $n - $mode: $per instructions per chain, above the ceiling of $ceiling"
	fi
done
