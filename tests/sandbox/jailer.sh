#!/bin/sh
# cvmm-jailer: a VM runs a test guest from inside the jail, as the given
# uid/gid, with the jail as its root, in a cgroup v2 of its own holding the
# limits given; files outside are invisible; a big file the jail's user owns
# is hard-linked, not copied; every bad argument is one clear line and
# leaves neither a jail nor a cgroup behind.
. "${top_srcdir:-.}/tests/microvm/lib.sh"
require_kvm
if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP cvmm-jailer needs root"
	exit 0
fi
plan 31

JAILER=$top_builddir/examples/jailer/cvmm-jailer
guest=$(cd "$top_builddir/tests/boot-guests" && pwd)/linux64.elf
vmm=$(cd "$top_builddir/examples/microvm" && pwd)/cvmm-microvm
base=$TMP/jails
# The sanitizer runtime reads /proc (LeakSanitizer at exit): give the jail
# its own /proc in that build.
PROC=
grep -q 'fsanitize=address' "$top_builddir/config.status" 2>/dev/null && PROC=--mount-proc

skip() { n=$((n + 1)); echo "ok $n - # SKIP $1"; }

# start_jailed NAME JAILER-ARGS...: the jailer in the background ($jpid),
# output in $TMP/NAME; its VMM reads serial input from a FIFO this shell
# holds open as fd 3, so an echo guest waits until "quit" or fd 3 closes.
start_jailed() {
	name=$1; shift
	mkfifo "$TMP/in.$name"
	"$JAILER" "$@" <"$TMP/in.$name" >"$TMP/$name" 2>&1 &
	jpid=$!
	exec 3>"$TMP/in.$name"
}

# A big disk image the jail's user owns (sparse: costs nothing unless copied).
big=$TMP/big.img
truncate -s 64M "$big" && chown 65534:65534 "$big"
rc=0
timeout 30 "$JAILER" --id run1 --exec-file "$vmm" --uid 65534 --gid 65534 \
	--chroot-base-dir "$base" $PROC --file "$guest" --file "$big" -- --kernel /linux64.elf --cmdline exit=7 \
	</dev/null >"$TMP/run1" 2>&1 || rc=$?
out=$TMP/run1
jail1=$base/cvmm-microvm/run1/root
check "the guest runs through the jailer and its exit code comes back" test "$rc" -eq 7
check "the jail holds the VMM, the guest and the device nodes" sh -c \
	"test -x '$jail1/cvmm-microvm' && test -f '$jail1/linux64.elf' &&
	 test -c '$jail1/dev/kvm' && test -c '$jail1/dev/net/tun'"
check "a big --file the jail's user owns, on the same filesystem, is hard-linked (same inode)" \
	test "$(stat -c %d:%i "$big")" = "$(stat -c %d:%i "$jail1/big.img" 2>/dev/null)"
owner=$(stat -c %u:%g "$guest")
check "a --file someone else owns is copied, the copy given to the jail's user, the original untouched" \
	sh -c "test \"\$(stat -c %i '$guest')\" != \"\$(stat -c %i '$jail1/linux64.elf')\" &&
	       test \"\$(stat -c %u:%g '$jail1/linux64.elf')\" = 65534:65534 &&
	       test \"\$(stat -c %u:%g '$guest')\" = '$owner' && cmp -s '$guest' '$jail1/linux64.elf'"

# A running jailed VM: root, uid/gid, namespaces, no capabilities.
start_jailed run2 --id run2 --exec-file "$vmm" --uid 1234 --gid 4321 --chroot-base-dir "$base" $PROC \
	--resource-limit no-file=64 --file "$guest" -- --kernel /linux64.elf --cmdline echo
