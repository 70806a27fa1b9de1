# Helpers for the seccomp tests of the programs (tests/sandbox/seccomp-*.sh):
# those of tests/microvm/lib.sh plus checks on /proc/PID/task and on the
# trap message.
. "${top_srcdir:-.}/tests/microvm/lib.sh"
EXPORT=$top_builddir/examples/common/cvmm-seccomp-export

# all_filtered PID: every thread of PID is in seccomp filter mode. A thread
# that ends while we look (an idle io_uring worker) does not count.
all_filtered() {
	[ -d "/proc/$1/task" ] || return 1
	for task in /proc/"$1"/task/*; do
		grep -q '^Seccomp:[[:space:]]*2$' "$task/status" 2>/dev/null && continue
		[ -e "$task/status" ] && return 1
	done
	return 0
}

# thread_names PID: the distinct thread names of PID, digits dropped.
thread_names() {
	cat /proc/"$1"/task/*/comm 2>/dev/null | sed 's/[0-9-]*$//' | sort -u | tr '\n' ' '
}

# has_threads PID N: PID runs at least N threads.
has_threads() {
	[ "$(ls /proc/"$1"/task 2>/dev/null | wc -l)" -ge "$2" ]
}

# trapped RC FILE THREAD SYSCALL: the process died of the filter's trap
# (exit 159) with the message naming thread type and syscall.
trapped() {
	test "$1" -eq 159 &&
		grep -q "cvmm: seccomp: thread $3 made forbidden syscall $4 (" "$2"
}

# one_line_error TEXT FILE: exit 1 ($rc) with one line holding TEXT.
one_line_error() {
	test "$rc" -eq 1 && test "$(wc -l <"$2")" -eq 1 && grep -qF -- "$1" "$2"
}

# rules PROGRAM THREAD: the built-in filter's rule count.
rules() {
	"$EXPORT" "$1" --count | awk -v t="$2" '$1 == t { print $2 }'
}

# flag_errors PROGRAM NAME RUN: the command-line errors of the seccomp
# flags, each one line and exit 1. RUN is a function that runs the program
# with its arguments plus the flags given, leaving the status in $rc and
# the output in $TMP/err; NAME is the program's name in its messages;
# PROGRAM's first thread type must be one the program needs.
flag_errors() {
	prog=$1 name=$2 runfn=$3
	first=$("$EXPORT" "$prog" --count | awk 'NR == 1 { print $1 }')
	"$EXPORT" "$prog" >"$TMP/filters.json"
	sed '0,/"op": "eq"/s//"op": "equal"/' "$TMP/filters.json" >"$TMP/bad.json"
	line=$(grep -n '"op": "equal"' "$TMP/bad.json" | cut -d: -f1)
	$runfn --seccomp-filter "$TMP/bad.json"
	check "$prog: malformed JSON: one line naming file, line $line and field op" \
		one_line_error "bad.json:$line: " "$TMP/err"
	check "$prog: malformed JSON: the message names the field" grep -q 'field "op"' "$TMP/err"
	printf '{\n  "%s": {\n    "default_action": "trap",\n    "filter_action": "allow",,\n' \
		"$first" >"$TMP/syntax.json"
	$runfn --seccomp-filter "$TMP/syntax.json"
	check "$prog: JSON syntax error: one line with its line number" \
		one_line_error "syntax.json:4:" "$TMP/err"
	printf '{ "nothread": { "default_action": "trap", "filter_action": "allow", "filter": [] } }\n' \
		>"$TMP/nothread.json"
	$runfn --seccomp-filter "$TMP/nothread.json"
	check "$prog: a file without a $first filter is refused" \
		one_line_error "no filter for thread \"$first\"" "$TMP/err"
	$runfn --seccomp-filter "$TMP/missing.json"
	check "$prog: a missing filter file is refused" one_line_error "--seccomp-filter:" "$TMP/err"
	$runfn --seccomp maybe
	check "$prog: --seccomp maybe is refused" \
		one_line_error "$name: --seccomp: 'maybe' is not on, log or off" "$TMP/err"
	$runfn --seccomp off --seccomp-filter "$TMP/filters.json"
	check "$prog: --seccomp off with --seccomp-filter is refused" \
		one_line_error "cannot be combined" "$TMP/err"
}

