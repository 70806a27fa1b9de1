#!/bin/sh
# Real-Linux network figures, cvmm-microvm vs QEMU -M microvm -accel kvm,
# both VMs booted at the same time (same load) with the same kernel,
# initramfs, memory and command line, each on a TAP in a network namespace
# of its own (root: unshare -n), virtio-net over virtio-mmio on both:
#   ping      RTT guest -> host, 10 pings (busybox ping)
#   tcp-send  guest -> host: KIB KiB by sendfile() of a sparse memfd to the
#             host's busybox nc (the guest copies nothing), until the host's
#             EOF came back
#   tcp-recv  host -> guest: KIB KiB from the host's nc, read with MSG_TRUNC
# Times are the guest's CLOCK_MONOTONIC (vsock-tool, tests/linux-guest).
# With tcpdump installed, each TAP is captured and summarised: data
# segments, their mean size, and who waits on whom (median and 90th
# percentile of the receiver's ACK delay after the segment it acknowledges,
# and of the sender's next segment after an ACK).
#
#   bench/linux-guest/net.sh BUILDDIR [KIB]
# CVMM_BENCH_ONLY=cvmm|qemu runs one side; CVMM_BENCH_VM_LIMIT (seconds,
# default 1800) stops a VM that runs longer; CVMM_BENCH_CVMM_ARGS adds
# cvmm-microvm options (default "--transport mmio", as QEMU's microvm;
# "--transport pci" for virtio-pci);
# CVMM_BENCH_KEEP=DIR keeps the captures and serial logs there.
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
limit=${CVMM_BENCH_VM_LIMIT:-1800}

# side NAME BUILD KIB TMP: one VM in this (private) namespace; prints its
# figures. Runs under unshare -n (see the end of the file).
side() {
	name=$1 build=$2 kb=$3 tmp=$4
	g=$build/tests/linux-guest/guest
	cmdline="$(sed -n 's/^GUEST_CMDLINE="\(.*\)"$/\1/p' "$src/tests/linux-guest/lib.sh") cvmm.test=netperf cvmm.kb=$kb"
	ip tuntap add dev vtap0 mode tap
	ip addr add 10.0.2.1/24 dev vtap0
	ip link set vtap0 up
	ip link set lo up
	pids=
	trap 'kill $pids 2>/dev/null || true' EXIT
	dump=
	if command -v tcpdump >/dev/null; then
		timeout "$limit" tcpdump -i vtap0 -n -s 128 -U -w "$tmp/$name.pcap" 2>"$tmp/$name.tcpdump" &
		dump=$!
		pids="$pids $!"
	fi
	# The sink never half-closes (a FIFO held open by fd 7): the guest
	# half-closes when it has sent everything, then the sink ends and the
	# guest reads its EOF.
	mkfifo "$tmp/$name.hold"
	exec 7<>"$tmp/$name.hold"
	timeout "$limit" busybox nc -l -p 5555 <"$tmp/$name.hold" >/dev/null 2>&1 &
	pids="$pids $!"
	head -c $((kb * 1024)) /dev/zero >"$tmp/$name.zeros"
	timeout "$limit" busybox nc -l -p 5556 <"$tmp/$name.zeros" >/dev/null 2>&1 &
	pids="$pids $!"
	sleep 0.5
	if [ "$name" = cvmm ]; then
		# shellcheck disable=SC2086
		timeout "$limit" "$build/examples/microvm/cvmm-microvm" --kernel "$g/vmlinux" \
			--initrd "$g/initramfs.cpio" --memory 256M --serial file="$tmp/$name.serial" \
			--net tap=vtap0,mac=02:00:00:00:00:0f ${CVMM_BENCH_CVMM_ARGS:---transport mmio} \
			--cmdline "$cmdline" >"$tmp/$name.out" 2>&1 || true
	else
		timeout "$limit" qemu-system-x86_64 -M microvm,pit=on,rtc=on,acpi=on -accel kvm \
			-cpu host,-arch-capabilities -m 256M -nodefaults -no-user-config -nographic \
			-no-reboot -serial file:"$tmp/$name.serial" -kernel "$g/vmlinux" \
			-initrd "$g/initramfs.cpio" -global virtio-mmio.force-legacy=false \
			-netdev tap,id=n0,ifname=vtap0,script=no,downscript=no \
			-device virtio-net-device,netdev=n0,mac=02:00:00:00:00:0f \
			-append "$cmdline" >"$tmp/$name.out" 2>&1 || true
	fi
	sleep 0.5
	[ -z "$dump" ] || kill "$dump" 2>/dev/null || true
	[ -z "$dump" ] || wait "$dump" 2>/dev/null || true
	tr -d '\r' <"$tmp/$name.serial" >"$tmp/$name.lf"
	fig=$(sed -n 's/^cvmm-test: netperf //p' "$tmp/$name.lf" | tr '\n' ';')
	ok=$(grep -c '^cvmm-test: ok netperf' "$tmp/$name.lf" || true)
	echo "$name: ${fig:-no figures} $( [ "$ok" = 1 ] || echo FAILED)"
	[ -z "$dump" ] || [ ! -s "$tmp/$name.pcap" ] || summary "$tmp/$name.pcap"
}

