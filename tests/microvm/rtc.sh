#!/bin/sh
# The CMOS clock read by a CPL3 guest under cvmm-microvm's default seccomp
# filters: the vCPU thread that answers it must survive (no time-zone file
# opened on the way) and the guest must see the host's UTC date.
. "${top_srcdir:-.}/tests/microvm/lib.sh"
require_kvm
GUESTS=$top_builddir/tests/guests
if ! [ -f "$GUESTS/rtc.img" ]; then
	echo "1..0 # SKIP $GUESTS/rtc.img not built"
	exit 0
fi
plan 2

before=$(date -u +%Y-%m-%d)
run_vm out --kernel "$GUESTS/rtc.img"
after=$(date -u +%Y-%m-%d)
check "the guest reads the RTC and exits 0 under the default filters" test "$rc" -eq 0
check "the guest sees today's UTC date" \
	sh -c "grep -q '^rtc: $before ' '$out' || grep -q '^rtc: $after ' '$out'"
finish
