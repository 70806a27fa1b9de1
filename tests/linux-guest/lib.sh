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
# other builds load it. So no wait is bounded by a time a boot should take:
# a VM is given up on when its guest has printed nothing for STALL seconds
# (its serial console grows with every step of a healthy boot, seconds
# apart here), and VM_LIMIT only stops a guest that prints for ever.
STALL=${CVMM_LINUX_STALL:-600}
VM_LIMIT=${CVMM_LINUX_VM_LIMIT:-5400}
vmpid=

# require_linux_guest: skip when CVMM_LINUX_GUEST=0 asks for it, in a
# sanitizer build (see below), when the guest cannot be built (a package
# missing) or without /dev/kvm; otherwise build or reuse the guest.
require_linux_guest() {
	require_kvm
	if [ "${CVMM_LINUX_GUEST:-1}" = 0 ]; then
		echo "1..0 # SKIP CVMM_LINUX_GUEST=0: real-Linux boots not wanted"
		exit 0
	fi
	# Once a CI run is enough: tools/run-tests runs them in its -Werror
	# build. In the sanitizer build they would cost a second kernel build
	# (3.5 min) and boots, for a VMM that is the same code.
	if [ "${CVMM_SANITIZERS:-no}" = yes ] && [ "${CVMM_LINUX_GUEST:-}" != 1 ]; then
		echo "1..0 # SKIP sanitizer build: the real-Linux boots run in the plain build (CVMM_LINUX_GUEST=1 runs them here too)"
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
		timeout "$VM_LIMIT" "$MICROVM" --kernel "$KERNEL" --initrd "$INITRD" \
			--serial file="$s" "$@" <"$s.in" >"$s.out" 2>"$s.err" &
	else
		timeout "$VM_LIMIT" "$MICROVM" --kernel "$KERNEL" --initrd "$INITRD" \
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

# progress FILE: false once FILE has not grown for STALL seconds (call it
# every 0.2 s; the state is kept in _psize and _pidle).
_psize=-1 _pidle=0
progress() {
	_sz=$(stat -c %s "$1" 2>/dev/null || echo 0)
	if [ "$_sz" != "$_psize" ]; then
		_psize=$_sz _pidle=0
	else
		_pidle=$((_pidle + 1))
	fi
	if [ $_pidle -ge $((STALL * 5)) ]; then
		echo "# the guest printed nothing for $STALL s"
		return 1
	fi
}

# wait_vm: the exit status of the background VM in $rc (stopped with
# SIGTERM if its guest stalls); its serial and stdout files without
# carriage returns.
wait_vm() {
	_psize=-1 _pidle=0
	while kill -0 "$vmpid" 2>/dev/null; do
		progress "$vmserial" || { kill "$vmpid" 2>/dev/null; break; }
		sleep 0.2
	done
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
# when the VM ($vmpid) is gone first or the guest stalls (STALL).
wait_guest() {
	_psize=-1 _pidle=0
	while ! grep -qF -- "$2" "$1" 2>/dev/null; do
		kill -0 "$vmpid" 2>/dev/null || return 1
		progress "$1" || return 1
		sleep 0.2
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
