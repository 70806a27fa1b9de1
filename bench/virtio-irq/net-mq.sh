#!/bin/sh
# Multiqueue virtio-net with an MSI-X vector per queue: frames/s of
# interrupt-driven transmits (one frame in flight per queue, each
# completion taken from its queue's vector) by the CPL3 driver
# tests/guests/virtio-net-mq.c on a 2-vCPU cvmm-microvm, into a
# multi-queue TAP in a private network namespace that drops the frames.
#   bench/virtio-irq/net-mq.sh BUILDDIR [FRAMES] [ROUNDS]     (as root)
# (defaults 3000 frames per queue, 5 rounds; medians). Cases, interleaved
# round by round: one pair on vCPU 0; two pairs, each vCPU its own queue
# and vector; two pairs with both vectors sent to vCPU 0 (what one
# interrupt for the device would make of it). Each VM's time is the span
# between the guest's two port-0x80 writes (--boot-timer). Timing decides
# nothing: a VM that fails is an error, a slow one is a figure.
set -eu
build=${1:?usage: net-mq.sh BUILDDIR [FRAMES] [ROUNDS]}
n=${2:-3000}
rounds=${3:-5}
vm="$build/examples/microvm/cvmm-microvm"
img="$build/tests/guests/virtio-net-mq.img"
[ -x "$vm" ] && [ -f "$img" ] || {
	echo "build $vm and $img first (make bench-virtio-irq)" >&2; exit 1; }
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "no /dev/kvm: nothing to measure" >&2; exit 77; }
unshare -n true 2>/dev/null || { echo "needs unshare -n (root)" >&2; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

bar=$(timeout 60 "$vm" --kernel "$img" --log-level info --guest-arg 2=0 </dev/null 2>&1 |
	sed -n 's/.*32-bit BAR window \(0x[0-9a-f]*\) .*/\1/p')
[ -n "$bar" ] || { echo "no PCI BAR window in cvmm-microvm's info log" >&2; exit 1; }

# case name, pairs, arg 3 (bit 0: every vector to vCPU 0)
cases="1-pair 1 0
2-pairs 2 0
2-pairs-to-vcpu0 2 1"

# one CASE PAIRS ARG3 -> frames/s over all queues
one() {
	out="$tmp/out"
	if ! unshare -n sh -c 'ip tuntap add dev vtap0 mode tap multi_queue &&
		ip link set vtap0 up && exec timeout 300 "$@"' sh "$vm" --kernel "$img" --cpus 2 \
		--net tap=vtap0,queues=2 --boot-timer --guest-arg 0="$bar" --guest-arg 1="$n" \
		--guest-arg 2="$2" --guest-arg 3="$3" </dev/null >"$out" 2>&1; then
		echo "$1: the VM failed:" >&2; tail -5 "$out" >&2; exit 1
	fi
	awk -v n="$n" -v p="$2" '/post code 0x10 at/ { a = $(NF - 1) } /post code 0x11 at/ { b = $(NF - 1) }
		END { if (a == "" || b == "") exit 1; printf "%.0f\n", n * p * 1000 / (b - a) }' "$out" || {
		echo "$1: no timestamps in the VM's output" >&2; exit 1; }
}

echo "# $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(uname -r)"
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg); $n frames per queue, $rounds rounds"
r=0
while [ $r -lt "$rounds" ]; do
	echo "$cases" | while read -r name p a3; do
		echo "$name $(one "$name" "$p" "$a3")" >>"$tmp/all"
	done
	r=$((r + 1))
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-18s %10s %10s %10s %12s\n' case "frames/s" min max "us/frame"
echo "$cases" | while read -r name p a3; do
	grep "^$name " "$tmp/all" | cut -d' ' -f2 | sort -n | awk -v c="$name" '
		{ v[NR] = $1 } END { m = v[int((NR + 1) / 2)];
		printf "%-18s %10.0f %10.0f %10.0f %12.1f\n", c, m, v[1], v[NR], 1e6 / m }'
done
