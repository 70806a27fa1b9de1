#!/bin/sh
# A real Linux kernel (tests/linux-guest/build-guest.sh) on one vCPU under
# cvmm-microvm's defaults (seccomp filters on, no clock hints): it reaches
# /init, its shell runs a command, and Linux's own drivers drive our
# virtio-rng (/dev/hwrng), virtio-console (a command from the host through
# hvc0 and its answer) and virtio-blk (an ext4 image made on the host:
# mount, write, sync, remount, read back; e2fsck on the host finds it
# clean and the host reads the guest's files). Then ACPI poweroff: exit 0.
# Folded into that boot: a snapshot (SIGUSR1) while the guest waits on
# hvc0 with a file it wrote in /tmp, restored after the first VM has
# ended into a new VMM with its own serial file and image copy: the
# restored shell answers on hvc0, shows the file, and goes on through the
# virtio-blk step to poweroff. Before it answers, the restored VM moves
# live twice through the API: pre-copy to an empty VMM, then post-copy
# (its pages fetched as Linux touches them) to a third, whose stdin and
# stdout become the guest's hvc0. The devices are on virtio-mmio
# (--transport mmio: the real-Linux check of that transport, found through
# the DSDT); net.sh, hotplug.sh and vhost-user-blk.sh boot Linux on
# virtio-pci, the default.
. "${top_srcdir:-.}/tests/linux-guest/lib.sh"
require_linux_guest
if ! command -v mkfs.ext4 >/dev/null || ! command -v debugfs >/dev/null; then
	echo "1..0 # SKIP needs mkfs.ext4 and debugfs (e2fsprogs)"
	exit 0
fi
plan 24

img=$TMP/ext4.img
mkdir -p "$TMP/fs"
echo "written by the host" >"$TMP/fs/host.txt"
truncate -s 32M "$img"
mkfs.ext4 -q -F -d "$TMP/fs" "$img"
s=$TMP/serial
mkfifo "$s.in"
# Keep the FIFO open for writing so the VM's stdin never sees EOF early.
exec 8<>"$s.in"
start_vm "$s" --memory 256M --transport mmio --disk path="$img" --rng --console stdio \
	--cmdline "$GUEST_CMDLINE cvmm.test=shell,rng,hvc,blk" \
	--snapshot destination_url=file://"$TMP/lsnap",then=resume
snapped=1
if wait_guest "$s" "cvmm-test: hvc ready"; then
	# the image as the guest left it so far (unmounted: the blk step
	# comes after), for the restored VM; then the snapshot, to the VMM
	# itself (timeout(1) does not pass SIGUSR1 on)
	cp "$img" "$TMP/ext4-restored.img"
	vmm=$(child_of "$vmpid")
	[ -n "$vmm" ] && kill -USR1 "$vmm" && eventually 120 grep -q "snapshot written" "$s.err" &&
		snapped=0
	echo 'echo "hvc answer $((7 * 191))"' >&8
fi
wait_vm
exec 8>&-
out=$s
echo "# /init at $(uptime_at "$s" init) s, done at $(uptime_at "$s" done) s of guest uptime"

check "the kernel reaches /init" grep -q "^cvmm-test: init at" "$s"
check "its shell runs a command" guest_says "$s" "shell 42"
check "one CPU" guest_says "$s" "cpus 1"
# kvm-clock gives the TSC frequency; with an invariant TSC Linux then
# prefers the TSC itself (kvm-clock's rating drops to 299).
check "kvmclock is offered and used for the TSC frequency" \
	sh -c "grep -q 'kvm-clock: Using msrs' '$s' && grep -Eq '^cvmm-test: clocksource (kvm-clock|tsc)\$' '$s'"
check "no clock hints needed: the TSC is not marked unstable" \
	sh -c "! grep -q 'Marking TSC unstable' '$s' && ! grep -q 'tsc_early_khz' '$s'"
check "each virtio-mmio device registered once (no 'can't request region')" \
	sh -c "! grep -q \"can't request region\" '$s'"
check "virtio-rng: /dev/hwrng is virtio_rng and gives random bytes" \
	sh -c "guest_says() { grep -qxF -- \"cvmm-test: \$2\" \"\$1\"; }; \
		guest_says '$s' 'hwrng virtio_rng.0' && guest_says '$s' 'ok rng'"
check "virtio-console: the host's command through hvc0 is answered on it" \
	grep -qx "hvc answer 1337" "$s.out"
check "virtio-blk: the guest mounts the ext4 image and reads the host's file" \
	guest_says "$s" "blk host.txt written by the host"
check "virtio-blk: write, sync, remount, read back" guest_says "$s" "ok blk"
check "ACPI poweroff ends the VM with 0" test "$rc" -eq 0
check "the seccomp filters stayed quiet" sh -c "! grep -q seccomp '$s.err'"
check "e2fsck on the host finds the image clean" e2fsck -fn "$img"
debugfs -R "dump /random.bin $TMP/random.bin" "$img" >/dev/null 2>&1
sum=$(md5sum <"$TMP/random.bin" | cut -d' ' -f1)
check "the host reads the guest's random.bin with the guest's md5" \
	grep -q "^cvmm-test: blk random.bin $sum written $sum\$" "$s"
