# Shared by the slow tests that boot Debian's linux-image-cloud-amd64:
# one download and unpack, in one cache, for all of them.

# debian_kernel CACHE: make sure CACHE/root holds the unpacked kernel
# package; set $vmlinuz and $kver. Returns non-zero when it cannot be had.
debian_kernel() {
	if ! ls "$1"/root/boot/vmlinuz-* >/dev/null 2>&1; then
		(
			set -e
			mkdir -p "$1"
			cd "$1"
			pkg=$(apt-cache depends linux-image-cloud-amd64 |
				awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
			apt-get download "$pkg" >/dev/null 2>&1
			dpkg-deb -x linux-image-*.deb root
		) || return 1
	fi
	vmlinuz=$(ls "$1"/root/boot/vmlinuz-* | head -1)
	kver=${vmlinuz##*/vmlinuz-}
}

# initramfs_modules CACHE DIR MODULE...: copy the modules and everything
# they depend on into DIR/lib/modules and list them, in insmod order, in
# DIR/modules.order (Debian ships no modules.dep: depmod builds it).
initramfs_modules() {
	root=$1/root
	dir=$2
	shift 2
	mkdir -p "$dir/lib/modules"
	depmod -b "$root" "$kver"
	: >"$dir/modules.order"
	for m in "$@"; do
		modprobe -d "$root" -S "$kver" --show-depends "$m" | awk '/^insmod/ { print $2 }'
	done | awk '!seen[$0]++' | while read -r ko; do
		cp "$ko" "$dir/lib/modules/"
		echo "/lib/modules/${ko##*/}" >>"$dir/modules.order"
	done
}

# initramfs_begin DIR CACHE MODULE...: a busybox initramfs in DIR with the
# modules (as initramfs_modules) and the first lines of DIR/init: busybox's
# applets, /proc, /sys and /dev mounted, the modules loaded in order. The
# caller appends the rest of /init (cat >>DIR/init) and packs it.
initramfs_begin() {
	dir=$1 kcache=$2
	shift 2
	mkdir -p "$dir/bin" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/mnt" "$dir/lib/modules"
	cp "$BUSYBOX" "$dir/bin/busybox"
	initramfs_modules "$kcache" "$dir" "$@"
	cat >"$dir/init" <<'PROLOGUE'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
while read -r m; do insmod "$m" || echo "GUEST: insmod $m failed"; done </modules.order
PROLOGUE
}

# initramfs_pack DIR OUT: DIR as a gzipped newc cpio archive in OUT.
initramfs_pack() {
	chmod +x "$1/init"
	(cd "$1" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$2"
}
