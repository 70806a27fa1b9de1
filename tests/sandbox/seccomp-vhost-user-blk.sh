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
# stop: SIGTERM, the exit status in $rc.
stop() {
	kill -TERM "$dpid" 2>/dev/null
	rc=0
	wait "$dpid" || rc=$?
	dpid=
}
# bench SECONDS: a frontend writing through the daemon.
bench() {
	timeout 60 "$BENCH" --socket "$TMP/s" --rw randwrite --qd 16 --size 16M \
		--seconds "$1" >"$TMP/bench" 2>&1
}
served() { grep -q "ios=[1-9]" "$TMP/bench"; }
served_ok() { served && test "$rc" -eq 0; }

# Every thread, looked at again and again while a frontend does I/O: the
# protocol thread, both workers, the signal thread, and the io_uring
# workers (iou-wrk-TID) the kernel starts for the submitting worker.
ST= start
eventually 20 all_filtered "$dpid"
bench 2 &
bpid=$!
bad=0 looks=0 names=
while kill -0 "$bpid" 2>/dev/null; do
	all_filtered "$dpid" || bad=$((bad + 1))
	names="$names $(thread_names "$dpid")"
	looks=$((looks + 1))
	sleep 0.1
done
wait "$bpid"
names=$(echo $names | tr ' ' '\n' | sort -u | tr '\n' ' ')
echo "# threads seen in $looks looks: $names"
check "while serving, every thread shows Seccomp: 2 at every look ($names)" test "$bad" -eq 0
check "the threads: protocol thread, workers, signal thread" \
	sh -c "echo '$names' | grep -q cvmm-vhost-user && echo '$names' | grep -q vub-worker &&
	       echo '$names' | grep -q vub-signals"
check "the frontend's I/O was served" served
bench 1
check "a second frontend (accept under the filter) is served" served
stop
check "SIGTERM under the filters: exit 0, socket file removed" \
	sh -c "test $rc -eq 0 && ! test -e '$TMP/s'"

# Each thread type dies of execve, the open of a new file, socket(AF_INET).
for thr in main worker signals; do
	for call in execve open socket; do
		want=$call
		[ "$call" = open ] && want=openat
		rc=0
		CVMM_SECCOMP_SELFTEST=$thr:$call timeout 30 "$VUBLK" --socket "$TMP/st.sock" \
			--disk "$TMP/disk.img" >"$TMP/st" 2>&1 || rc=$?
		out=$TMP/st
		check "$thr thread: $call is trapped (exit 159, message names $want)" \
			trapped "$rc" "$TMP/st" "$thr" "$want"
		out=
	done
done

# --seccomp off: no filter, the forbidden call runs, the daemon serves.
ST=worker:socket start --seccomp off
bench 1
stop
check "--seccomp off: a worker's socket call runs, the frontend is served, exit 0" served_ok
# --seccomp log: the call runs (the kernel logs it).
ST=main:execve start --seccomp log
bench 1
stop
check "--seccomp log: execve runs and is only logged" \
	sh -c "test $rc -eq 0 && ! grep -q forbidden '$TMP/daemon.log'"
check "--seccomp log: the frontend is served" served

# The exported built-in set works as a file, and is what the threads get:
# without accept4 the protocol thread dies at the first frontend.
"$EXPORT" vhost-user-blk >"$TMP/filters.json"
ST= start --seccomp-filter "$TMP/filters.json"
bench 1
stop
check "--seccomp-filter with the exported set: served, exit 0" served_ok
sed 's/"syscall": "accept4"/"syscall": "accept"/' "$TMP/filters.json" >"$TMP/noaccept.json"
ST= start --seccomp-filter "$TMP/noaccept.json"
bench 1
rc=0
wait "$dpid" || rc=$?
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
	check "$thr thread: $(rules vhost-user-blk $thr) rules < Firecracker's VMM thread's 76" \
		test "$(rules vhost-user-blk $thr)" -lt 76
done
finish
