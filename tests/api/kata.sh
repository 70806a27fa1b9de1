#!/bin/sh
# Kata's start sequence with a TAP fd passed by SCM_RIGHTS (kata.py), in a
# private network namespace; the virtio-net guest must see the card.
. "${top_srcdir:-.}/tests/api/lib.sh"
require_kvm
require_python
if ! [ -f "$GUESTS/virtio-net.img" ]; then
	echo "1..0 # SKIP $GUESTS/virtio-net.img not built"
	exit 0
fi
if ! unshare -n true 2>/dev/null || ! command -v ip >/dev/null || ! [ -c /dev/net/tun ]; then
	echo "1..0 # SKIP needs unshare -n (root or user namespaces), ip and /dev/net/tun"
	exit 0
fi
timeout 120 unshare -n python3 "$top_srcdir/tests/api/kata.py" "$MICROVM" \
	"$GUESTS/virtio-net.img" "$TMP"
