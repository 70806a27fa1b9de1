# Helpers for the real-Linux tests: those of tests/microvm-vhost (TAP,
# run_vm, wait_for, backends), plus the guest kernel and initramfs that
# build-guest.sh makes once per build tree, and a VM run in the background.
. "${top_srcdir:-.}/tests/microvm-vhost/lib.sh"
LG=$top_builddir/tests/linux-guest/guest
KERNEL=$LG/vmlinux
INITRD=$LG/initramfs.cpio
# The boot parameters this PVM host needs (docs/test-guests.md): no XSAVE
# (xrstor is not emulated), and CPU features whose instructions the
# host's ring-0 emulator lacks cleared. No clock hints: cvmm gives the
# guest kvmclock and the TSC frequency.
GUEST_CMDLINE="console=ttyS0 reboot=k panic=1 clearcpuid=xsave,smap,popcnt,cx16,rdrand,rdseed,fsgsbase,tsc_deadline_timer"
# One boot takes 25-50 s on a quiet machine, 5 minutes and more while
# other builds load it: the bound is generous (it only stops a hang).
BOOT_TIMEOUT=${CVMM_LINUX_BOOT_TIMEOUT:-900}
vmpid=

# require_linux_guest: skip unless CVMM_LINUX_GUEST=1 asks for the boots,
# the guest can be built (or is cached) and /dev/kvm works. Opt-in for now:
# on this shared PVM machine under load one boot takes 5-10 minutes, and
# the three tests were not yet seen passing end to end (docs/test-guests.md).
require_linux_guest() {
	require_kvm
	if [ "${CVMM_LINUX_GUEST:-0}" != 1 ]; then
		echo "1..0 # SKIP real-Linux boots are opt-in: CVMM_LINUX_GUEST=1 (minutes each here)"
		exit 0
	fi
	mkdir -p "$LG"
	r=0
	timeout 3600 sh "$top_srcdir/tests/linux-guest/build-guest.sh" "$LG" \
		>"$LG/build.$$.log" 2>&1 || r=$?
	if [ $r -eq 77 ]; then
		echo "1..0 # SKIP $(tail -1 "$LG/build.$$.log")"
		rm -f "$LG/build.$$.log"
		exit 0
	elif [ $r -ne 0 ]; then
		echo "Bail out! building the Linux guest failed (exit $r): $(tail -1 "$LG/build.$$.log")"
		exit 1
	fi
	rm -f "$LG/build.$$.log"
}

# start_vm SERIAL ARGS...: the microVM in the background with the guest's
# serial console in SERIAL, its stdout (a stdio virtio-console) in
# SERIAL.out, stdin from SERIAL.in when that is a FIFO; pid in $vmpid.
start_vm() {
	s=$1; shift
	vmserial=$s
	: >"$s"
	if [ -p "$s.in" ]; then
		timeout "$BOOT_TIMEOUT" "$MICROVM" --kernel "$KERNEL" --initrd "$INITRD" \
			--serial file="$s" "$@" <"$s.in" >"$s.out" 2>"$s.err" &
	else
		timeout "$BOOT_TIMEOUT" "$MICROVM" --kernel "$KERNEL" --initrd "$INITRD" \
			--serial file="$s" "$@" </dev/null >"$s.out" 2>"$s.err" &
	fi
	vmpid=$!
}

# strip_cr FILE...: drop the carriage returns a tty puts before each
# newline (the serial console and hvc0 both do), so lines match with -x.
strip_cr() {
	for f in "$@"; do
		[ -f "$f" ] && tr -d '\r' <"$f" >"$f.lf" && mv "$f.lf" "$f"
	done
	return 0
}

# wait_vm: the exit status of the background VM in $rc; its serial and
# stdout files without carriage returns.
wait_vm() {
	rc=0
	wait "$vmpid" || rc=$?
	vmpid=
	[ -n "${vmserial:-}" ] && strip_cr "$vmserial" "$vmserial.out"
	return 0
}

stop_vm() {
	[ -n "$vmpid" ] && kill "$vmpid" 2>/dev/null && wait "$vmpid" 2>/dev/null
	vmpid=
	return 0
}
trap 'stop_vm; stop_backend; rm -rf "$TMP"' EXIT

# wait_guest FILE TEXT: until the guest's serial FILE holds TEXT; false
# when the VM ($vmpid) is gone first or BOOT_TIMEOUT passes.
wait_guest() {
	i=0
	while ! grep -qF -- "$2" "$1" 2>/dev/null; do
		kill -0 "$vmpid" 2>/dev/null || return 1
		[ $i -ge $((BOOT_TIMEOUT * 10)) ] && return 1
		sleep 0.1; i=$((i + 1))
	done
}

# guest_says FILE TEXT: the guest printed the line "cvmm-test: TEXT".
guest_says() {
	grep -qxF -- "cvmm-test: $2" "$1"
}

# uptime_at FILE WHAT: the guest uptime "cvmm-test: WHAT at N s" reported.
uptime_at() {
	sed -n "s/^cvmm-test: $2 at \\([0-9.]*\\) s\$/\\1/p" "$1" | head -1
}
