#!/bin/sh
# The VM core's figures (docs/benchmarks.md "VM core"): pause latency on
# 1/2/8 vCPUs with the guest spinning, doing MMIO/port I/O, or halted, and
# the size and time of the whole-VM state. They come from the integration
# tests, which print them as TAP comments; timing never decides a test.
# usage: bench/vmm/run.sh BUILDDIR [rounds]
set -eu
build=${1:?usage: $0 BUILDDIR [rounds]}
rounds=${2:-3}
make -s -C "$build" tests/integration/test-vmm-pause tests/integration/test-vmm-state >/dev/null
echo "# machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r)"
i=1
while [ "$i" -le "$rounds" ]; do
	echo "## round $i"
	"$build/tests/integration/test-vmm-pause" | grep '^# pause'
	"$build/tests/integration/test-vmm-state" | grep -E '^# (state without|restore with)' | awk '!seen[$2 $3]++'
	i=$((i + 1))
done
