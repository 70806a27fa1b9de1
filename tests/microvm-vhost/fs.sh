#!/bin/sh
# --fs against QEMU's C virtiofsd (/usr/lib/qemu/virtiofsd, package
# qemu-system-common on Debian 12): the VMM negotiates with it (features,
# queues, the tag in the config space it builds), the guest finds the
# device in the ACPI tables, and the virtio-fs guest speaks FUSE to it
# through cvmm-microvm (under the default seccomp filters) while the host
# checks what it did to the shared directory.
. "${top_srcdir:-.}/tests/microvm-vhost/lib.sh"
require_kvm
require_guests virtio-acpi virtio-fs
VIRTIOFSD=${VIRTIOFSD:-/usr/lib/qemu/virtiofsd}
if ! [ -x "$VIRTIOFSD" ] || [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP $VIRTIOFSD missing or not root"
	exit 0
fi
plan 11

# start_fs SOCK: virtiofsd on $TMP/share serves one connection, then
# exits. sandbox=chroot: its default (namespace) needs more than a
# container may give; cache=none: nothing the guest does is cached.
start_fs() {
	rm -f "$1"
	mkdir -p "$TMP/share"
	"$VIRTIOFSD" --socket-path="$1" -o source="$TMP/share" -o sandbox=chroot \
		-o cache=none >"$TMP/daemon.log" 2>&1 &
	bpid=$!
	wait_sock "$1"
}

# mkshare: $TMP/share as tests/guests/virtio-fs.c expects it: hello.txt
# with 1500 bytes of the disk pattern with seed 5, hostdir/{alpha,beta,
# gamma/}, victim.
mkshare() {
	rm -rf "$TMP/share"
	mkdir -p "$TMP/share/hostdir/gamma"
	mkpattern "$TMP/pattern" 3 5
	head -c 1500 "$TMP/pattern" >"$TMP/share/hello.txt"
	: >"$TMP/share/hostdir/alpha"
	: >"$TMP/share/hostdir/beta"
	echo doomed >"$TMP/share/victim"
}

# run_fs ARGS...: the virtio-fs guest on a fresh share.
run_fs() {
	mkshare
	start_fs "$TMP/fs.sock"
	run_vm out --kernel "$GUESTS/virtio-fs.img" --transport mmio --fs tag=share0,socket="$TMP/fs.sock" "$@"
	stop_backend
}

start_fs "$TMP/fs.sock"
run_vm out --log-level info --kernel "$GUESTS/virtio-acpi.img" --transport mmio \
	--fs tag=share0,socket="$TMP/fs.sock"
check "virtio-fs: the VMM negotiated with virtiofsd (id 26, tag, 2 queues)" \
	grep -q "virtio-fs (id 26), backend features 0x[0-9a-f]*, protocol features 0x[0-9a-f]*, 2 queues, 40 config bytes, tag share0" "$out"
check "virtio-fs: VERSION_1 offered by the backend" sh -c \
	"f=\$(sed -n 's/.*backend features \\(0x[0-9a-f]*\\).*/\\1/p' '$out'); test \$(( (f >> 32) & 1 )) -eq 1"
check "virtio-fs: the guest finds one virtio-mmio device in the DSDT" test "$rc" -eq $((0x40 + 1))
stop_backend

start_fs "$TMP/fs.sock"
run_vm out --kernel "$GUESTS/virtio-acpi.img" --transport mmio --fs tag=share0,socket="$TMP/fs.sock" --rng
check "virtio-fs beside an rng: two devices in the DSDT" test "$rc" -eq $((0x40 + 2))
stop_backend

# virtiofsd has MQ and reports 2 queues (hiprio + one request queue).
start_fs "$TMP/fs.sock"
run_vm out --kernel "$GUESTS/virtio-acpi.img" --transport mmio --fs tag=share0,socket="$TMP/fs.sock",queues=3
check "queues=3 on virtiofsd: one line naming --fs queues, exit 1" sh -c \
	"test $rc -eq 1 && test \$(wc -l <'$out') -eq 1 && grep -q -- '--fs: queues: 3, but the backend' '$out'"
stop_backend

# The FUSE client: every reply checked in the guest, the results on the host;
# the seccomp filters on (the default, said out loud).
run_fs --seccomp on --guest-arg 0=1500 --guest-arg 1=5 --guest-arg 2=9
check "virtio-fs guest: INIT, LOOKUP, GETATTR, OPEN, READ, CREATE, WRITE, FLUSH, RELEASE, MKDIR, READDIR, UNLINK, -ENOENT" \
	ok_with "virtio-fs: all checks passed"
check "virtio-fs guest: tag and request queue count from the config space" \
	grep -qF "virtio-fs: tag 'share0', 1 request queue" "$out"
mkpattern "$TMP/wpattern" 6 9
check "host: guest.txt holds the 3000 bytes the guest wrote" sh -c \
	"head -c 3000 '$TMP/wpattern' | cmp - '$TMP/share/guest.txt'"
check "host: gdir made, victim unlinked, hello.txt untouched" sh -c \
	"test -d '$TMP/share/gdir' && ! test -e '$TMP/share/victim' && \
	 head -c 1500 '$TMP/pattern' | cmp - '$TMP/share/hello.txt'"

# The guest's checks can fail: content and size that differ are noticed.
run_fs --guest-arg 0=1500 --guest-arg 1=6 --guest-arg 2=9
check "virtio-fs guest: content that differs from the pattern is noticed (exit 0x7b)" \
	test "$rc" -eq $((0x7b))
run_fs --guest-arg 0=1501 --guest-arg 1=5 --guest-arg 2=9
check "virtio-fs guest: a size that differs is noticed (exit 0x77)" \
	test "$rc" -eq $((0x77))
finish