# selftest_kills RUN THREAD...: each thread type dies of execve, the open of
# a new file and socket(AF_INET). RUN is a function running the program once
# with CVMM_SECCOMP_SELFTEST=$ST, output in $TMP/st, status in $rc.
selftest_kills() {
	runfn=$1; shift
	for thr in "$@"; do
		for call in execve open socket; do
			want=$call
			[ "$call" = open ] && want=openat
			ST=$thr:$call $runfn
			out=$TMP/st
			check "$thr thread: $call is trapped (exit 159, message names $want)" \
				trapped "$rc" "$TMP/st" "$thr" "$want"
			out=
		done
	done
}

# below PROGRAM THREAD LIMIT WHOSE: the thread type's rule count is below
# LIMIT, Firecracker's count for WHOSE thread.
below() {
	check "$2 thread: $(rules "$1" "$2") rules < Firecracker's $4 thread's $3" \
		test "$(rules "$1" "$2")" -lt "$3"
}

# --- the vhost-user daemons (seccomp-vhost-user-*.sh) ---------------------
# The script defines start [FLAGS...] (the daemon in the background on
# $TMP/s, pid in $dpid, CVMM_SECCOMP_SELFTEST=$ST when set; until it
# listens), bench SECONDS (a frontend's traffic through it, its report in
# $TMP/bench) and served (the report shows traffic).

# stop: SIGTERM, the exit status in $rc.
stop() {
	stop_pid "$dpid" TERM 20
	dpid=
}
served_ok() { served && test "$rc" -eq 0; }

# daemon_checks PROGRAM: every thread filtered while serving, looked at
# again and again; a second frontend and SIGTERM under the filters; then
# --seccomp off and log, and the exported built-in set as a file.
daemon_checks() {
	ST= start
	eventually 20 all_filtered "$dpid"
	bench 2 &
	bpid=$!
	bad=0 looks=0 names=
	while kill -0 "$bpid" 2>/dev/null; do
		all_filtered "$dpid" || bad=$((bad + 1))
		names="$names $(thread_names "$dpid")"
		looks=$((looks + 1))
		sleep 0.1
	done
	wait "$bpid"
	names=$(echo $names | tr ' ' '\n' | sort -u | tr '\n' ' ')
	echo "# threads seen in $looks looks: $names"
	check "while serving, every thread shows Seccomp: 2 at every look ($names)" \
		test "$bad" -eq 0
	check "the threads: protocol thread, workers, signal thread" \
		sh -c "echo '$names' | grep -q cvmm-vhost-user && echo '$names' | grep -q vub-worker &&
		       echo '$names' | grep -q vub-signals"
	check "the frontend's traffic was served" served
	bench 1
	check "a second frontend (accept under the filter) is served" served
	stop
	check "SIGTERM under the filters: exit 0, socket file removed" \
		sh -c "test $rc -eq 0 && ! test -e '$TMP/s'"

	# --seccomp off: no filter, the forbidden call runs, the daemon serves.
	ST=worker:socket start --seccomp off
	bench 1
	stop
	check "--seccomp off: a worker's socket call runs, the frontend is served, exit 0" served_ok
	# --seccomp log: the call runs (the kernel logs it).
	ST=main:execve start --seccomp log
	bench 1
	stop
	check "--seccomp log: execve runs and is only logged" \
		sh -c "test $rc -eq 0 && ! grep -q forbidden '$TMP/daemon.log'"
	check "--seccomp log: the frontend is served" served

	"$EXPORT" "$1" >"$TMP/filters.json"
	ST= start --seccomp-filter "$TMP/filters.json"
	bench 1
	stop
	check "--seccomp-filter with the exported set: served, exit 0" served_ok
}
