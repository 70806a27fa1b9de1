#!/bin/sh
# cvmm-vhost-user-blk's seccomp filters (one per thread type: main, the
# protocol thread; worker, each vring worker; signals): every thread of a
# daemon serving a frontend (virtio-user's bench, io_uring included) is
# filtered, reconnects and SIGTERM work under the filters, each thread type
# dies of a syscall it does not need, --seccomp off/log, the exported JSON
# filter, the flags' errors, and the rule counts against Firecracker's.
. "${top_srcdir:-.}/tests/sandbox/seccomp-lib.sh"
VUBLK=$top_builddir/examples/vhost-user-blk/cvmm-vhost-user-blk
BENCH=$top_builddir/examples/virtio-user/cvmm-virtio-user-bench
if ! [ -x "$BENCH" ]; then
	echo "1..0 # SKIP $BENCH not built"
	exit 0
fi
plan 29

truncate -s 16M "$TMP/disk.img"
dpid=
trap '[ -n "$dpid" ] && kill -9 "$dpid" 2>/dev/null; rm -rf "$TMP"' EXIT

# start [FLAGS...]: the daemon in the background on $TMP/s, with
# CVMM_SECCOMP_SELFTEST=$ST when ST is set; until it listens.
start() {
	rm -f "$TMP/s"
	env ${ST:+CVMM_SECCOMP_SELFTEST=$ST} "$VUBLK" --socket "$TMP/s" --disk "$TMP/disk.img" \
		--queues 2 "$@" >"$TMP/daemon.log" 2>&1 &
	dpid=$!
	eventually 20 test -S "$TMP/s"
}
# bench SECONDS: a frontend writing through the daemon.
bench() {
	timeout 60 "$BENCH" --socket "$TMP/s" --rw randwrite --qd 16 --size 16M \
		--seconds "$1" >"$TMP/bench" 2>&1
}
served() { grep -q "ios=[1-9]" "$TMP/bench"; }

# Every thread while a frontend does I/O: the protocol thread, both
# workers, the signal thread, and the io_uring workers (iou-wrk-TID) the
# kernel starts for the submitting worker; then the modes.
daemon_checks vhost-user-blk

run_st() {
	rc=0
	env CVMM_SECCOMP_SELFTEST="$ST" timeout 30 "$VUBLK" --socket "$TMP/st.sock" \
		--disk "$TMP/disk.img" >"$TMP/st" 2>&1 || rc=$?
}
selftest_kills run_st main worker signals

# The exported set (daemon_checks) is what the threads get:
# without accept4 the protocol thread dies at the first frontend.
sed 's/"syscall": "accept4"/"syscall": "accept"/' "$TMP/filters.json" >"$TMP/noaccept.json"
ST= start --seccomp-filter "$TMP/noaccept.json"
bench 1
wait_pid "$dpid" 20
dpid=
check "--seccomp-filter: a main filter without accept4 kills the daemon at the first frontend" \
	trapped "$rc" "$TMP/daemon.log" main accept4

run_blk() {
	rc=0
	timeout 30 "$VUBLK" --socket "$TMP/err.sock" --disk "$TMP/disk.img" "$@" >"$TMP/err" 2>&1 ||
		rc=$?
}
flag_errors vhost-user-blk cvmm-vhost-user-blk run_blk

# Fewer rules than Firecracker's x86_64 filters; the daemon's threads do
# device work that Firecracker's VMM thread (76 rules) does.
"$EXPORT" vhost-user-blk --count | sed 's/^/# /'
for thr in main worker signals; do
	below vhost-user-blk "$thr" 76 VMM
done
finish