out=$TMP/run2
# The VMM is the jailer's grandchild (a middle process waits for it); not a
# search by name or uid, which a parallel run of this test would also match.
findpid() {
	mid=$(child_of "$jpid")
	[ -n "$mid" ] && pid=$(child_of "$mid")
	[ -n "$pid" ] && grep -q '^Seccomp:[[:space:]]*2' /proc/"$pid"/status
}
pid=
eventually 20 findpid
# After pivot_root the link reads "/"; compare the directory itself.
check "the jailed VMM's /proc/PID/root is the jail" \
	test "$(stat -L -c %d:%i "/proc/${pid:-0}/root" 2>/dev/null)" = \
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
# The VMM ends on SIGTERM; the jailer (the PID this shell started) is
# killed if it has not ended 20 s later.
[ -n "$pid" ] && kill -TERM "$pid"
wait_pid "$jpid" 20
exec 3>&-

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

# The cgroup v2 step. A host may mount cgroup2 alone on /sys/fs/cgroup or
# next to cgroup v1 (on /sys/fs/cgroup/unified, with only the controllers
# v1 does not hold): each limit is checked where the host offers its
# controller, else skipped saying why. The VMM's cgroup needs none.
cgmnt=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
avail=
[ -n "$cgmnt" ] && avail=$(cat "$cgmnt/cgroup.controllers")
offers() { case " $avail " in *" $1 "*) return 0;; esac; return 1; }
# A parent of this run's own: parallel runs (gcc and sanitizer builds) never meet.
parent=cvmm-test-$$
trap 'rmdir "$cgmnt/$parent/taken" "$cgmnt/$parent" 2>/dev/null; rm -rf "$TMP"' EXIT
set --
offers memory && set -- "$@" --cgroup memory.max=256M
offers cpu && set -- "$@" --cgroup cpu.max="50000 100000"
hugetlb=
offers hugetlb && [ -d /sys/kernel/mm/hugepages/hugepages-2048kB ] && hugetlb=1 &&
	set -- "$@" --cgroup hugetlb.2MB.max=4M
# A controller for the bad-value and missing-file cases.
ctl=
[ -n "$hugetlb" ] && ctl=hugetlb
offers cpu && ctl=cpu
offers memory && ctl=memory
why="the host's cgroup v2 (${cgmnt:-not mounted}) does not offer"

if [ -z "$cgmnt" ]; then
	for _ in 1 2 3 4 5 6; do skip "no cgroup v2 hierarchy is mounted"; done
else
	cg=$cgmnt/$parent/run4
	start_jailed run4 --id run4 --exec-file "$vmm" --uid 1234 --gid 4321 --chroot-base-dir "$base" $PROC \
		--parent-cgroup "$parent" "$@" --file "$guest" -- --kernel /linux64.elf --cmdline "echo exit=5"
	out=$TMP/run4
	findcg() {
		pid=$(head -n 1 "$cg/cgroup.procs" 2>/dev/null)
		[ -n "$pid" ] && grep -q '^Uid:[[:space:]]*1234' /proc/"$pid"/status
	}
	pid=
	eventually 20 findcg
	check "the jailed VMM runs in a cgroup v2 of its own, <parent>/<id>" \
		grep -qx "0::/$parent/run4" /proc/"${pid:-0}"/cgroup
	if offers memory; then
		check "its memory.max holds the value given (256M)" test "$(cat "$cg/memory.max")" = 268435456
	else
		skip "$why the memory controller (it offers: ${avail:-none})"
	fi
	if offers cpu; then
		check "its cpu.max holds the value given" test "$(cat "$cg/cpu.max")" = "50000 100000"
	else
		skip "$why the cpu controller (it offers: ${avail:-none})"
	fi
	if [ -n "$hugetlb" ]; then
		check "its hugetlb.2MB.max holds the value given (4M)" test "$(cat "$cg/hugetlb.2MB.max")" = 4194304
	else
		skip "$why the hugetlb controller with 2 MiB pages"
	fi
	wait_for "$TMP/run4" "echo: ready" 20
	echo quit >&3
	wait_pid "$jpid" 20
	exec 3>&-
	check "the guest's exit code comes back through the jailer" test "$rc" -eq 5
	check "the cgroup is removed once the VMM has exited (the parent stays)" \
		sh -c "! test -e '$cg' && test -d '$cgmnt/$parent'"
