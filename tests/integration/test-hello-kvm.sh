#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# hello-kvm end to end: serial output, exit codes, several vCPUs at once,
# triple faults, the command line and hostile image files. Prints TAP.
set -u
top_builddir=${top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}
hk="$top_builddir/examples/hello-kvm/hello-kvm"
g="$top_builddir/tests/guests"

if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
	echo "1..0 # SKIP /dev/kvm is not available on this machine"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
fail=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fail=1; echo "not ok $n - $1"; sed 's/^/# /' "$tmp/out" "$tmp/err" 2>/dev/null; }

# run NAME EXPECTED-STATUS hello-kvm-args...; output in $tmp/out, $tmp/err
run() {
	name=$1 want=$2
	shift 2
	timeout 120 "$hk" "$@" >"$tmp/out" 2>"$tmp/err"
	st=$?
	if [ "$st" -eq "$want" ]; then ok "$name (status $st)"; else
		echo "# status $st, expected $want" >>"$tmp/err"; notok "$name"; fi
}
expect_out() { if grep -q -- "$2" "$tmp/out"; then ok "$1"; else notok "$1"; fi; }
expect_err() { if grep -q -- "$2" "$tmp/err"; then ok "$1"; else notok "$1"; fi; }
one_line_err() { if [ "$(wc -l <"$tmp/err")" -eq 1 ] && [ ! -s "$tmp/out" ]; then ok "$1"; else notok "$1"; fi; }

run "hello exits 0" 0 "$g/hello.img"
expect_out "hello prints its greeting at CPL3" "Hello from a cvmm test guest: cpu 0 of 1, CPL3"
run "hello on 4 vCPUs" 0 --cpus 4 --memory 256M "$g/hello.img"
expect_out "hello sees 4 vCPUs" "cpu 0 of 4"

for c in 1 2 3 8; do
	run "smp on $c vCPUs exits with the vCPU count" "$c" --cpus "$c" "$g/smp.img"
	expect_out "smp: all $c vCPUs checked in" "^$c vCPUs seen"
done

run "triple fault at CPL3 exits 2" 2 "$g/fault.img"
expect_err "triple fault message names vCPU and RIP" "triple fault (shutdown) on vCPU 0 at RIP 0x[0-9a-f]"
expect_out "fault guest ran before faulting" "about to triple-fault at CPL3"
run "triple fault at CPL0 exits 2" 2 --cpus 2 "$g/fault-cpl0.img"
expect_err "CPL0 triple fault message" "triple fault (shutdown) on vCPU [01] at RIP 0x2000"

run "exit code of a guest that spins on other vCPUs" 0 --cpus 2 --memory 4G "$g/hello.img"
run "--arg reaches the guest (ioevent, no ports)" 0 --arg 3=0 "$g/ioevent.img"
run "dirty log reports at each sync" 0 --dirty-log ring --arg 0=0x1000000 --arg 1=1024 \
	--arg 2=100 --arg 3=9 "$g/dirty.img"
expect_err "dirty-log sync line" "dirty-log sync 0: [0-9]* pages"

run "--timeout stops a guest that never exits" 3 --timeout 1 --arg 1=0x40 "$g/irq.img"
expect_err "timeout message" "guest timed out: no exit within 1000 ms"
run "bad timeout" 1 --timeout 0 "$g/hello.img"
one_line_err "bad timeout: one-line error"

run "--help" 0 --help
expect_out "--help shows usage" "Usage: hello-kvm"
run "no image" 1
one_line_err "no image: one-line error"
run "unknown flag" 1 --bogus "$g/hello.img"
one_line_err "unknown flag: one-line error"
run "flag without value" 1 "$g/hello.img" --cpus
one_line_err "missing value: one-line error"
run "bad cpu count" 1 --cpus 0 "$g/hello.img"
one_line_err "bad cpu count: one-line error"
run "cpu count with junk" 1 --cpus 2x "$g/hello.img"
run "bad memory size" 1 --memory 12Q "$g/hello.img"
one_line_err "bad memory: one-line error"
run "memory too small" 1 --memory 1M "$g/hello.img"
run "bad dirty mode" 1 --dirty-log sometimes "$g/hello.img"
one_line_err "bad dirty mode: one-line error"
run "bad --arg" 1 --arg 7=1 "$g/hello.img"
run "missing image file" 1 "$tmp/nonexistent.img"
one_line_err "missing file: one-line error"

# Hostile files: none may crash hello-kvm; each gives one clear line.
: >"$tmp/empty.img"
run "empty file" 1 "$tmp/empty.img"
expect_err "empty file: not an image" "not a cvmm guest image"
head -c 40 "$g/hello.img" >"$tmp/short.img"
run "truncated header" 1 "$tmp/short.img"
size=$(wc -c <"$g/hello.img")
head -c $((size - 1)) "$g/hello.img" >"$tmp/trunc.img"
run "truncated body" 1 "$tmp/trunc.img"
one_line_err "truncated body: one-line error"
{ printf 'XXXXXXXX'; tail -c +9 "$g/hello.img"; } >"$tmp/magic.img"
run "bad magic" 1 "$tmp/magic.img"
# load_gpa (offset 16) far beyond RAM: 0x0000100000000000
{ head -c 16 "$g/hello.img"; printf '\000\000\000\000\000\020\000\000'; tail -c +25 "$g/hello.img"; } >"$tmp/far.img"
run "load address outside RAM" 1 "$tmp/far.img"
expect_err "outside RAM: clear error" "cannot load"
# mem_size (offset 40) = 2^64 - 1: the range wraps
{ head -c 40 "$g/hello.img"; printf '\377\377\377\377\377\377\377\377'; tail -c +49 "$g/hello.img"; } >"$tmp/wrap.img"
run "mem_size overflow" 1 "$tmp/wrap.img"
head -c 100000 /dev/urandom >"$tmp/random.img"
run "random bytes" 1 "$tmp/random.img"

echo "1..$n"
exit $fail
