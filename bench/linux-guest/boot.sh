#!/bin/sh
# Real-Linux figures, cvmm-microvm vs QEMU -M microvm -accel kvm in one run,
# with the same kernel, initramfs, memory and command line (the test guest
# of tests/linux-guest, built or reused by build-guest.sh):
#   exec -> /init      host wall time from starting the VMM until the
#                      guest's "cvmm-test: init at" line is in its serial
#                      file (polled every 50 ms), and the guest's own uptime
#                      at that line
#   exec -> power-off  until the VMM process has exited after poweroff -f
#   dd 64 MiB          busybox dd, 1 MiB blocks, O_DIRECT, sequential write
#                      then read of a raw virtio-blk disk (guest uptime
#                      deltas, 10 ms resolution)
#   nc N MiB           TCP through virtio-net and a TAP: the guest's busybox
#                      nc sends N MiB of zeros to the host's, then receives
#                      N MiB from another (guest uptime deltas)
#
#   bench/linux-guest/boot.sh BUILDDIR [RUNS] [NC_MIB]
# CVMM_BENCH_VM_LIMIT (seconds, default 1800) stops a VM that runs longer:
# under a load of 15-20 one boot here takes over 10 minutes.
# Runs in a private network namespace of its own (unshare -n; root), with
# the TAP vtap0 at 10.0.2.1 that both VMMs attach to in turn.
set -eu
if [ -z "${CVMM_BENCH_NETNS:-}" ]; then
	CVMM_BENCH_NETNS=1 exec unshare -n sh "$0" "$@"
fi
ip tuntap add dev vtap0 mode tap
ip addr add 10.0.2.1/24 dev vtap0
ip link set vtap0 up
ip link set lo up
build=$(cd "${1:?usage: boot.sh BUILDDIR [RUNS] [NC_MIB]}" && pwd)
runs=${2:-1}
ncmb=${3:-16}
src=$(cd "$(dirname "$0")/../.." && pwd)
g=$build/tests/linux-guest/guest
sh "$src/tests/linux-guest/build-guest.sh" "$g" >&2
cmdline=$(sed -n 's/^GUEST_CMDLINE="\(.*\)"$/\1/p' "$src/tests/linux-guest/lib.sh")
tmp=$(mktemp -d)
ncpids=
trap 'kill $ncpids 2>/dev/null; rm -rf "$tmp"' EXIT
mem=256M
limit=${CVMM_BENCH_VM_LIMIT:-1800}
truncate -s 80M "$tmp/disk.img"
mkfifo "$tmp/hold"
exec 7<>"$tmp/hold"

now() { date +%s.%N; }

# run NAME TEST CMD...: one boot; prints "NAME init_wall init_uptime exit_wall [dd...]".
run() {
	name=$1 test=$2; shift 2
	: >"$tmp/serial"
	t0=$(now)
	"$@" >"$tmp/out" 2>&1 &
	pid=$!
	tinit=
	while kill -0 $pid 2>/dev/null; do
		if [ -z "$tinit" ] && grep -q "^cvmm-test: init at" "$tmp/serial"; then
			tinit=$(now)
		fi
		sleep 0.05
	done
	wait $pid || true
	t1=$(now)
	up=$(sed -n 's/^cvmm-test: init at \([0-9.]*\) s.*/\1/p' "$tmp/serial" | head -1)
	tr -d '\r' <"$tmp/serial" >"$tmp/serial.lf"
	dd=$(sed -n 's/^cvmm-test: dd write 64 MiB \([0-9.]*\) \([0-9.]*\) read \([0-9.]*\)$/dd \1 \2 \3/p' "$tmp/serial.lf")
	nc=$(sed -n 's/^cvmm-test: nc tx \([0-9]*\) MiB \([0-9.]*\) \([0-9.]*\) rx \([0-9]*\) bytes \([0-9.]*\)$/nc \1 \2 \3 \4 \5/p' "$tmp/serial.lf")
	fails=$(grep -c '^cvmm-test: FAIL' "$tmp/serial.lf" || true)
	echo "$name $test ${tinit:-0} $t0 $t1 ${up:-?} $fails $dd $nc" | awk '{
		init = ($3 > 0) ? sprintf("%.1f", $3 - $4) : "-"
		line = sprintf("%-6s %-8s exec->/init %5s s (guest uptime %s s)  exec->exit %5.1f s", $1, $2, init, $6, $5 - $4)
		if ($8 == "dd") line = line sprintf("  dd write %.1f MB/s read %.1f MB/s", 67.108864 / ($10 - $9), 67.108864 / ($11 - $10))
		if ($8 == "nc") line = line sprintf("  nc %d MiB: guest->host %.2f MB/s, host->guest %.2f MB/s (%d bytes)", $9, $9 * 1.048576 / ($11 - $10), $12 / 1e6 / ($13 - $11), $12)
		if ($7 > 0) line = line sprintf("  (%d steps FAILED)", $7)
		print line
	}'
}

