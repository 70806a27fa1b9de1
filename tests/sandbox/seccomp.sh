#!/bin/sh
# cvmm-microvm's seccomp filters: every thread is filtered, each thread type
# dies of a syscall it does not need (through the CVMM_SECCOMP_SELFTEST
# hook), --seccomp off/log, custom JSON filters and their errors, and the
# rule counts against Firecracker's.
. "${top_srcdir:-.}/tests/microvm/lib.sh"
require_kvm
plan 26

guests=$top_builddir/tests/boot-guests
EXPORT=$top_builddir/examples/common/cvmm-seccomp-export

# Every thread of a running VM (main, vCPUs, the virtio device thread) is
# in seccomp filter mode. The guest echoes serial input, so it waits on a
# FIFO this shell holds open as fd 3; the VM is the PID the shell started.
mkfifo "$TMP/in"
"$MICROVM" --kernel "$guests/linux64.elf" --cmdline echo --cpus 2 --rng \
	<"$TMP/in" >"$TMP/run" 2>&1 &
pid=$!
exec 3>"$TMP/in"
findpid() {
	[ "$(ls /proc/"$pid"/task 2>/dev/null | wc -l)" -ge 4 ]
}
all_filtered() {
	[ -n "$pid" ] || return 1
	for t in /proc/$pid/task/*; do
		grep -q '^Seccomp:[[:space:]]*2$' "$t/status" || return 1
	done
}
eventually 20 findpid
eventually 20 all_filtered
names=$(cat /proc/"${pid:-0}"/task/*/comm 2>/dev/null | sort | tr '\n' ' ')
check "every thread shows Seccomp: 2 ($names)" all_filtered
check "the threads are the main thread, two vCPUs and the virtio thread" \
	sh -c "echo '$names' | grep -q 'cvmm-microvm' && echo '$names' | grep -q vcpu0 &&
	       echo '$names' | grep -q vcpu1 && echo '$names' | grep -q virtio"
stop_pid "$pid"
exec 3>&-

# Each thread type is killed by execve, the open of a new file and an
# AF_INET socket, with the trap message naming thread type and syscall.
for thr in vmm vcpu virtio; do
	for call in execve open socket; do
		want=$call
		[ "$call" = open ] && want=openat
		rc=0
		CVMM_SECCOMP_SELFTEST=$thr:$call timeout 30 "$MICROVM" --kernel "$guests/linux64.elf" \
			--cmdline exit=7 --rng </dev/null >"$TMP/st" 2>&1 || rc=$?
		out=$TMP/st
		check "$thr thread: $call is trapped (exit 159, message names $want)" \
			sh -c "test $rc -eq 159 && grep -q 'cvmm: seccomp: thread $thr made forbidden syscall $want (' '$out'"
	done
done

# --seccomp off: no filter, the forbidden call runs and the VM completes.
CVMM_SECCOMP_SELFTEST=vcpu:socket run_vm out --seccomp off --kernel "$guests/linux64.elf" --cmdline exit=7
check "--seccomp off: the guest completes despite a socket call" test "$rc" -eq 7
# --seccomp log: the call runs (the kernel logs it), the VM completes.
CVMM_SECCOMP_SELFTEST=vcpu:execve run_vm out --seccomp log --kernel "$guests/linux64.elf" --cmdline exit=7
check "--seccomp log: execve runs and is only logged" \
	sh -c "test $rc -eq 7 && ! grep -q 'forbidden syscall' '$out'"

# A custom filter file: the built-in set exported as JSON works...
"$EXPORT" microvm >"$TMP/filters.json"
run_vm out --seccomp-filter "$TMP/filters.json" --kernel "$guests/linux64.elf" --cmdline exit=7
check "--seccomp-filter with the exported built-in set: the guest completes" test "$rc" -eq 7
CVMM_SECCOMP_SELFTEST=vcpu:socket run_vm out --seccomp-filter "$TMP/filters.json" \
	--kernel "$guests/linux64.elf" --cmdline exit=7