debugfs -R "dump /guest.txt $TMP/guest.txt" "$img" >/dev/null 2>&1
check "the host reads the guest's 256 text lines" \
	sh -c "test \$(wc -l <'$TMP/guest.txt') -eq 256 && tail -1 '$TMP/guest.txt' | grep -qx 'cvmm ext4 line 255 of 256'"
[ "$failed" -eq 0 ] || sed 's/^/# serial: /' "$s" | tail -40

# The snapshot taken at "hvc ready", restored in a new VMM (the flags'
# overrides: its own serial file and image copy, the console on stdio):
# the guest goes on reading hvc0, where the host's command finds the file.
check "SIGUSR1 at 'hvc ready' wrote a snapshot and the first VM went on" \
	sh -c "test $snapped -eq 0 && test -s '$TMP/lsnap/manifest'"
s2=$TMP/serial2
mkfifo "$s2.in" "$s2.in3" "$s2.in4"
# (the FIFOs stay open for writing: no VMM's stdin sees EOF early)
exec 8<>"$s2.in" 6<>"$s2.in3" 7<>"$s2.in4"
: >"$s2"
timeout "$VM_LIMIT" "$MICROVM" --restore source_url=file://"$TMP/lsnap",resume=on \
	--serial file="$s2" --disk path="$TMP/ext4-restored.img" --console stdio \
	--api-socket "$TMP/m2.sock" <"$s2.in" >"$s2.out" 2>"$s2.err" &
vmpid=$!
vmserial=$s2
# Two live moves of the restored Linux: each destination an empty VMM on
# an API socket whose stdin/stdout the guest's hvc0 becomes.
REMOTE=$top_builddir/examples/remote/cvmm-remote
R() { timeout 600 "$REMOTE" --api-socket "$@"; }
migrate() { # FROM-SOCK N MODE: to a new VMM N; its pid in $vmpid
	rm -f "$TMP/m$2.sock"
	timeout "$VM_LIMIT" "$MICROVM" --api-socket "$TMP/m$2.sock" \
		<"$s2.in$2" >>"$s2.out" 2>"$s2.err$2" &
	newpid=$!
	eventually 30 test -S "$TMP/m$2.sock" &&
		R "$TMP/m$2.sock" receive-migration receiver_url=unix:"$TMP/mig$2",memory_mode=$3 &&
		R "$1" send-migration destination_url=unix:"$TMP/mig$2",memory_mode=$3 \
			2>"$TMP/prog$2" &&
		eventually 60 sh -c "! kill -0 $vmpid 2>/dev/null" &&
		wait "$vmpid" && vmpid=$newpid && con=$(($2 + 3)) &&
		eventually 120 sh -c "R() { timeout 60 '$REMOTE' --api-socket \"\$@\"; }; \
			R '$TMP/m$2.sock' info | grep -q '\"state\": \"Running\"'"
}
trap 'stop_vm; kill $newpid 2>/dev/null; rm -rf "$TMP"' EXIT
con=8 newpid=
eventually 60 test -S "$TMP/m2.sock"
check "the restored Linux moves pre-copy to an empty VMM (the source ends with 0)" \
	migrate "$TMP/m2.sock" 3 Precopy
sed 's/^/# /' "$TMP/prog3" | tail -3
check "... and post-copy to a third (the source ends with 0)" migrate "$TMP/m3.sock" 4 Postcopy
sed 's/^/# /' "$TMP/prog4" | tail -3
check "the post-copy destination says completed" \
	eventually 120 sh -c "'$REMOTE' --api-socket '$TMP/m4.sock' migration-progress | grep -q '\"state\": \"completed\"'"
# to the hvc0 of whichever VMM runs the guest now
echo 'cat /tmp/hvc.txt; echo "restored answer $((6 * 7))"' >&$con
wait_vm
exec 6>&- 7>&- 8>&-
out=$s2
check "the migrated shell answers on hvc0 (now the third VMM's stdio)" grep -qx "restored answer 42" "$s2.out"
check "the file the guest wrote before the snapshot is there" \
	sh -c "grep -q '^written at [0-9.]* s of uptime\$' '$s2.out'"
check "the restored guest goes on: virtio-blk on its own image copy" \
	sh -c "grep -qx 'cvmm-test: ok blk' '$s2' && ! grep -q 'cvmm-test: init at' '$s2'"
check "the migrated VM powers off with 0 and its filters stayed quiet" \
	sh -c "test $rc -eq 0 && ! grep -q seccomp '$s2.err' '$s2.err3' '$s2.err4'"
check "e2fsck finds the restored VM's image clean" e2fsck -fn "$TMP/ext4-restored.img"
[ "$failed" -eq 0 ] || sed 's/^/# restored serial: /' "$s2" | tail -20
finish
