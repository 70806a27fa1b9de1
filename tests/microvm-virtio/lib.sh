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
