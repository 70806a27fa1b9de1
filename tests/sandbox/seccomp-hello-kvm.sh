#!/bin/sh
# hello-kvm's seccomp filters (main thread, vCPU threads): every thread of
# a running VM is filtered, each thread type dies of a syscall it does not
# need, --seccomp off/log, the exported JSON filter, the flags' errors, and
# the rule counts against Firecracker's.
. "${top_srcdir:-.}/tests/sandbox/seccomp-lib.sh"
require_kvm
HK=$top_builddir/examples/hello-kvm/hello-kvm
G=$top_builddir/tests/guests
plan 24

# A guest that never exits (irq, its timer interrupts only counted) on two
# vCPUs: the main thread and both vCPU threads, each under its filter.
"$HK" --cpus 2 --timeout 60 --arg 1=0x40 "$G/irq.img" >"$TMP/run" 2>&1 &
pid=$!
eventually 20 has_threads "$pid" 3
eventually 20 all_filtered "$pid"
names=$(thread_names "$pid")
check "every thread shows Seccomp: 2 ($names)" all_filtered "$pid"
check "the threads are the main thread and the vCPUs" \
	sh -c "echo '$names' | grep -q hello-kvm && echo '$names' | grep -q vcpu"
stop_pid "$pid"

# run ARGS...: hello-kvm (30 s at most), status in $rc, output in $TMP/err.
run() {
	rc=0
	timeout 30 "$HK" "$@" >"$TMP/err" 2>&1 || rc=$?
}

# Each thread type dies of execve, the open of a new file, socket(AF_INET).
run_st() {
	rc=0
	env CVMM_SECCOMP_SELFTEST="$ST" timeout 30 "$HK" --cpus 2 "$G/hello.img" \
		>"$TMP/st" 2>&1 || rc=$?
}
selftest_kills run_st main vcpu

CVMM_SECCOMP_SELFTEST=vcpu:socket run --seccomp off "$G/hello.img"
check "--seccomp off: the guest completes despite a socket call" test "$rc" -eq 0
CVMM_SECCOMP_SELFTEST=main:execve run --seccomp log "$G/hello.img"
check "--seccomp log: execve runs and is only logged" \
	sh -c "test $rc -eq 0 && ! grep -q forbidden '$TMP/err'"
# Dirty tracking under the filters: harvests from a vCPU at each sync-port
# write and from the main thread at exit.
for mode in log clear ring; do
	run --dirty-log "$mode" --arg 0=0x1000000 --arg 1=64 --arg 2=10 --arg 3=9 "$G/dirty.img"
	check "--dirty-log $mode under the filters" \
		sh -c "test $rc -eq 0 && grep -q 'dirty-log exit' '$TMP/err'"
done

# The exported set works as a file, and is what the threads get: without
# KVM_RUN the vCPU dies at its first run.
"$EXPORT" hello-kvm >"$TMP/filters.json"
run --seccomp-filter "$TMP/filters.json" --cpus 2 "$G/hello.img"
check "--seccomp-filter with the exported set: the guest completes" test "$rc" -eq 0
sed 's/"val": 44672/"val": 1/' "$TMP/filters.json" >"$TMP/norun.json"
run --seccomp-filter "$TMP/norun.json" "$G/hello.img"
check "--seccomp-filter: a vcpu filter without KVM_RUN kills the VM at its first run" \
	trapped "$rc" "$TMP/err" vcpu ioctl

run_hk() { run "$@" "$G/hello.img"; }
flag_errors hello-kvm hello-kvm run_hk

# Fewer rules than Firecracker's x86_64 filters (VMM thread 76, vCPU 49).
"$EXPORT" hello-kvm --count | sed 's/^/# /'
below hello-kvm main 76 VMM
below hello-kvm vcpu 49 vCPU
finish
