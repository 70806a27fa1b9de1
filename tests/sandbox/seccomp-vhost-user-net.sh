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
need_cmd ip iproute2
if ! unshare -n true 2>/dev/null || ! [ -x "$BENCH" ]; then
	echo "1..0 # SKIP needs unshare -n and $BENCH"
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
# bench SECONDS: a frontend transmitting through the daemon to the TAP.
bench() {
	timeout 60 "$BENCH" --socket "$TMP/s" --size 256 --seconds "$1" >"$TMP/bench" 2>&1
}
served() { grep -q "frames=[1-9]" "$TMP/bench"; }

# Every thread while a frontend transmits: the protocol thread, the four
# workers (two pairs), the signal thread; then the modes.
daemon_checks vhost-user-net

run_st() {
	rc=0
	(TO=30 netd --socket "$TMP/st.sock") >"$TMP/st" 2>&1 || rc=$?
}
selftest_kills run_st main worker signals

# The exported set (daemon_checks) is what the threads get:
# without writev a worker dies at the first frame sent.
sed 's/"syscall": "writev"/"syscall": "readv"/' "$TMP/filters.json" >"$TMP/nowritev.json"
ST= start --seccomp-filter "$TMP/nowritev.json"
bench 1
wait_pid "$dpid" 20
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
	below vhost-user-net "$thr" 76 VMM
done
finish