check "--seccomp-filter: a syscall outside the file is trapped" \
	sh -c "test $rc -eq 159 && grep -q 'thread vcpu made forbidden syscall socket' '$out'"
# ...and is really what the threads get: without KVM_RUN the vCPU dies.
sed 's/"val": 44672/"val": 1/' "$TMP/filters.json" >"$TMP/norun.json"
run_vm out --seccomp-filter "$TMP/norun.json" --kernel "$guests/linux64.elf" --cmdline exit=7
check "--seccomp-filter: a vcpu filter without KVM_RUN kills the VM at its first run" \
	sh -c "test $rc -eq 159 && grep -q 'thread vcpu made forbidden syscall ioctl' '$out'"

one_line_error() { # TEXT FILE
	test "$rc" -eq 1 && test "$(wc -l <"$2")" -eq 1 && grep -qF -- "$1" "$2"
}
sed '0,/"op": "eq"/s//"op": "equal"/' "$TMP/filters.json" >"$TMP/bad.json"
line=$(grep -n '"op": "equal"' "$TMP/bad.json" | cut -d: -f1)
run_vm out --seccomp-filter "$TMP/bad.json" --kernel "$guests/linux64.elf"
check "malformed JSON: one line naming file, line $line and field op" \
	one_line_error "bad.json:$line:" "$out"
check "malformed JSON: the message names the field" grep -q 'field "op"' "$out"
printf '{\n  "vmm": {\n    "default_action": "trap",\n    "filter_action": "allow",,\n' >"$TMP/syntax.json"
run_vm out --seccomp-filter "$TMP/syntax.json" --kernel "$guests/linux64.elf"
check "JSON syntax error: one line with its line number" one_line_error "syntax.json:4:" "$out"
printf '{ "vmm": { "default_action": "trap", "filter_action": "allow", "filter": [] } }\n' >"$TMP/novcpu.json"
run_vm out --seccomp-filter "$TMP/novcpu.json" --kernel "$guests/linux64.elf"
check "a file without a vcpu filter is refused" one_line_error 'no filter for thread "vcpu"' "$out"
run_vm out --seccomp-filter "$TMP/missing.json" --kernel "$guests/linux64.elf"
check "a missing file is refused" one_line_error "--seccomp-filter:" "$out"
run_vm out --seccomp maybe --kernel "$guests/linux64.elf"
check "--seccomp maybe is refused" one_line_error "--seccomp: 'maybe' is not on, log or off" "$out"
run_vm out --seccomp off --seccomp-filter "$TMP/filters.json" --kernel "$guests/linux64.elf"
check "--seccomp off with --seccomp-filter is refused" one_line_error "cannot be combined" "$out"

# Fewer rules than Firecracker's per-thread filters (x86_64: VMM 76, vCPU 49;
# our virtio thread does device work that Firecracker's VMM thread does).
"$EXPORT" microvm --count >"$TMP/count"
sed 's/^/# /' "$TMP/count"
rules() { awk -v t="$1" '$1 == t { print $2 }' "$TMP/count"; }
# The sanitizer runtime adds its own needs (mmap, sigaltstack, ...): the
# comparison is about what a release build installs.
if grep -q 'fsanitize=address' "$top_builddir/config.status" 2>/dev/null; then
	for t in vmm vcpu virtio; do
		n=$((n + 1))
		echo "ok $n - # SKIP $t thread: $(rules $t) rules with the sanitizer runtime's; counted in the release build"
	done
else
	check "vmm thread: $(rules vmm) rules < Firecracker's 76" test "$(rules vmm)" -lt 76
	check "vcpu thread: $(rules vcpu) rules < Firecracker's 49" test "$(rules vcpu)" -lt 49
	check "virtio thread: $(rules virtio) rules < Firecracker's VMM thread's 76" test "$(rules virtio)" -lt 76
fi
finish
