#!/bin/sh
# Build cvmm's Linux test guest: a vmlinux from Debian's kernel source
# (linux-source-*), tinyconfig + guest.config + the patches next to this
# script, and an uncompressed busybox-static initramfs with the guest side
# of the tests (init, guest-tests.sh, vsock-tool). See docs/test-guests.md.
#
#   build-guest.sh OUTDIR
#
# Writes OUTDIR/vmlinux and OUTDIR/initramfs.cpio. The kernel is built once
# per key (source package version, config, patches, this script) and kept
# in OUTDIR/kernel-KEY/; concurrent callers wait on OUTDIR/.lock.
# Exit 0 when both files are ready, 77 when something the build needs is
# not installed (the tests then skip), 1 when the build fails.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build-guest.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)

skip() { echo "build-guest: $*" >&2; exit 77; }

# The newest linux-source-X.Y installed (apt: linux-source-6.1, -6.12, ...).
tarball=${CVMM_LINUX_SOURCE:-$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -1)}
[ -n "$tarball" ] && [ -f "$tarball" ] || skip "no /usr/src/linux-source-*.tar.xz (apt-get install linux-source-6.12)"
pkg=$(basename "$tarball" .tar.xz)
ver=$(dpkg-query -W -f '${Version}' "$pkg" 2>/dev/null || stat -c %s-%Y "$tarball")
busybox=$(command -v busybox 2>/dev/null || true)
[ -x /bin/busybox ] && busybox=/bin/busybox
[ -n "$busybox" ] || skip "no busybox (apt-get install busybox-static)"
! readelf -d "$busybox" 2>/dev/null | grep -q NEEDED || skip "$busybox is not static (busybox-static)"
for t in make gcc flex bison bc cpio xz perl; do
	command -v $t >/dev/null || skip "no $t (tools/packages.txt)"
done
[ -f /usr/include/libelf.h ] || skip "no libelf headers (libelf-dev)"
[ -f /usr/include/openssl/ssl.h ] || skip "no OpenSSL headers (libssl-dev)"

exec 9>"$out/.lock"
flock 9

key=$( { echo "$pkg $ver"; cat "$here/guest.config" "$here"/*.patch "$here/build-guest.sh"; } |
	sha256sum | cut -c1-16)
kdir=$out/kernel-$key
if ! [ -f "$kdir/vmlinux" ]; then
	echo "build-guest: building $pkg $ver (key $key) in $kdir" >&2
	rm -rf "$kdir"
	mkdir -p "$kdir"
	tar -C "$kdir" -xf "$tarball"
	src=$kdir/$pkg
	for p in "$here"/*.patch; do
		patch -s -d "$src" -p1 <"$p"
	done
	obj=$kdir/obj
	make -s -C "$src" O="$obj" tinyconfig >/dev/null
	"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" \
		"$here/guest.config" >/dev/null
	make -s -C "$src" O="$obj" olddefconfig >/dev/null
	# Every symbol the fragment sets must have survived the dependencies.
	bad=0
	for l in $(grep '^CONFIG_' "$here/guest.config"); do
		k=${l%%=*}; want=${l#*=}
		got=$(grep "^$k=" "$obj/.config" | cut -d= -f2)
		[ -n "$got" ] || got=n
		if [ "$got" != "$want" ]; then
			echo "build-guest: $k is '$got', guest.config wants '$want'" >&2
			bad=1
		fi
	done
	[ $bad -eq 0 ] || exit 1
	make -s -C "$src" O="$obj" -j"$(nproc)" vmlinux >&2
	cp "$obj/.config" "$kdir/config"
	cp "$obj/vmlinux" "$kdir/vmlinux.tmp"
	strip --strip-debug "$kdir/vmlinux.tmp" 2>/dev/null || true
	rm -rf "$src" "$obj"
	mv "$kdir/vmlinux.tmp" "$kdir/vmlinux"
	# Older keys are stale builds.
	for d in "$out"/kernel-*; do
		[ "$d" = "$kdir" ] || rm -rf "$d"
	done
fi
ln -sf "kernel-$key/vmlinux" "$out/vmlinux"

# The initramfs: cheap, rebuilt every time from the files next to us.
root=$out/initramfs.root
rm -rf "$root"
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/mnt" "$root/tmp" \
	"$root/etc"
cp "$busybox" "$root/bin/busybox"
# The applet links are made here, not by "busybox --install" in the guest:
# several hundred system calls cost tens of seconds of emulated ring 0.
for a in $("$busybox" --list); do
	[ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"
done
cp "$here/init" "$root/init"
cp "$here/guest-tests.sh" "$root/bin/guest-tests.sh"
chmod 755 "$root/init" "$root/bin/guest-tests.sh"
gcc -static -O2 -Wall -o "$root/bin/vsock-tool" "$here/vsock-tool.c"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$out/initramfs.cpio.tmp"
mv "$out/initramfs.cpio.tmp" "$out/initramfs.cpio"
rm -rf "$root"
