#!/bin/sh
# Every malformed command line gets one clear line naming the flag, exit 1,
# and no VM is started.
. "${top_srcdir:-.}/tests/microvm/lib.sh"
plan 33

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
check "--help names --transport and its default" grep -q -- "--transport pci|mmio .*(default" "$out"
bad "--transport usb" "--transport: 'usb' is not pci or mmio" --kernel x --transport usb

# The short forms a new user tries first.
run_vm out -h
check "-h prints usage and exits 0" sh -c "test $rc -eq 0 && grep -q 'Usage:' '$out'"
for v in -V -v --version; do
	run_vm out $v
	check "$v prints the version and exits 0" sh -c "test $rc -eq 0 && grep -q '^cvmm-microvm [0-9]' '$out'"
done
bad "an unknown short option is unknown, not a missing value" "unknown option '-x'" -x
bad "a missing value still says so" "--cpus: needs a value" --kernel x --cpus

# Files that are not what the flag needs: the message says what they are.
mkdir "$TMP/dir"
bad "a directory as kernel" "--kernel: '$TMP/dir' is a directory" --kernel "$TMP/dir"
bad "/dev/null as kernel" "--kernel: '/dev/null' is not a regular file" --kernel /dev/null
bad "a directory as initrd" "--initrd: '$TMP/dir' is a directory" --kernel "$TMP/junk" --initrd "$TMP/dir"
bad "a directory as disk" "--disk: path: '$TMP/dir' is a directory" \
	--kernel "$TMP/junk" --disk path="$TMP/dir"
bad "/dev/null as disk" "--disk: path: '/dev/null' is not a regular file or block device" \
	--kernel "$TMP/junk" --disk path=/dev/null
printf '%0100d' 0 >"$TMP/tiny"
bad "a disk smaller than one sector" "--disk: path: '$TMP/tiny' is smaller than one 512-byte sector (100 bytes)" \
	--kernel "$TMP/junk" --disk path="$TMP/tiny"
truncate -s 1M "$TMP/img"
ln -s "$TMP/img" "$TMP/img-link"
bad "the same image twice" "--disk: path: '$TMP/img-link' is the image '$TMP/img' given already" \
	--kernel "$TMP/junk" --disk path="$TMP/img" --disk path="$TMP/img-link",readonly=on

# An image another process has open for writing (a vhost-user-blk daemon:
# the same lock as a VMM's) is refused, read-only too.
VUBLK=$top_builddir/examples/vhost-user-blk/cvmm-vhost-user-blk
timeout 60 "$VUBLK" --socket "$TMP/s" --disk "$TMP/img" >"$TMP/daemon.log" 2>&1 &
dpid=$!
eventually 10 test -S "$TMP/s"
bad "an image another process writes" "--disk: path: '$TMP/img' is in use by another process" \
	--kernel "$TMP/junk" --disk path="$TMP/img"
bad "an image another process writes, read-only" "--disk: path: '$TMP/img' is in use by another process" \
	--kernel "$TMP/junk" --disk path="$TMP/img",readonly=on
rc=0
timeout 30 "$VUBLK" --socket "$TMP/s2" --disk "$TMP/img" >"$TMP/d2" 2>&1 || rc=$?
check "a second cvmm-vhost-user-blk on the image: refused, naming it" \
	sh -c "test $rc -eq 1 && grep -qF '$TMP/img: in use by another process' '$TMP/d2'"
stop_pid "$dpid"

# A failed start leaves no --serial or --console file behind.
run_vm out --kernel /nonexistent/vmlinux --serial file="$TMP/ser" --console file="$TMP/con"
check "missing kernel: no --serial or --console file created" \
	sh -c "test $rc -eq 1 && ! test -e '$TMP/ser' && ! test -e '$TMP/con'"
if [ -w /dev/kvm ]; then
	# Past the checks (a file, but no kernel): the devices made them first.
	run_vm out --kernel "$TMP/junk" --serial file="$TMP/ser" --console file="$TMP/con"
	check "a kernel that does not load: its --serial and --console files are removed" \
		sh -c "test $rc -eq 1 && grep -q 'not an ELF' '$out' && ! test -e '$TMP/ser' && ! test -e '$TMP/con'"
	echo keep >"$TMP/ser-old"
	run_vm out --kernel "$TMP/junk" --serial file="$TMP/ser-old"
	check "a --serial file that existed before is not removed" test -e "$TMP/ser-old"
else
	n=$((n + 2)); echo "ok $((n - 1)) - # SKIP no /dev/kvm"; echo "ok $n - # SKIP no /dev/kvm"
fi
finish
