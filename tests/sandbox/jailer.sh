#!/bin/sh
# cvmm-jailer: a VM runs a test guest from inside the jail, as the given
# uid/gid, with the jail as its root; files outside are invisible; every
# bad argument is one clear line.
. "${top_srcdir:-.}/tests/microvm/lib.sh"
require_kvm
if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP cvmm-jailer needs root"
	exit 0
fi
plan 14

JAILER=$top_builddir/examples/jailer/cvmm-jailer
guest=$(cd "$top_builddir/tests/boot-guests" && pwd)/linux64.elf
vmm=$(cd "$top_builddir/examples/microvm" && pwd)/cvmm-microvm
base=$TMP/jails
# The sanitizer runtime reads /proc (LeakSanitizer at exit): give the jail
# its own /proc in that build.
PROC=
grep -q 'fsanitize=address' "$top_builddir/config.status" 2>/dev/null && PROC=--mount-proc

rc=0
timeout 30 "$JAILER" --id run1 --exec-file "$vmm" --uid 65534 --gid 65534 \
	--chroot-base-dir "$base" $PROC --file "$guest" -- --kernel /linux64.elf --cmdline exit=7 \
	</dev/null >"$TMP/run1" 2>&1 || rc=$?
out=$TMP/run1
check "the guest runs through the jailer and its exit code comes back" test "$rc" -eq 7
check "the jail holds the VMM, the guest and the device nodes" sh -c \
	"test -x '$base/cvmm-microvm/run1/root/cvmm-microvm' && test -f '$base/cvmm-microvm/run1/root/linux64.elf' &&
	 test -c '$base/cvmm-microvm/run1/root/dev/kvm' && test -c '$base/cvmm-microvm/run1/root/dev/net/tun'"

# A running jailed VM: root, uid/gid, namespaces, no capabilities.
sleep 30 | "$JAILER" --id run2 --exec-file "$vmm" --uid 1234 --gid 4321 --chroot-base-dir "$base" $PROC \
	--resource-limit no-file=64 --file "$guest" -- --kernel /linux64.elf --cmdline echo \
	>"$TMP/run2" 2>&1 &
findpid() {
	pid=$(pgrep -u 1234 -x cvmm-microvm | head -1)
	[ -n "$pid" ] && grep -q '^Seccomp:[[:space:]]*2' /proc/"$pid"/status
}
eventually 20 findpid
# After pivot_root the link reads "/"; compare the directory itself.
check "the jailed VMM's /proc/PID/root is the jail" \
	test "$(stat -L -c %d:%i /proc/${pid:-0}/root 2>/dev/null)" = \
	     "$(stat -c %d:%i "$base/cvmm-microvm/run2/root")"
check "it runs as uid 1234" sh -c "grep -q '^Uid:[[:space:]]*1234[[:space:]]*1234[[:space:]]*1234' /proc/${pid:-0}/status"
check "it runs as gid 4321" sh -c "grep -q '^Gid:[[:space:]]*4321[[:space:]]*4321[[:space:]]*4321' /proc/${pid:-0}/status"
check "it has no capabilities" sh -c "grep -q '^CapEff:[[:space:]]*0000000000000000' /proc/${pid:-0}/status &&
	grep -q '^CapBnd:[[:space:]]*0000000000000000' /proc/${pid:-0}/status"
check "it is in its own PID and mount namespaces" sh -c \
	"test \"\$(readlink /proc/${pid:-0}/ns/pid)\" != \"\$(readlink /proc/self/ns/pid)\" &&
	 test \"\$(readlink /proc/${pid:-0}/ns/mnt)\" != \"\$(readlink /proc/self/ns/mnt)\""
check "its open-files limit is the one given" sh -c "grep -q '^Max open files *64 *64' /proc/${pid:-0}/limits"
check "every thread is seccomp-filtered inside the jail" eventually 20 sh -c \
	"for t in /proc/${pid:-0}/task/*; do grep -q '^Seccomp:[[:space:]]*2' \$t/status || exit 1; done"
[ -n "$pid" ] && kill -TERM "$pid"
wait

# A path that exists outside the jail is not visible inside.
rc=0
timeout 30 "$JAILER" --id run3 --exec-file "$vmm" --uid 65534 --gid 65534 --chroot-base-dir "$base" $PROC \
	-- --kernel "$guest" --cmdline exit=7 </dev/null >"$TMP/run3" 2>&1 || rc=$?
out=$TMP/run3
check "a kernel path outside the jail cannot be opened inside it" \
	sh -c "test $rc -eq 1 && grep -q 'cannot open' '$out'"

one_line_error() { # TEXT FILE
	test "$rc" -eq 1 && test "$(wc -l <"$2")" -eq 1 && grep -qF -- "$1" "$2"
}
bad() { # DESCRIPTION EXPECTED-TEXT ARGS...
	desc=$1 want=$2; shift 2
	rc=0
	"$JAILER" "$@" >"$TMP/bad" 2>&1 </dev/null || rc=$?
	out=$TMP/bad
	check "$desc" one_line_error "$want" "$TMP/bad"
}
bad "missing --id" "--id: missing" --exec-file "$vmm" --uid 1 --gid 1
bad "bad --uid" "--uid: 'x'" --id a --exec-file "$vmm" --uid x --gid 1
bad "bad --resource-limit" "--resource-limit: 'cpu=1'" --id a --exec-file "$vmm" --uid 1 --gid 1 --resource-limit cpu=1
bad "a jail id used twice" "exists already" --id run1 --exec-file "$vmm" --uid 1 --gid 1 --chroot-base-dir "$base"
finish
