#!/bin/sh
# Instructions cvmm-vhost-user-blk executes per I/O (callgrind: counts, not
# time, so a loaded machine does not move it), marginal over a short and a
# long run so start-up and connection set-up cancel out:
#
#   bench/vhost-user-blk/callgrind.sh [BUILDDIR] [RW] [QD]   (randread 32)
#
# The daemon runs under valgrind with --seccomp off (valgrind's own
# syscalls are not in the filters); cvmm-virtio-user-bench drives 4 KiB
# requests at depth QD on a 64 MiB tmpfs image for 1 s and for 4 s.
set -eu
B=${1:-.}
RW=${2:-randread}
QD=${3:-32}
DAEMON=$B/examples/vhost-user-blk/cvmm-vhost-user-blk
DRIVER=$B/examples/virtio-user/cvmm-virtio-user-bench
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind not installed" >&2; exit 1; }
DIR=$(mktemp -d "${BENCH_SHM:-/dev/shm}/cvmm-vub-cg.XXXXXX")
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT INT TERM
dd if=/dev/urandom of="$DIR/disk.img" bs=1M count=64 status=none

# one SECONDS -> "ios instructions"
one() {
	rm -f "$DIR/s" "$DIR/cg.out"
	valgrind --tool=callgrind --callgrind-out-file="$DIR/cg.out" -q \
		"$DAEMON" --socket "$DIR/s" --disk "$DIR/disk.img" --seccomp off 2>"$DIR/err" &
	PID=$!
	i=0
	while [ ! -S "$DIR/s" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	out=$("$DRIVER" --socket "$DIR/s" --rw "$RW" --bs 4096 --qd "$QD" --seconds "$1")
	kill "$PID"; wait "$PID" || true; PID=
	ios=$(echo "$out" | tr ' ' '\n' | sed -n 's/^ios=//p')
	ir=$(callgrind_annotate "$DIR/cg.out" | sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
	echo "$ios $ir"
}
set -- $(one 1) $(one 4)
echo "$RW 4 KiB qd$QD: $(( ($4 - $2) / ($3 - $1) )) instructions per I/O (runs of $1 and $3 I/Os)"
