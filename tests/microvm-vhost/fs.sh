#!/bin/sh
# --fs against QEMU's virtiofsd (package qemu-system-common on Debian 12):
# the VMM negotiates with it (features, queues, the tag in the config
# space it builds) and the guest finds the device in the ACPI tables.
. "${top_srcdir:-.}/tests/microvm-vhost/lib.sh"
require_kvm
require_guests virtio-acpi
VIRTIOFSD=${VIRTIOFSD:-/usr/lib/qemu/virtiofsd}
if ! [ -x "$VIRTIOFSD" ] || [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP $VIRTIOFSD missing or not root"
	exit 0
fi
plan 5

# start_fs SOCK: virtiofsd serves one connection, then exits.
start_fs() {
	rm -f "$1"
	mkdir -p "$TMP/share"
	"$VIRTIOFSD" --socket-path="$1" -o source="$TMP/share" -o sandbox=chroot \
		>"$TMP/daemon.log" 2>&1 &
	bpid=$!
	wait_sock "$1"
}

start_fs "$TMP/fs.sock"
run_vm out --log-level info --kernel "$GUESTS/virtio-acpi.img" \
	--fs tag=share0,socket="$TMP/fs.sock"
check "virtio-fs: the VMM negotiated with virtiofsd (id 26, tag, 2 queues)" \
	grep -q "virtio-fs (id 26), backend features 0x[0-9a-f]*, protocol features 0x[0-9a-f]*, 2 queues, 40 config bytes, tag share0" "$out"
check "virtio-fs: VERSION_1 offered by the backend" sh -c \
	"f=\$(sed -n 's/.*backend features \\(0x[0-9a-f]*\\).*/\\1/p' '$out'); test \$(( (f >> 32) & 1 )) -eq 1"
check "virtio-fs: the guest finds one virtio-mmio device in the DSDT" test "$rc" -eq 1
stop_backend

start_fs "$TMP/fs.sock"
run_vm out --kernel "$GUESTS/virtio-acpi.img" --fs tag=share0,socket="$TMP/fs.sock" --rng
check "virtio-fs beside an rng: two devices in the DSDT" test "$rc" -eq 2
stop_backend

# virtiofsd has MQ and reports 2 queues (hiprio + one request queue).
start_fs "$TMP/fs.sock"
run_vm out --kernel "$GUESTS/virtio-acpi.img" --fs tag=share0,socket="$TMP/fs.sock",queues=3
check "queues=3 on virtiofsd: one line naming --fs queues, exit 1" sh -c \
	"test $rc -eq 1 && test \$(wc -l <'$out') -eq 1 && grep -q -- '--fs: queues: 3, but the backend' '$out'"
stop_backend
finish
