#!/bin/sh
# cvmm-vhost-user-net's seccomp filters (one per thread type: main, the
# protocol thread; worker, each vring worker; signals), on a TAP in a
# private network namespace: every thread of a daemon serving a frontend
# (virtio-user-net's transmit bench) is filtered, reconnects and SIGTERM
# work under the filters, each thread type dies of a syscall it does not
# need, --seccomp off/log, the exported JSON filter, the flags' errors, and
# the rule counts against Firecracker's.
. "${top_srcdir:-.}/tests/sandbox/seccomp-lib.sh"
VUNET=$top_builddir/examples/vhost-user-net/cvmm-vhost-user-net
BENCH=$top_builddir/examples/vhost-user-net/cvmm-virtio-user-net-bench
if ! unshare -n true 2>/dev/null || ! command -v ip >/dev/null || ! [ -x "$BENCH" ]; then
	echo "1..0 # SKIP needs unshare -n, ip and $BENCH"
	exit 0
fi
plan 29

dpid=
trap '[ -n "$dpid" ] && kill -9 "$dpid" 2>/dev/null; rm -rf "$TMP"' EXIT

# netd ARGS...: replaces the calling (sub)shell with the daemon (2 queue
# pairs) in a new network namespace with an up multi-queue TAP vtap0; CVMM_SECCOMP_SELFTEST=$ST when
# ST is set, under `timeout $TO` when TO is set.
netd() {
	exec env ${ST:+CVMM_SECCOMP_SELFTEST=$ST} ${TO:+timeout $TO} unshare -n sh -c \
		'ip tuntap add dev vtap0 mode tap multi_queue && ip link set vtap0 up || exit 99
		 exec "$@"' sh "$VUNET" --tap vtap0 --queues 2 "$@"
}
# start [FLAGS...]: the daemon in the background on $TMP/s
# ($dpid is the daemon itself); until it listens.
start() {
	rm -f "$TMP/s"
	TO= netd --socket "$TMP/s" "$@" >"$TMP/daemon.log" 2>&1 &
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
# bench SECONDS: a frontend transmitting through the daemon to the TAP.
bench() {
	timeout 60 "$BENCH" --socket "$TMP/s" --size 256 --seconds "$1" >"$TMP/bench" 2>&1
}
served() { grep -q "frames=[1-9]" "$TMP/bench"; }
served_ok() { served && test "$rc" -eq 0; }

# Every thread, looked at again and again while a frontend transmits: the
# protocol thread, the four workers (two pairs), the signal thread.
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
out=$TMP/daemon.log
check "SIGTERM under the filters: exit 0, socket file removed" \
	sh -c "test $rc -eq 0 && ! test -e '$TMP/s'"

# Each thread type dies of execve, the open of a new file, socket(AF_INET).
for thr in main worker signals; do
	for call in execve open socket; do
		want=$call
		[ "$call" = open ] && want=openat
		rc=0
		(ST=$thr:$call TO=30 netd --socket "$TMP/st.sock") >"$TMP/st" 2>&1 || rc=$?
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
# without writev a worker dies at the first frame sent.
"$EXPORT" vhost-user-net >"$TMP/filters.json"
ST= start --seccomp-filter "$TMP/filters.json"
bench 1
stop
check "--seccomp-filter with the exported set: served, exit 0" served_ok
sed 's/"syscall": "writev"/"syscall": "readv"/' "$TMP/filters.json" >"$TMP/nowritev.json"
ST= start --seccomp-filter "$TMP/nowritev.json"
bench 1
rc=0
wait "$dpid" || rc=$?
dpid=
check "--seccomp-filter: a worker filter without writev kills the daemon at the first frame" \
	trapped "$rc" "$TMP/daemon.log" worker writev

run_net() {
	rc=0
	(ST= TO=30 netd --socket "$TMP/err.sock" "$@") >"$TMP/err" 2>&1 || rc=$?
}
flag_errors vhost-user-net cvmm-vhost-user-net run_net

# Fewer rules than Firecracker's x86_64 filters; the daemon's threads do
# device work that Firecracker's VMM thread (76 rules) does.
"$EXPORT" vhost-user-net --count | sed 's/^/# /'
for thr in main worker signals; do
	check "$thr thread: $(rules vhost-user-net $thr) rules < Firecracker's VMM thread's 76" \
		test "$(rules vhost-user-net $thr)" -lt 76
done
finish
