#!/bin/sh
# Rate limiting is observable from outside: with a cap of R requests (or
# bytes) per second and a burst of a tenth of a second, N one-sector
# requests take at least (N - R/10) / R seconds. Only the lower bound is
# checked (a loaded machine may always be slower).
. "${top_srcdir:-.}/tests/microvm-virtio/lib.sh"
require_kvm
require_guests virtio-blk
plan 4

now_ms() { echo $(($(date +%s%N) / 1000000)); }

mkpattern "$TMP/disk" 16 0
# timed LIMIT: 60 one-sector reads; $ms gets the wall time
timed() {
	t0=$(now_ms)
	run_vm out --kernel "$GUESTS/virtio-blk.img" --transport mmio --disk path="$TMP/disk$1" \
		--guest-arg 0=4 --guest-arg 1=1 --guest-arg 2=60
	ms=$(($(now_ms) - t0))
	echo "# $1: 60 requests in $ms ms"
}

timed ",rate=50"
check "rate=50: 60 requests complete" ok_with "60 requests done"
# (60 - 5) / 50 = 1.1 s; allow for clock granularity.
check "rate=50: 60 requests take at least 1.0 s" test "$ms" -ge 1000

timed ",bandwidth=25600"
check "bandwidth=25600 (50 sectors/s): 60 requests complete" ok_with "60 requests done"
check "bandwidth=25600: 60 one-sector requests take at least 1.0 s" test "$ms" -ge 1000
finish