# summary PCAP: per TCP flow (5555: guest sends, 5556: host sends), the
# data segments and the waits on each side.
summary() {
	tcpdump -r "$1" -n -tt -S tcp 2>/dev/null | awk '
	function med(a, n,   i, j, t) {
		for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
		return n ? a[int((n + 1) / 2)] * 1000 : 0
	}
	function p90(a, n) { return n ? a[int(n * 0.9 + 0.5) < 1 ? 1 : int(n * 0.9 + 0.5)] * 1000 : 0 }
	{
		t = $1; s = $3; d = $5; sub(/:$/, "", d)
		port = (s ~ /\.555[56]$/) ? substr(s, length(s) - 3) : substr(d, length(d) - 3)
		if (port != "5555" && port != "5556") next
		sender = (port == "5555") ? "10.0.2.15" : "10.0.2.1"
		fromsender = (index(s, sender ".") == 1)
		len = 0; if (match($0, /length [0-9]+/)) len = substr($0, RSTART + 7, RLENGTH - 7) + 0
		if (fromsender && len > 0) {
			if (!match($0, /seq [0-9]+:[0-9]+/)) next
			split(substr($0, RSTART + 4, RLENGTH - 4), q, ":")
			n[port]++; bytes[port] += len
			if (!first[port]) first[port] = t
			last[port] = t
			segt[port, q[2]] = t
			if (lastack[port] && !answered[port]) { k = ++nr[port]; react[port, k] = t - lastack[port]; answered[port] = 1 }
		} else if (!fromsender && match($0, /ack [0-9]+/)) {
			a = substr($0, RSTART + 4, RLENGTH - 4)
			if ((port, a) in segt && !((port, a) in acked)) { k = ++nd[port]; delay[port, k] = t - segt[port, a]; acked[port, a] = 1 }
			lastack[port] = t; answered[port] = 0
		}
	}
	END {
		for (port = 5555; port <= 5556; port++) {
			if (!n[port]) continue
			m = nd[port]; for (i = 1; i <= m; i++) x[i] = delay[port, i]
			dm = med(x, m); d9 = p90(x, m)
			r = nr[port]; for (i = 1; i <= r; i++) y[i] = react[port, i]
			rm = med(y, r); r9 = p90(y, r)
			printf("  %s: %d data segments, %.0f bytes each, %.2f s first to last; receiver ACK delay median %.2f ms (p90 %.2f, %d ACKs); sender next segment after an ACK median %.2f ms (p90 %.2f)\n",
				port == 5555 ? "guest -> host" : "host -> guest", n[port], bytes[port] / n[port], last[port] - first[port], dm, d9, m, rm, r9)
		}
	}'
}

if [ "${1:-}" = --side ]; then
	shift
	side "$@"
	exit 0
fi

build=$(cd "${1:?usage: net.sh BUILDDIR [KIB]}" && pwd)
kb=${2:-4096}
sh "$src/tests/linux-guest/build-guest.sh" "$build/tests/linux-guest/guest" >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "# $(date -u +%FT%TZ), $(uname -r), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg), $(qemu-system-x86_64 --version | head -1), $kb KiB"
p=
for name in cvmm qemu; do
	[ -z "${CVMM_BENCH_ONLY:-}" ] || [ "$CVMM_BENCH_ONLY" = $name ] || continue
	unshare -n sh "$0" --side $name "$build" "$kb" "$tmp" >"$tmp/$name.result" 2>&1 &
	p="$p $!"
done
# shellcheck disable=SC2086
wait $p || true
for name in cvmm qemu; do
	[ -f "$tmp/$name.result" ] && cat "$tmp/$name.result"
done
echo "# done $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "${CVMM_BENCH_KEEP:-}" ]; then
	mkdir -p "$CVMM_BENCH_KEEP"
	cp "$tmp"/*.pcap "$tmp"/*.lf "$tmp"/*.out "$CVMM_BENCH_KEEP"/ 2>/dev/null || true
fi
