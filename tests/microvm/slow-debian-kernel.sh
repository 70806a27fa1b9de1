#!/bin/sh
# make check-slow (not in CI): boot Debian's linux-image-cloud-amd64 vmlinux
# with cvmm-microvm and wait for the kernel's first console lines on our
# serial port. On this machine's software KVM (PVM) kernel code is emulated
# at well under a million instructions per second, so the kernel gets no
# further than its early boot; on a host with hardware KVM the same command
# boots to a shell (docs/microvm.md).
. "${top_srcdir:-.}/tests/microvm/lib.sh"
require_kvm
need_cmd xz xz-utils
need_cmd zstd zstd
need_cmd lz4 lz4
need_cmd python3 python3
need_cmd readelf binutils
need_cmd apt-get apt
plan 3

. "${top_srcdir:-.}/tests/lib/debian-kernel.sh"
cache=${CVMM_KERNEL_CACHE:-$top_builddir/slow-cache}
mkdir -p "$cache"
if ! [ -f "$cache/vmlinux" ]; then
	(
		set -e
		cd "$cache"
		debian_kernel "$cache"
		# The bzImage's payload (setup header: payload_offset/length) is the
		# compressed vmlinux; Debian 12 uses lz4.
		python3 - "$vmlinuz" payload <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
sects = d[0x1f1] or 4
off, length = struct.unpack_from("<II", d, 0x248)
start = (sects + 1) * 512 + off
open(sys.argv[2], "wb").write(d[start:start + length])
PY
		case $(od -An -tx1 -N4 payload | tr -d ' ') in
		02214c18) lz4 -dc payload >vmlinux ;;
		fd377a58) xz -dc payload >vmlinux ;;
		28b52ffd) zstd -dc payload >vmlinux ;;
		1f8b08*) gzip -dc payload >vmlinux ;;
		*) echo "# unknown kernel compression"; exit 1 ;;
		esac
		readelf -h vmlinux >/dev/null
	) || { echo "# cannot fetch or unpack Debian's cloud kernel"; exit 1; }
fi
check "Debian's vmlinux has a PVH entry note" sh -c "readelf -n '$cache/vmlinux' | grep -q Xen"

cmdline="console=ttyS0 earlyprintk=serial,ttyS0,115200 cvmm.slowtest=1 tsc_early_khz=2500000 lpj=10000000 no_timer_check"
"$MICROVM" --kernel "$cache/vmlinux" --memory 512M --cmdline "$cmdline" --serial file="$TMP/console" &
pid=$!
start=$(date +%s)
deadline=$(( $(date +%s) + ${CVMM_SLOW_TIMEOUT:-900} ))
while [ "$(date +%s)" -lt "$deadline" ] && kill -0 $pid 2>/dev/null; do
	grep -q "Command line: $cmdline" "$TMP/console" 2>/dev/null && break
	sleep 5
done
echo "# after $(( $(date +%s) - start )) s"
stop_pid $pid
out=$TMP/console
check "the kernel prints its banner on our serial port" grep -q "Linux version" "$out"
check "the kernel prints the command line we gave it" grep -qF "Command line: $cmdline" "$out"
sed 's/^/# /' "$out" | head -20
finish
