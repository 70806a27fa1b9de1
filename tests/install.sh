#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `make install` into a scratch DESTDIR, then build and run a one-file
# program against ONE installed crate (vm-memory) using nothing but what
# pkg-config reports for it. Catches missing headers, a .pc that forgets a
# dependency, and headers that include something not installed. Prints TAP.
set -u
top_builddir=${top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}
MAKE=${MAKE:-make}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fail=1; echo "not ok $n - $1"; sed 's/^/# /' "$tmp/log" | tail -30; }

# The compiler and sanitizer flags the libraries were built with.
CC=cc BUILD_CFLAGS= BUILD_LDFLAGS=
[ -r "$top_builddir/tests/install-env.sh" ] && . "$top_builddir/tests/install-env.sh"

. "${top_srcdir:-$top_builddir}/tests/lib/sh-lib.sh"
need_cmd pkg-config pkg-config

dest="$tmp/dest"
if $MAKE -s -C "$top_builddir" install DESTDIR="$dest" >"$tmp/log" 2>&1; then
	ok "make install DESTDIR=..."
else
	notok "make install DESTDIR=..."
	echo "1..$n"
	exit 1
fi

pcdir=$(find "$dest" -name cvmm-vm-memory.pc -printf '%h\n' | head -1)
if [ -n "$pcdir" ]; then ok "cvmm-vm-memory.pc installed"; else
	: >"$tmp/log"; notok "cvmm-vm-memory.pc installed"; echo "1..$n"; exit 1; fi

# Only the installed tree: the sysroot makes every -I/-L point into DESTDIR.
PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_LIBDIR="$pcdir" PKG_CONFIG_SYSROOT_DIR="$dest" \
	pkg-config --cflags --libs cvmm-vm-memory >"$tmp/flags" 2>"$tmp/log"
if [ $? -eq 0 ] && grep -q -- "-I$dest" "$tmp/flags"; then
	ok "pkg-config --cflags --libs cvmm-vm-memory points into DESTDIR"
else
	cat "$tmp/flags" >>"$tmp/log"; notok "pkg-config --cflags --libs cvmm-vm-memory"
fi

cat >"$tmp/use-vm-memory.c" <<'PROG'
#include <cvmm/vm-memory.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	struct cvmm_x86_ram_opts o = { .sz = sizeof(o), .size = 8u << 20 };
	struct cvmm_guest_mem *m;
	char buf[6] = { 0 };

	if (cvmm_guest_mem_create_x86(&o, &m))
		return 1;
	if (cvmm_guest_mem_write(m, 0x1000, "hello", 6) || cvmm_guest_mem_read(m, 0x1000, buf, 6))
		return 2;
	if (cvmm_guest_mem_write(m, 8u << 20, "x", 1) != -14) /* -EFAULT past the end */
		return 3;
	puts(buf);
	cvmm_guest_mem_destroy(m);
	return strcmp(buf, "hello") != 0;
}
PROG
# shellcheck disable=SC2046
if $CC $BUILD_CFLAGS -o "$tmp/use-vm-memory" "$tmp/use-vm-memory.c" $(cat "$tmp/flags") \
	$BUILD_LDFLAGS >"$tmp/log" 2>&1; then
	ok "a program builds against the installed vm-memory alone"
else
	notok "a program builds against the installed vm-memory alone"
fi
if [ -x "$tmp/use-vm-memory" ] && "$tmp/use-vm-memory" >"$tmp/log" 2>&1 && grep -qx hello "$tmp/log"; then
	ok "and runs"
else
	notok "and runs"
fi
echo "1..$n"
exit $fail
