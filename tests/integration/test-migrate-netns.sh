#!/bin/sh
# Live migration over TCP between two network namespaces joined by a veth
# pair: the memory-checking guest (tests/guests/state.c) migrated pre-copy
# and post-copy (two connections) from a process in one namespace to a
# process in the other, where it finds every byte. Needs root and
# `ip netns`; skipped otherwise.
. "${top_srcdir:-.}/tests/microvm/lib.sh"
require_kvm
BIN=$top_builddir/tests/integration/test-vmm-migrate
A=cvmm-mig-a-$$
B=cvmm-mig-b-$$
if [ "$(id -u)" != 0 ] || ! ip netns add "$A" 2>/dev/null; then
	echo "1..0 # SKIP needs root and ip netns"
	exit 0
fi
trap 'ip netns del "$A" 2>/dev/null; ip netns del "$B" 2>/dev/null; rm -rf "$TMP"' EXIT
if ! ip netns add "$B" || ! ip link add cma$$ type veth peer name cmb$$ 2>/dev/null; then
	echo "1..0 # SKIP no veth pairs here"
	exit 0
fi
ip link set cma$$ netns "$A" && ip link set cmb$$ netns "$B" &&
ip -n "$A" addr add 10.213.0.1/24 dev cma$$ && ip -n "$B" addr add 10.213.0.2/24 dev cmb$$ &&
ip -n "$A" link set cma$$ up && ip -n "$B" link set cmb$$ up &&
ip -n "$A" link set lo up && ip -n "$B" link set lo up || { echo "1..0 # SKIP veth set-up failed"; exit 0; }
plan 4
port=7300
for mode in precopy postcopy; do
	port=$((port + 1))
	timeout 60 ip netns exec "$B" "$BIN" --tcp-receive 10.213.0.2 $port $mode >"$TMP/recv.$mode" 2>&1 &
	rpid=$!
	src=0
	timeout 60 ip netns exec "$A" "$BIN" --tcp-send 10.213.0.2 $port $mode >"$TMP/send.$mode" 2>&1 || src=$?
	dst=0
	wait $rpid || dst=$?
	out=$TMP/send.$mode
	check "$mode from namespace A to B over the veth pair: the source completes" test $src -eq 0
	out=$TMP/recv.$mode
	check "$mode: the guest runs on in namespace B and finds every byte" test $dst -eq 0
	sed 's/^/# /' "$TMP/recv.$mode" | grep -v "^# $" | tail -3
done
finish
