#!/bin/sh
# Usage: bench/memory-resize/virtio-mem-rss.sh BUILDDIR [MiB]
# cvmm-microvm with 128 MiB of RAM and a 2 GiB virtio-mem region: the CPL3
# virtio-mem guest plugs MiB (default 512) when vm.resize desired_ram asks,
# writes every page, and unplugs it all when desired_ram goes back. Prints
# the VMM's VmRSS at each step and the wall time from the API call to the
# guest's line (the guest's first touch of each page dominates on PVM).
set -eu
B=${1:-build}; N=${2:-512}
T=$(mktemp -d); S=$T/api.sock; O=$T/out
trap 'kill -9 $P 2>/dev/null; rm -rf "$T"' EXIT
R() { timeout 20 "$B/examples/remote/cvmm-remote" --api-socket "$S" "$@"; }
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
ms() { echo $(($(date +%s%N) / 1000000)); }
waitfor() { i=0; while ! grep -q "$1" "$O" 2>/dev/null; do i=$((i + 1)); [ $i -lt 12000 ] || exit 1; sleep 0.01; done; }
"$B/examples/microvm/cvmm-microvm" --api-socket "$S" --kernel "$B/tests/guests/virtio-mem.img" --transport mmio \
	--memory size=128M,hotplug_method=virtio-mem,hotplug_size=2G --guest-arg 0=$((N << 20)) >"$O" 2>&1 &
P=$!
waitfor "hostile requests refused"
r0=$(rss $P); t0=$(ms)
R resize desired_ram=$(((128 + N) << 20))
waitfor "written and read back"
t1=$(ms); r1=$(rss $P)
t2=$(ms); R resize desired_ram=$((128 << 20))
waitfor "unplugged all"
t3=$(ms); r2=$(rss $P)
R resize desired_ram=$(((128 + 2) << 20))
rc=0; wait $P || rc=$?
echo "virtio-mem $N MiB: VmRSS $r0 kB -> $r1 kB (plugged and written in $((t1 - t0)) ms) -> $r2 kB (unplugged in $((t3 - t2)) ms); guest exit $rc"
