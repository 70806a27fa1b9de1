# The guest side of tests/linux-guest/*.sh: one shell function a step,
# sourced by /init. A step returns 0 for ok; what it prints for the host
# to check starts with "cvmm-test: ".
say() { echo "cvmm-test: $*"; }

# A shell runs a command; the CPUs Linux brought up.
step_shell() {
	say "shell $(sh -c 'echo $((6 * 7))')"
	say "cpus $(grep -c ^processor /proc/cpuinfo)"
	say "clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
	say "kernel $(uname -r)"
}

# The kernel log with its timestamps (boot-time figures: docs/benchmarks.md;
# boot with initcall_debug for each initcall's duration).
step_dmesg() {
	dmesg | sed 's/^/cvmm-dmesg: /'
}

# virtio-rng through /dev/hwrng: 64 bytes, not all zero, twice different.
step_rng() {
	say "hwrng $(cat /sys/class/misc/hw_random/rng_current)"
	a=$(dd if=/dev/hwrng bs=64 count=1 2>/dev/null | od -An -tx1 | tr -d ' \n')
	b=$(dd if=/dev/hwrng bs=64 count=1 2>/dev/null | od -An -tx1 | tr -d ' \n')
	say "rng ${#a} hex digits"
	[ ${#a} -eq 128 ] && [ "$a" != "$b" ] && [ "$a" != "$(printf '%0128d' 0)" ]
}

# virtio-console: one command line from the host on hvc0, its output back.
step_hvc() {
	[ -c /dev/hvc0 ] || return 1
	# a file for the host to find again in a VM restored from a snapshot
	# taken while this step waits (tests/linux-guest/boot.sh)
	echo "written at $(cut -d' ' -f1 /proc/uptime) s of uptime" >/tmp/hvc.txt
	say "hvc ready"
	read -r line </dev/hvc0 || return 1
	sh -c "$line" >/dev/hvc0 2>&1
}

# virtio-blk: the host's ext4 image is /dev/vda. Write, sync, remount,
# read back; the host then runs e2fsck and reads the file itself.
step_blk() {
	mount -t ext4 /dev/vda /mnt || return 1
	i=0
	while [ $i -lt 256 ]; do echo "cvmm ext4 line $i of 256"; i=$((i + 1)); done >/mnt/guest.txt
	dd if=/dev/hwrng of=/mnt/random.bin bs=4096 count=64 2>/dev/null ||
		dd if=/dev/urandom of=/mnt/random.bin bs=4096 count=64 2>/dev/null
	sum=$(md5sum /mnt/random.bin | cut -d' ' -f1)
	host=$(cat /mnt/host.txt)
	sync
	umount /mnt || return 1
	mount -t ext4 /dev/vda /mnt || return 1
	say "blk random.bin $(md5sum /mnt/random.bin | cut -d' ' -f1) written $sum"
	say "blk host.txt $host"
	[ "$(md5sum /mnt/random.bin | cut -d' ' -f1)" = "$sum" ] &&
		[ "$(wc -l </mnt/guest.txt)" -eq 256 ] || return 1
	umount /mnt
}

# vdisk pci|mmio: the first virtio disk on that transport (/dev/vdX), by
# where sysfs puts it: under the PCI host bridge or not.
vdisk() {
	for b in /sys/block/vd*; do
		[ -e "$b" ] || continue
		case "$(readlink -f "$b/device")" in
		*/pci0000:*) t=pci ;;
		*) t=mmio ;;
		esac
		[ "$t" = "$1" ] && { echo "/dev/${b##*/}"; return 0; }
	done
	return 1
}

# rawio DEV NAME: the host's first sector of DEV, then 64 KiB of the
# guest's pattern at 64 KiB, written through with fsync.
rawio() {
	[ -b "$1" ] || return 1
	say "$2 sector0 $(dd if="$1" bs=512 count=1 2>/dev/null | md5sum | cut -d' ' -f1)"
	yes "guest wrote this through $2" | head -c 65536 >/tmp/p
	dd if=/tmp/p of="$1" bs=4096 seek=16 conv=fsync 2>/dev/null || return 1
	say "$2 wrote $(md5sum </tmp/p | cut -d' ' -f1)"
}

