#!/bin/sh
# make check (about 10 s; skipped where Debian's dpdk-dev is not installed,
# tools/packages.txt lists it): DPDK's testpmd with a net_virtio_user vdev
# (DPDK's own vhost-user frontend and virtio-net driver) drives
# cvmm-vhost-user-net on a TAP, in a private network namespace, without
# hugepages (--no-huge --no-pci --no-shconf).
#  - txonly, 64 and 1500-byte frames: the frames the daemon counted on
#    transmitq 1 (logged when the queue stops) are the ones the TAP received
#    (rx_packets), to the frame, and the ones testpmd sent (but for those
#    still in the ring when testpmd stopped);
#  - rxonly: UDP datagrams from a host socket to the "guest" (a static
#    neighbour on the TAP) reach testpmd's receive queue.
# Skips without root, /dev/net/tun or dpdk-testpmd (dpdk-dev); fails at
# once without ip or python3 (tools/packages.txt has them).
set -u
top_builddir=${top_builddir:-.}
. "${top_srcdir:-.}/tests/lib/sh-lib.sh"
DAEMON=$top_builddir/examples/vhost-user-net/cvmm-vhost-user-net
TESTPMD=$(command -v dpdk-testpmd || true)
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; fail=1; }
skip_all() { echo "1..0 # SKIP $1"; exit 0; }
fail=0

[ "$(id -u)" = 0 ] && [ -c /dev/net/tun ] || skip_all "needs root and /dev/net/tun"
[ -n "$TESTPMD" ] || skip_all "dpdk-testpmd not installed (dpdk-dev)"
PATH=$PATH:/usr/sbin:/sbin
need_cmd ip iproute2
need_cmd python3 python3
[ -x "$DAEMON" ] || skip_all "$DAEMON not built"
if [ -z "${CVMM_VUNET_IN_NS:-}" ]; then
	CVMM_VUNET_IN_NS=1 exec unshare -n "$0" "$@"
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/cvmm-vunet-dpdk.XXXXXX")
SOCK=$TMP/net.sock
TAP=vunetd0
PID=
TPID=
cleanup() {
	[ -n "$TPID" ] && kill $TPID 2>/dev/null
	[ -n "$PID" ] && kill $PID 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
echo "1..9"
ip link set lo up

# eventually SECONDS CMD...: poll CMD every 0.1 s until it succeeds.
eventually() {
	end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt $end ] || return 1
		sleep 0.1
	done
}
counter() { awk -v t="$TAP:" -v f=$1 '$1 == t { print $f }' /proc/net/dev; }
tap_rx() { counter 3; }
tap_tx() { counter 11; }

start_daemon() {
	rm -f $SOCK
	CVMM_VHOST_USER_NET_LOG=info "$DAEMON" --socket $SOCK --tap $TAP 2>$TMP/daemon.log &
	PID=$!
	eventually 20 test -S $SOCK || return 1
	echo 1 >/proc/sys/net/ipv6/conf/$TAP/disable_ipv6
	ip link set $TAP up
	ip addr add 192.0.2.1/24 dev $TAP
	ip neigh replace 192.0.2.2 lladdr 52:54:00:00:00:02 dev $TAP nud permanent
}

stop_daemon() {
	stop_pid $PID TERM 20
	PID=
}

# testpmd MODE LOG EXTRA...: in the background. Two lcores (the main one and
# one forwarding) on one CPU we may run on, so one CPU is enough.
CPU=$(python3 -c 'import os; print(min(os.sched_getaffinity(0)))')
testpmd() {
	mode=$1
	log=$2
	shift 2
	timeout 300 "$TESTPMD" --no-huge -m 512 --no-pci --no-shconf --file-prefix cvmm-vunet-$$ \
		--lcores 0@$CPU,1@$CPU \
		--vdev "net_virtio_user0,path=$SOCK,queues=1,queue_size=256" -- \
		--no-mlockall --total-num-mbufs=8192 --forward-mode=$mode --stats-period=1 \
		--eth-peer=0,02:00:00:00:00:01 "$@" >$log 2>&1 </dev/null &
	TPID=$!
}

stop_testpmd() {
	_rc=${rc:-0}
	stop_pid $TPID INT 20
	rc=$_rc
	TPID=
	exit_poll=
}

# final LOG RX|TX: testpmd's accumulated packet count at exit.
final() {
	awk -v k="$2-packets:" '/Accumulated forward statistics/ { a = 1 }
		a { for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); exit } }' $1
}

