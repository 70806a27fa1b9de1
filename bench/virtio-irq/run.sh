#!/bin/sh
# Interrupt delivery, virtio-mmio's line vs a virtio-pci MSI-X vector:
# requests/s of one-at-a-time virtio-blk reads (one request in flight) by
# the same CPL3 driver (tests/guests/virtio-blk-irq.c) under cvmm-microvm,
# the cases interleaved round by round so the machine's load falls on all
# of them alike.
#   bench/virtio-irq/run.sh BUILDDIR [REQUESTS] [ROUNDS]
# (defaults 500 requests, 5 rounds; medians). Each VM's time is the span
# between the guest's two port-0x80 writes (--boot-timer), so boot and
# set-up stay out. Timing decides nothing: a VM that fails is an error,
# a slow one is a figure.
set -eu
build=${1:?usage: run.sh BUILDDIR [REQUESTS] [ROUNDS]}
n=${2:-500}
rounds=${3:-5}
vm="$build/examples/microvm/cvmm-microvm"
img="$build/tests/guests/virtio-blk-irq.img"
[ -x "$vm" ] && [ -f "$img" ] || {
	echo "build $vm and $img first (make bench-virtio-irq)" >&2; exit 1; }
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "no /dev/kvm: nothing to measure" >&2; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
truncate -s 1M "$tmp/disk"

# Where the PCI segment's 32-bit BAR window is (the guest places BAR 0 there).
bar=$(timeout 60 "$vm" --kernel "$img" --disk path="$tmp/disk",transport=pci \
	--log-level info --guest-arg 1=1 --guest-arg 2=0 </dev/null 2>&1 |
	sed -n 's/.*32-bit BAR window \(0x[0-9a-f]*\) .*/\1/p')
[ -n "$bar" ] || { echo "no PCI BAR window in cvmm-microvm's info log" >&2; exit 1; }

# case name, transport, arg 0, mode
cases="mmio-poll mmio 0 0
mmio-line mmio 0 1
mmio-line-noack mmio 0 2
pci-poll pci $bar 0
pci-msix pci $bar 1"

# one CASE TRANSPORT ARG0 MODE -> microseconds per request
one() {
	out="$tmp/out"
	if ! timeout 300 "$vm" --kernel "$img" --disk path="$tmp/disk",transport="$2" \
		--boot-timer --guest-arg 0="$3" --guest-arg 1="$n" --guest-arg 2="$4" \
		</dev/null >"$out" 2>&1; then
		echo "$1: the VM failed:" >&2; tail -5 "$out" >&2; exit 1
	fi
	awk -v n="$n" '/post code 0x10 at/ { a = $(NF - 1) } /post code 0x11 at/ { b = $(NF - 1) }
		END { if (a == "" || b == "") exit 1; printf "%.1f\n", (b - a) * 1000 / n }' "$out" || {
		echo "$1: no timestamps in the VM's output" >&2; exit 1; }
}

echo "# $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(uname -r)"
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg); $n requests per VM, $rounds rounds"
r=0
while [ $r -lt "$rounds" ]; do
	echo "$cases" | while read -r name tr a0 mode; do
		echo "$name $(one "$name" "$tr" "$a0" "$mode")" >>"$tmp/all"
	done
	r=$((r + 1))
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-16s %10s %10s %10s %12s\n' case "us/req" min max "requests/s"
echo "$cases" | while read -r name tr a0 mode; do
	grep "^$name " "$tmp/all" | cut -d' ' -f2 | sort -n | awk -v c="$name" '
		{ v[NR] = $1 } END { m = v[int((NR + 1) / 2)];
		printf "%-16s %10.1f %10.1f %10.1f %12.0f\n", c, m, v[1], v[NR], 1e6 / m }'
done