# listeners: the host's nc ends for netbench (a sink on 5555, NC_MIB of
# zeros from 5556); each ends with its connection.
listeners() {
	kill $ncpids 2>/dev/null || true
	# the old listeners must have let go of their ports: a new `nc -l`
	# started while one still held 5555 failed to bind, and the next
	# guest's nc met "Connection refused" (QEMU's netbench, 17:00 run)
	[ -z "$ncpids" ] || wait $ncpids 2>/dev/null || true
	# The sink never half-closes (a FIFO held open by fd 7): the guest's nc
	# stops sending at the first EOF from its socket.
	timeout "$limit" busybox nc -l -p 5555 <"$tmp/hold" >/dev/null 2>&1 &
	ncpids=$!
	head -c $((ncmb * 1048576)) /dev/zero >"$tmp/zeros"
	timeout "$limit" busybox nc -l -p 5556 <"$tmp/zeros" >/dev/null 2>&1 &
	ncpids="$ncpids $!"
	sleep 0.2
}

# CVMM_BENCH_ONLY=cvmm|qemu runs one side.
cvmm() {
	test=$1; shift
	[ "${CVMM_BENCH_ONLY:-cvmm}" = cvmm ] || return 0
	# virtio-mmio as QEMU's -M microvm below (cvmm's default is PCI)
	run cvmm "$test" timeout "$limit" "$build/examples/microvm/cvmm-microvm" --kernel "$g/vmlinux" \
		--transport mmio --initrd "$g/initramfs.cpio" --memory $mem --serial file="$tmp/serial" "$@" \
		--cmdline "$cmdline cvmm.test=$test cvmm.mb=$ncmb"
}

# QEMU 7.2 with plain -cpu host stops at once here: "failed to set MSR 0x10a
# to 0x69" and an assertion in kvm_buf_set_msrs (this PVM host refuses
# IA32_ARCH_CAPABILITIES); without that feature it boots.
qemu() {
	test=$1; shift
	[ "${CVMM_BENCH_ONLY:-qemu}" = qemu ] || return 0
	run qemu "$test" timeout "$limit" qemu-system-x86_64 -M microvm,pit=on,rtc=on,acpi=on -accel kvm \
		-cpu host,-arch-capabilities -m $mem -nodefaults -no-user-config -nographic -no-reboot \
		-serial file:"$tmp/serial" -kernel "$g/vmlinux" -initrd "$g/initramfs.cpio" \
		-global virtio-mmio.force-legacy=false "$@" -append "$cmdline cvmm.test=$test cvmm.mb=$ncmb"
}

echo "# $(date -u +%FT%TZ), $(uname -r), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg), $(qemu-system-x86_64 --version | head -1)"
i=0
while [ $i -lt "$runs" ]; do
	cvmm shell
	qemu shell
	cvmm ddbench --disk path="$tmp/disk.img",direct=on
	qemu ddbench -drive file="$tmp/disk.img",if=none,id=d,format=raw,cache=none,aio=threads \
		-device virtio-blk-device,drive=d
	listeners
	cvmm netbench --net tap=vtap0,mac=02:00:00:00:00:0f
	listeners
	qemu netbench -netdev tap,id=n0,ifname=vtap0,script=no,downscript=no \
		-device virtio-net-device,netdev=n0,mac=02:00:00:00:00:0f
	i=$((i + 1))
done
