#!/bin/sh
# Regenerate the build system from configure.ac and the Makemodule.am files.
set -e
cd "$(dirname "$0")"
mkdir -p build-aux m4
autoreconf -fi
# automake does not copy the TAP driver on its own.
for d in /usr/share/automake-*; do
	[ -f "$d/tap-driver.sh" ] && cp -f "$d/tap-driver.sh" build-aux/ && break
done
