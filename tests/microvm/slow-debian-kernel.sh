#!/bin/sh
# make check-slow (not in CI): boot Debian's linux-image-cloud-amd64 vmlinux
# with cvmm-microvm and wait for the kernel's first console lines on our
# serial port. On this machine's software KVM (PVM) kernel code is emulated
# at well under a million instructions per second, so the kernel gets no
# further than its early boot; on a host with hardware KVM the same command
# boots to a shell (docs/microvm.md).
. "${top_srcdir:-.}/tests/microvm/lib.sh"
require_kvm
plan 3

cache=${CVMM_KERNEL_CACHE:-$top_builddir/slow-cache}
mkdir -p "$cache"
if ! [ -f "$cache/vmlinux" ]; then
	(
		set -e
		cd "$cache"
		command -v xz >/dev/null || apt-get install -y -qq xz-utils zstd >/dev/null
		pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
		apt-get download "$pkg" >/dev/null
		dpkg-deb -x linux-image-*.deb root
		vmlinuz=$(ls root/boot/vmlinuz-*)
		# The bzImage's payload is the compressed vmlinux: find its magic.
		for m in 'xz:\3757zXZ' 'zstd:(\265/\375' 'gzip:\037\213\010'; do
			tool=${m%%:*}
			magic=$(printf "${m#*:}")
			off=$(grep -abo "$magic" "$vmlinuz" | head -1 | cut -d: -f1) || true
			[ -n "$off" ] || continue
			tail -c +$((off + 1)) "$vmlinuz" | $tool -dc >vmlinux 2>/dev/null || true
			readelf -h vmlinux >/dev/null 2>&1 && break
		done
		readelf -h vmlinux >/dev/null
	) || { echo "# cannot fetch or unpack Debian's cloud kernel"; exit 1; }
fi
check "Debian's vmlinux has a PVH entry note" sh -c "readelf -n '$cache/vmlinux' | grep -q Xen"

cmdline="console=ttyS0 earlyprintk=serial,ttyS0,115200 cvmm.slowtest=1 tsc_early_khz=2500000 lpj=10000000 no_timer_check"
"$MICROVM" --kernel "$cache/vmlinux" --memory 512M --cmdline "$cmdline" --serial file="$TMP/console" &
pid=$!
deadline=$(( $(date +%s) + ${CVMM_SLOW_TIMEOUT:-900} ))
while [ "$(date +%s)" -lt "$deadline" ] && kill -0 $pid 2>/dev/null; do
	grep -q "Command line: $cmdline" "$TMP/console" 2>/dev/null && break
	sleep 5
done
kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null
out=$TMP/console
check "the kernel prints its banner on our serial port" grep -q "Linux version" "$out"
check "the kernel prints the command line we gave it" grep -qF "Command line: $cmdline" "$out"
sed 's/^/# /' "$out" | head -20
finish
