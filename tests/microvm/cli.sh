#!/bin/sh
# Every malformed command line gets one clear line naming the flag, exit 1,
# and no VM is started.
. "${top_srcdir:-.}/tests/microvm/lib.sh"
plan 12

one_line_error() { # TEXT FILE
	test "$rc" -eq 1 && test "$(wc -l <"$2")" -eq 1 && grep -qF -- "$1" "$2"
}

bad() { # DESCRIPTION EXPECTED-TEXT ARGS...
	desc=$1 want=$2; shift 2
	run_vm out "$@"
	check "$desc" one_line_error "$want" "$out"
}

bad "missing --kernel" "--kernel: missing"
bad "unknown option" "unknown option '--frobnicate'" --frobnicate
bad "--cpus 0" "--cpus: '0'" --kernel x --cpus 0
bad "--cpus not a number" "--cpus: '2x'" --kernel x --cpus 2x
bad "--cpus too many" "--cpus: '65'" --kernel x --cpus 65
bad "--memory malformed" "--memory: '12Q'" --kernel x --memory 12Q
bad "--memory too small" "--memory: '1M'" --kernel x --memory 1M
bad "--serial unknown mode" "--serial: 'tty'" --kernel x --serial tty
bad "--log-level unknown" "--log-level: 'loud'" --kernel x --log-level loud
bad "kernel file missing" "--kernel: cannot open '/nonexistent/vmlinux'" --kernel /nonexistent/vmlinux
printf 'not a kernel at all' >"$TMP/junk"
bad "kernel not an image" "not an ELF vmlinux or bzImage" --kernel "$TMP/junk"
run_vm out --help
check "--help prints usage and exits 0" sh -c "test $rc -eq 0 && grep -q 'Usage:' '$out'"
finish