# A raw disk on virtio-mmio (vhost-user-blk.sh: the daemon's).
step_rawblk() {
	rawio "$(vdisk mmio)" vda
}

# virtio-pci: every PCI function with its driver, the MSI-X vectors
# Linux gave the virtio devices (their lines of /proc/interrupts), and the
# raw disk on PCI written and read like rawblk's.
step_pci() {
	for d in /sys/bus/pci/devices/*; do
		[ -e "$d" ] || continue
		drv=none
		[ -e "$d/driver" ] && drv=$(basename "$(readlink "$d/driver")")
		say "pci ${d##*/} $(cat "$d/vendor"):$(cat "$d/device") $drv"
		# 4096 bytes when Linux reaches the extended space (ECAM), 256
		# through the 0xCF8 ports alone.
		say "pci ${d##*/} config $(wc -c <"$d/config") bytes"
	done
	dev=$(vdisk pci) || return 1
	say "pci disk ${dev#/dev/}"
	rawio "$dev" pcidisk || return 1
	grep -i 'virtio' /proc/interrupts | grep -i 'msi' | tr -s ' ' |
		while read -r l; do say "pci irq $l"; done
	grep -i 'virtio' /proc/interrupts | grep -qi 'msi'
}

# virtio-net: 10.0.2.15 on eth0, the host at 10.0.2.1. Ping, then send
# 256 KiB to the host's nc on port 5555 and receive what its port 5556
# sends (our write half stays open on a FIFO until the host is done:
# busybox nc stops at the first EOF it reads from the socket).
step_net() {
	ip link set lo up
	ip addr add 10.0.2.15/24 dev eth0 && ip link set eth0 up || return 1
	ping -c 3 -W 5 10.0.2.1 >/tmp/ping 2>&1
	say "ping $(grep -c 'bytes from' /tmp/ping) replies"
	grep -q 'bytes from' /tmp/ping || return 1
	i=0
	while [ $i -lt 4096 ]; do printf 'guest to host line %058d\n' $i; i=$((i + 1)); done >/tmp/tx
	say "net tx $(md5sum </tmp/tx | cut -d' ' -f1) $(wc -c </tmp/tx) bytes"
	nc 10.0.2.1 5555 </tmp/tx >/dev/null || return 1
	mkfifo /tmp/hold
	nc 10.0.2.1 5556 </tmp/hold >/tmp/rx &
	pid=$!
	exec 3>/tmp/hold
	wait $pid
	r=$?
	exec 3>&-
	say "net rx $(md5sum </tmp/rx | cut -d' ' -f1) $(wc -c </tmp/rx) bytes"
	return $r
}

# vsock: guest -> host port 1234 (a line out, the answer back), then
# host -> guest: listen on port 5000 and echo one line (the host connects
# when it sees "vsock-tool: listening on port 5000").
step_vsock() {
	say "vsock cid $(vsock-tool cid)"
	ans=$(echo "hello from the guest" | vsock-tool connect 2 1234) || return 1
	say "vsock answer $ans"
	vsock-tool listen 5000
}

# Sequential 64 MiB write and read of /dev/vda with O_DIRECT (figures).
step_ddbench() {
	t0=$(cut -d' ' -f1 /proc/uptime)
	dd if=/dev/zero of=/dev/vda bs=1M count=64 oflag=direct 2>/dev/null || return 1
	t1=$(cut -d' ' -f1 /proc/uptime)
	dd if=/dev/vda of=/dev/null bs=1M count=64 iflag=direct 2>/dev/null || return 1
	t2=$(cut -d' ' -f1 /proc/uptime)
	say "dd write 64 MiB $t0 $t1 read $t2"
}