# daemon_frames QUEUE: what the daemon counted on QUEUE.
daemon_frames() {
	sed -n "s/.*queue $1 stopped: \([0-9]*\) frames.*/\1/p" $TMP/daemon.log |
		awk '{ s += $1 } END { print s + 0 }'
}

# testpmd gone: stop polling at once (the log says why).
alive() { kill -0 $TPID 2>/dev/null || { echo "# testpmd exited early"; exit_poll=1; }; }
# end_run QUEUE COUNTER LOG RX|TX: stop testpmd, then the daemon (which
# logs QUEUE's count when the queue stops, testpmd gone; the TAP goes away
# with the daemon, so COUNTER is read before). Sets $tap (COUNTER's delta
# from $c0), $moved (the daemon's count) and $pmd (testpmd's).
end_run() {
	early=${exit_poll:-}
	stop_testpmd
	[ -n "$early" ] || eventually 20 grep -q "queue $1 stopped" $TMP/daemon.log
	tap=$(($($2) - c0))
	stop_daemon
	moved=$(daemon_frames $1)
	pmd=$(final $3 $4)
}

tap_rx_at_least() { alive && [ $(($(tap_rx) - c0)) -ge $1 ] || [ -n "${exit_poll:-}" ]; }

for size in 64 1500; do
	start_daemon || { notok "$size-byte txonly: daemon socket"; continue; }
	c0=$(tap_rx)
	testpmd txonly $TMP/tx.log --txpkts=$size
	eventually 120 tap_rx_at_least 20000 && [ -z "${exit_poll:-}" ] &&
		ok "$size-byte txonly: frames from testpmd reach the TAP" ||
		notok "$size-byte txonly: frames from testpmd reach the TAP"
	end_run 1 tap_rx $TMP/tx.log TX
	echo "# $size B: testpmd sent ${pmd:-?}, the daemon transmitted $moved, the TAP received $tap"
	[ "$moved" = "$tap" ] && [ "$tap" -gt 0 ] && ok "$size-byte txonly: the daemon's count is the TAP's" ||
		notok "$size-byte txonly: the daemon's count is the TAP's"
	# At most a ring's worth (256) may still be queued when testpmd stops
	# its port (on a quiet machine: none).
	[ "$moved" -gt 0 ] && [ "${pmd:-0}" -ge "$moved" ] && [ $((${pmd:-0} - moved)) -le 256 ] &&
		ok "$size-byte txonly: the daemon transmitted what testpmd sent" ||
		notok "$size-byte txonly: the daemon transmitted what testpmd sent"
	[ $rc -eq 0 ] || notok "$size-byte txonly: daemon exits 0 (rc $rc)"
	[ $fail -eq 0 ] || { sed 's/^/# testpmd: /' $TMP/tx.log | tail -40; sed 's/^/# daemon: /' $TMP/daemon.log; }
done

# rxonly: send datagrams until testpmd's periodic statistics show 1000.
start_daemon || notok "rxonly: daemon socket"
c0=$(tap_tx)
testpmd rxonly $TMP/rx.log
send() {
	python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(200):
    s.sendto(b"x" * 100, ("192.0.2.2", 9))'
}
seen() {
	awk '/RX-packets:/ { for (i = 1; i < NF; i++) if ($i == "RX-packets:") n = $(i + 1) }
		END { exit !(n >= 1000) }' $TMP/rx.log
}
sent_and_seen() { alive && send && seen || [ -n "${exit_poll:-}" ]; }
eventually 120 sent_and_seen && [ -z "${exit_poll:-}" ] && ok "rxonly: datagrams from the host reach testpmd" ||
	notok "rxonly: datagrams from the host reach testpmd"
end_run 0 tap_tx $TMP/rx.log RX
echo "# rxonly: the TAP sent $tap, the daemon delivered $moved, testpmd received ${pmd:-?}"
[ "$moved" -le "$tap" ] && [ "${pmd:-0}" -le "$moved" ] && [ "${pmd:-0}" -ge 1000 ] &&
	ok "rxonly: TAP >= daemon >= testpmd >= 1000" ||
	notok "rxonly: TAP >= daemon >= testpmd >= 1000"
[ $rc -eq 0 ] && ok "daemon exits 0 on SIGTERM" || notok "daemon exits 0 on SIGTERM (rc $rc)"
[ $fail -eq 0 ] || { sed 's/^/# testpmd: /' $TMP/rx.log | tail -40; sed 's/^/# daemon: /' $TMP/daemon.log; }
exit $fail
