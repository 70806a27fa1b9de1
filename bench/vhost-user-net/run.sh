#!/bin/sh
# cvmm-vhost-user-net transmit packets per second: cvmm-virtio-user-net-bench
# (a vhost-user frontend + virtio-net driver in one host process) sends
# 64-byte and 1500-byte frames as fast as it can through the daemon into a
# TAP; the TAP's rx_packets counter (/proc/net/dev) counts what arrived.
# Also the daemon's CPU time per frame (utime + stime from /proc/PID/stat).
# Then the receive direction: the driver (--rx) forks a UDP flood from the
# host side to 192.0.2.2 and counts the frames reaching its receive buffers
# (TAP tx_packets: what the kernel handed to the TAP, drops included).
# Then, where dpdk-testpmd is installed (dpdk-dev; CVMM_VUNET_BENCH_DPDK=0
# skips it), the same driver and the same counting against DPDK's testpmd
# in io forwarding between a net_vhost vdev (its vhost-user backend) and a
# net_tap vdev (a TAP of the same name): side by side, one backend for the
# other. testpmd busy-polls, so its CPU per frame is a full core / frames.
# Runs in a private network namespace (root and /dev/net/tun needed).
#
#   bench/vhost-user-net/run.sh [BUILDDIR] [SECONDS] [RUNS]
set -eu
for t in ip:iproute2 python3:python3; do
	command -v "${t%%:*}" >/dev/null ||
		{ echo "run.sh: ${t%%:*} is missing: install the Debian package ${t#*:}" >&2; exit 1; }
done
B=${1:-.}
SECS=${2:-5}
RUNS=${3:-3}
if [ -z "${CVMM_VUNET_BENCH_NS:-}" ]; then
	CVMM_VUNET_BENCH_NS=1 exec unshare -n "$0" "$B" "$SECS" "$RUNS"
fi
DAEMON=$B/examples/vhost-user-net/cvmm-vhost-user-net
DRIVER=$B/examples/vhost-user-net/cvmm-virtio-user-net-bench
DIR=$(mktemp -d /tmp/cvmm-vunet-bench.XXXXXX)
SOCK=$DIR/net.sock
TAP=vunetb0
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT INT TERM

for f in "$DAEMON" "$DRIVER"; do
	[ -x "$f" ] || { echo "run.sh: $f not built" >&2; exit 1; }
done
HZ=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
tap_rx() { awk -v t="$TAP:" '$1 == t { print $3 }' /proc/net/dev; }
tap_tx() { awk -v t="$TAP:" '$1 == t { print $11 }' /proc/net/dev; }

# wait_for SECONDS CMD...: poll CMD until it succeeds.
wait_for() {
	end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.05
	done
}
tap_setup() {
	echo 1 > /proc/sys/net/ipv6/conf/$TAP/disable_ipv6 2>/dev/null || true
	ip link set "$TAP" up
	ip addr add 192.0.2.1/24 dev "$TAP"
	ip neigh replace 192.0.2.2 lladdr 52:54:00:00:00:02 dev "$TAP" nud permanent
}

# measure NAME: both directions against the backend on $SOCK (pid $PID).
# Transmit: the TAP's rx_packets count what the backend wrote into it, and
# CPU is per TAP frame; receive (--rx): the TAP's tx_packets, and CPU is per
# frame the driver received.
measure() {
	for dir in transmit receive; do
		if [ $dir = transmit ]; then
			flag='' tap=tap_rx
			echo "$1 transmit (driver -> TAP): size run driver_pps tap_rx_pps backend_cpu_ns_per_frame"
		else
			flag=--rx tap=tap_tx
			echo "$1 receive (host flood -> driver): size run driver_pps tap_tx_pps backend_cpu_ns_per_frame"
		fi
		for size in 64 1500; do
			for r in $(seq 1 "$RUNS"); do
				c0=$(cpu_ticks "$PID")
				t0=$($tap)
				out=$("$DRIVER" --socket "$SOCK" --size "$size" --seconds "$SECS" $flag)
				t1=$($tap)
				c1=$(cpu_ticks "$PID")
				echo "$out" | awk -v size="$size" -v r="$r" -v t=$((t1 - t0)) \
					-v c=$((c1 - c0)) -v hz="$HZ" -v dir=$dir '{
					for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
					per = dir == "transmit" ? t : v["frames"]
					printf "%s %s %.0f %.0f %.0f\n", size, r, v["pps"], t / v["seconds"],
						per ? c / hz * 1e9 / per : 0 }'
			done
		done
	done
}

"$DAEMON" --socket "$SOCK" --tap "$TAP" & PID=$!
wait_for 10 test -S "$SOCK"
tap_setup
measure cvmm-vhost-user-net
kill "$PID"
wait "$PID" || true
PID=

TESTPMD=$(command -v dpdk-testpmd || true)
if [ -z "$TESTPMD" ] || [ "${CVMM_VUNET_BENCH_DPDK:-1}" = 0 ]; then
	echo "dpdk-testpmd: not installed (dpdk-dev) or skipped"
	exit 0
fi
rm -f "$SOCK"
CPU=$(python3 -c 'import os; print(min(os.sched_getaffinity(0)))')
"$TESTPMD" --no-huge -m 512 --no-pci --no-shconf --file-prefix cvmm-vunet-bench-$$ \
	--lcores "0@$CPU,1@$CPU" --vdev "net_vhost0,iface=$SOCK,queues=1" \
	--vdev "net_tap0,iface=$TAP" -- --no-mlockall --total-num-mbufs=16384 \
	--forward-mode=io --stats-period=10 >"$DIR/testpmd.log" 2>&1 </dev/null &
PID=$!
tap_up() { test -S "$SOCK" && ip link show "$TAP" >/dev/null 2>&1; }
wait_for 30 tap_up || { echo "dpdk-testpmd did not start:"; tail "$DIR/testpmd.log"; exit 1; }
tap_setup
measure "dpdk-testpmd (net_vhost <-> net_tap, io)"
