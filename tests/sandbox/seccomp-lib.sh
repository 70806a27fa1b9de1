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