fi

# bad_cgroup DESCRIPTION EXPECTED-TEXT ARGS...: one line, exit 1, and
# neither a jail nor a cgroup for that id.
bad_cgroup() {
	desc=$1 want=$2; shift 2
	id=bad$n
	rc=0
	"$JAILER" --id "$id" --exec-file "$vmm" --uid 1 --gid 1 --chroot-base-dir "$base" \
		--parent-cgroup "$parent" "$@" -- --kernel /x >"$TMP/bad" 2>&1 </dev/null || rc=$?
	out=$TMP/bad
	check "$desc" sh -c "test $rc -eq 1 && test \$(wc -l <'$out') -eq 1 && grep -qF -- \"$want\" '$out' &&
		! test -e '$base/cvmm-microvm/$id' && ! test -e '$cgmnt/$parent/$id'"
}
bad_cgroup "a --cgroup key with a path in it" "--cgroup: '../memory.max=1' is not CONTROLLER.FILE=VALUE" \
	--cgroup ../memory.max=1
bad_cgroup "a --cgroup key that is not CONTROLLER.FILE" "--cgroup: 'memory=1' is not CONTROLLER.FILE=VALUE" \
	--cgroup memory=1
bad_cgroup "a --cgroup key naming a core file" "'cgroup.procs' is a cgroup core file" --cgroup cgroup.procs=1
bad_cgroup "a --parent-cgroup leaving the hierarchy" "--parent-cgroup: '../x' is not a relative path" \
	--parent-cgroup ../x
# Without a cgroup2 mount (a private mount namespace that unmounts it).
rc=0
unshare --mount --propagation private sh -c \
	"for m in \$(awk '\$3 == \"cgroup2\" { print \$2 }' /proc/self/mounts); do umount -l \$m || exit 2; done
	 exec '$JAILER' --id nocg --exec-file '$vmm' --uid 1 --gid 1 --chroot-base-dir '$base' \
		--cgroup memory.max=1M -- --kernel /x" >"$TMP/bad" 2>&1 </dev/null || rc=$?
out=$TMP/bad
check "no cgroup v2 mounted: one line, exit 1, no jail" \
	sh -c "one_line() { test $rc -eq 1 && test \$(wc -l <'$out') -eq 1; }; one_line &&
		grep -qF -- '--cgroup: no cgroup v2 hierarchy is mounted' '$out' && ! test -e '$base/cvmm-microvm/nocg'"
if [ -n "$cgmnt" ]; then
	bad_cgroup "a controller the host does not offer" "--cgroup: controller 'nosuch' is not available" \
		--cgroup nosuch.max=1
	mkdir -p "$cgmnt/$parent/taken"
	rc=0
	"$JAILER" --id taken --exec-file "$vmm" --uid 1 --gid 1 --chroot-base-dir "$base" \
		--parent-cgroup "$parent" -- --kernel /x >"$TMP/bad" 2>&1 </dev/null || rc=$?
	check "an existing cgroup for the id: one line, exit 1, no jail, that cgroup kept" \
		sh -c "test $rc -eq 1 && test \$(wc -l <'$out') -eq 1 && grep -qF 'taken exists already' '$out' &&
			! test -e '$base/cvmm-microvm/taken' && test -d '$cgmnt/$parent/taken'"
else
	skip "no cgroup v2 hierarchy is mounted"; skip "no cgroup v2 hierarchy is mounted"
fi
if [ -n "$ctl" ]; then
	bad_cgroup "a value the kernel refuses ($ctl)" "the kernel refuses 'lots'" \
		--cgroup "$([ "$ctl" = hugetlb ] && echo hugetlb.2MB.max || echo $ctl.max)=lots"
	bad_cgroup "a file the controller does not have ($ctl)" "--cgroup: $ctl.nosuch: no such file in the cgroup" \
		--cgroup "$ctl.nosuch=1"
else
	skip "$why memory, cpu or hugetlb"; skip "$why memory, cpu or hugetlb"
fi
finish