# ACPI PCI hotplug and the power button (tests/linux-guest/hotplug.sh):
# a PCI function appears (the host's vm.add-disk), then goes (its
# vm.remove-device: acpiphp ejects the slot), then the GED's interrupt
# count moves (vm.power-button). Waits are bounded (15 minutes each).
npci() { ls /sys/bus/pci/devices | wc -l; }
gedirqs() { grep -i ged /proc/interrupts | awk '{print $2}'; }
step_hotplug() {
	n0=$(npci)
	[ -n "$(gedirqs)" ] || { say "hotplug no GED interrupt in /proc/interrupts"; return 1; }
	say "hotplug ready with $n0 PCI functions"
	i=0; while [ "$(npci)" -le "$n0" ] && [ $i -lt 900 ]; do sleep 1; i=$((i + 1)); done
	for d in /sys/bus/pci/devices/*; do
		say "hotplug function ${d##*/} $(cat "$d/vendor"):$(cat "$d/device")"
	done
	i=0; while [ "$(npci)" -gt "$n0" ] && [ $i -lt 900 ]; do sleep 1; i=$((i + 1)); done
	say "hotplug gone, $(npci) PCI functions"
	g0=$(gedirqs)
	say "hotplug waiting for the power button"
	i=0; while [ "$(gedirqs)" = "$g0" ] && [ $i -lt 900 ]; do sleep 1; i=$((i + 1)); done
	[ "$(gedirqs)" != "$g0" ] && say "hotplug power button interrupt"
}

# TCP throughput through virtio-net (figures, bench/linux-guest/boot.sh):
# cvmm.mb=N MiB of zeros to the host's nc on port 5555, then what the
# host's nc on port 5556 sends back (counted), guest uptime around each.
step_netbench() {
	mb=16
	for a in $(cat /proc/cmdline); do
		case $a in cvmm.mb=*) mb=${a#cvmm.mb=} ;; esac
	done
	ip link set lo up
	ip addr add 10.0.2.15/24 dev eth0 && ip link set eth0 up || return 1
	# ARP and the first connection's set-up are not part of the figure.
	ping -c 1 -W 5 10.0.2.1 >/dev/null 2>&1
	t0=$(cut -d' ' -f1 /proc/uptime)
	dd if=/dev/zero bs=65536 count=$((mb * 16)) 2>/dev/null | nc 10.0.2.1 5555 || return 1
	t1=$(cut -d' ' -f1 /proc/uptime)
	mkfifo /tmp/hold
	(nc 10.0.2.1 5556 </tmp/hold | wc -c >/tmp/rxn) &
	pid=$!
	exec 3>/tmp/hold
	wait $pid
	exec 3>&-
	t2=$(cut -d' ' -f1 /proc/uptime)
	say "nc tx $mb MiB $t0 $t1 rx $(cat /tmp/rxn) bytes $t2"
}

# Network figures (bench/linux-guest/net.sh): ping RTT to the host, then
# TCP guest -> host (cvmm.kb=N KiB to the host's sink on port 5555) and
# host -> guest (what the host's port 5556 sends) with vsock-tool's
# tcp-send/tcp-recv, which copy nothing in the guest (sendfile of a sparse
# memfd, recv with MSG_TRUNC): the guest's ring 0 is emulated here, and
# busybox nc's copies would measure that rather than the network path.
step_netperf() {
	kb=4096
	for a in $(cat /proc/cmdline); do
		case $a in cvmm.kb=*) kb=${a#cvmm.kb=} ;; esac
	done
	ip link set lo up
	ip addr add 10.0.2.15/24 dev eth0 && ip link set eth0 up || return 1
	ping -c 1 -W 5 10.0.2.1 >/dev/null 2>&1
	ping -c 10 -i 0.2 10.0.2.1 >/tmp/ping 2>&1
	say "netperf ping $(grep -c 'bytes from' /tmp/ping) $(sed -n 's/.*min\/avg\/max = //p' /tmp/ping)"
	tx=$(vsock-tool tcp-send 10.0.2.1 5555 $((kb * 1024))) || return 1
	say "netperf $tx"
	rx=$(vsock-tool tcp-recv 10.0.2.1 5556) || return 1
	say "netperf $rx"
}
