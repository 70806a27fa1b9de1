#!/bin/sh
# Post-copy of a VM with a vhost-user disk (cvmm-vhost-user-blk, the
# snapshot-blk guest doing I/O) from one cvmm-microvm to another, each with
# a daemon of its own; prints the destination's vm.migration-progress at
# the end (downtime = switch-over, page requests, fault service median and
# p99) and how many faults of the destination's daemon were served.
# Usage (in a build directory): sh ../bench/migration/vhost-postcopy.sh BUILDDIR [MEMORY_MIB]
B=${1:?usage: vhost-postcopy.sh BUILDDIR [MEMORY_MIB]}
MEM=${2:-512}
T=$(mktemp -d)
pids=""
trap 'for p in $pids; do kill -9 $p 2>/dev/null; done; rm -rf "$T"' EXIT
R() { timeout 60 "$B/examples/remote/cvmm-remote" --api-socket "$@"; }
wait_file() { i=0; while ! [ -e "$1" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done; }
truncate -s 1M "$T/disk.img"
"$B/examples/vhost-user-blk/cvmm-vhost-user-blk" --socket "$T/vu" --disk "$T/disk.img" 2>"$T/d0" &
pids="$pids $!"; wait_file "$T/vu"
"$B/examples/microvm/cvmm-microvm" --kernel "$B/tests/guests/snapshot-blk.img" --transport mmio --memory "${MEM}M" \
	--disk vhost_user=on,socket="$T/vu" --serial file="$T/o0" --api-socket "$T/a0" 2>"$T/e0" &
pids="$pids $!"; src=$!
i=0; while ! grep -q "blk pass 32" "$T/o0" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
rm -f "$T/vu"
"$B/examples/vhost-user-blk/cvmm-vhost-user-blk" --socket "$T/vu" --disk "$T/disk.img" --locking off 2>"$T/d1" &
pids="$pids $!"; wait_file "$T/vu"
"$B/examples/microvm/cvmm-microvm" --api-socket "$T/a1" --log-level info 2>"$T/e1" >"$T/o1" </dev/null &
pids="$pids $!"; wait_file "$T/a1"
R "$T/a1" receive-migration receiver_url=unix:"$T/m",memory_mode=Postcopy >/dev/null
t0=$(date +%s%N)
R "$T/a0" send-migration destination_url=unix:"$T/m",memory_mode=Postcopy >/dev/null 2>&1
t1=$(date +%s%N)
i=0; while kill -0 $src 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
echo "send-migration returned after $(( (t1 - t0) / 1000000 )) ms"
R "$T/a1" migration-progress
grep -ah "faults of its vhost-user backend" "$T/e1" "$T/o1" | sed 's/.*post-copy: /daemon: /'
