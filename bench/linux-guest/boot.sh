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
#
#   bench/linux-guest/boot.sh BUILDDIR [RUNS]
set -eu
build=$(cd "${1:?usage: boot.sh BUILDDIR [RUNS]}" && pwd)
runs=${2:-1}
src=$(cd "$(dirname "$0")/../.." && pwd)
g=$build/tests/linux-guest/guest
sh "$src/tests/linux-guest/build-guest.sh" "$g" >&2
cmdline=$(sed -n 's/^GUEST_CMDLINE="\(.*\)"$/\1/p' "$src/tests/linux-guest/lib.sh")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mem=256M
truncate -s 80M "$tmp/disk.img"

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
	dd=$(sed -n 's/^cvmm-test: dd write 64 MiB \([0-9.]*\) \([0-9.]*\) read \([0-9.]*\)/\1 \2 \3/p' "$tmp/serial")
	echo "$name $test ${tinit:-0} $t0 $t1 ${up:-?} $dd" | awk '{
		init = ($3 > 0) ? sprintf("%.1f", $3 - $4) : "-"
		line = sprintf("%-6s %-8s exec->/init %5s s (guest uptime %s s)  exec->exit %5.1f s", $1, $2, init, $6, $5 - $4)
		if (NF >= 9) line = line sprintf("  dd write %.1f MB/s read %.1f MB/s", 67.108864 / ($8 - $7), 67.108864 / ($9 - $8))
		print line
	}'
}

cvmm() {
	test=$1; shift
	run cvmm "$test" timeout 600 "$build/examples/microvm/cvmm-microvm" --kernel "$g/vmlinux" \
		--initrd "$g/initramfs.cpio" --memory $mem --serial file="$tmp/serial" "$@" \
		--cmdline "$cmdline cvmm.test=$test"
}

qemu() {
	test=$1; shift
	run qemu "$test" timeout 600 qemu-system-x86_64 -M microvm,pit=on,rtc=on,acpi=on -accel kvm \
		-cpu host -m $mem -nodefaults -no-user-config -nographic -no-reboot \
		-serial file:"$tmp/serial" -kernel "$g/vmlinux" -initrd "$g/initramfs.cpio" \
		-global virtio-mmio.force-legacy=false "$@" -append "$cmdline cvmm.test=$test"
}

echo "# $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(qemu-system-x86_64 --version | head -1)"
i=0
while [ $i -lt "$runs" ]; do
	cvmm shell
	qemu shell
	cvmm ddbench --disk path="$tmp/disk.img",direct=on
	qemu ddbench -drive file="$tmp/disk.img",if=none,id=d,format=raw,cache=none,aio=threads \
		-device virtio-blk-device,drive=d
	i=$((i + 1))
done
