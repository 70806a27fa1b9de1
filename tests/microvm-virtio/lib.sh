# TAP helpers for the cvmm-microvm virtio tests: those of tests/microvm
# plus the disk pattern of tests/guests/virtio-blk-pattern.h.
. "${top_srcdir:-.}/tests/microvm/lib.sh"
GUESTS=$top_builddir/tests/guests

# mkpattern FILE SECTORS SEED: the content the virtio-blk guests expect
# (byte i of sector s is ALPHABET[(s * 7 + i + seed) % 64]).
mkpattern() {
	LC_ALL=C awk -v n="$2" -v k="$3" 'BEGIN {
		a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
		for (s = 0; s < n; s++) {
			l = ""
			for (i = 0; i < 512; i++)
				l = l substr(a, (s * 7 + i + k) % 64 + 1, 1)
			printf "%s", l
		}
	}' >"$1"
}

# sectors FILE FIRST COUNT: those sectors of FILE on stdout.
sectors() {
	dd if="$1" bs=512 skip="$2" count="$3" 2>/dev/null
}

# ok_with TEXT: the VM exited 0 and printed TEXT.
ok_with() {
	test "$rc" -eq 0 && grep -qF -- "$1" "$out"
}

require_guests() {
	for g in "$@"; do
		if ! [ -f "$GUESTS/$g.img" ]; then
			echo "1..0 # SKIP $GUESTS/$g.img not built"
			exit 0
		fi
	done
}

# rss_kb PID: the process's resident memory in kB.
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# api_vm NAME LINE ARGS...: cvmm-microvm ARGS with an API socket (R talks
# to it) in the background until its output shows LINE (20 s at most):
# sets sock, out, tpid (timeout's pid, for wait_pid) and vpid (the VMM's).
api_vm() {
	name=$1 _line=$2; shift 2
	sock=$TMP/api.$name.sock
	out=$TMP/out.$name
	R() { timeout 20 "$top_builddir/examples/remote/cvmm-remote" --api-socket "$sock" "$@"; }
	timeout 60 "$MICROVM" --api-socket "$sock" "$@" >"$out" 2>&1 &
	tpid=$!
	wait_for "$out" "$_line" 20
	vpid=$(child_of "$tpid")
}
