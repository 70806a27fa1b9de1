#!/bin/sh
# ACPI PCI hotplug and the power button with Linux's own drivers (acpi-ged,
# acpiphp, the ACPI button): the guest boots with a PCI segment and no PCI
# device; through the API the host adds a disk (Linux's PCI core finds
# 1af4:1042 in the slot the answer names), removes it (acpiphp ejects the
# slot, the VMM reports device-removed) and presses the power button (the
# GED's interrupt count moves in /proc/interrupts).
. "${top_srcdir:-.}/tests/linux-guest/lib.sh"
require_linux_guest
if ! grep -q '^CONFIG_HOTPLUG_PCI_ACPI=y' "$(dirname "$(readlink -f "$KERNEL")")/config" 2>/dev/null; then
	echo "1..0 # SKIP the guest kernel has no CONFIG_HOTPLUG_PCI_ACPI (guest.config)"
	exit 0
fi
REMOTE=$top_builddir/examples/remote/cvmm-remote
SOCK=$TMP/api.sock
R() { timeout 60 "$REMOTE" --api-socket "$SOCK" "$@"; }
plan 7

s=$TMP/serial
truncate -s 4M "$TMP/disk.img"
start_vm "$s" --memory 256M --api-socket "$SOCK" --event-monitor "path=$TMP/events" \
	--cmdline "$GUEST_CMDLINE cvmm.test=hotplug cvmm.end=poweroff"
out=$s
check "Linux boots with a PCI segment (the default) and the GED's interrupt" \
	wait_guest "$s" "cvmm-test: hotplug ready"
R add-disk "path=$TMP/disk.img,id=hot0" >"$TMP/add.json"
bdf=$(sed -n 's/.*"bdf": *"\([^"]*\)".*/\1/p' "$TMP/add.json")
check "add-disk: 200 with a PCI address" test -n "$bdf"
check "Linux finds 0x1af4:0x1042 at $bdf" wait_guest "$s" "function $bdf 0x1af4:0x1042"
check "remove-device hot0: requested" R remove-device hot0
check "Linux ejects it: the function is gone" wait_guest "$s" "cvmm-test: hotplug gone"
check "the VMM reports device-removed hot0" sh -c "grep device-removed '$TMP/events' | grep -q hot0"
wait_guest "$s" "waiting for the power button" && R power-button
check "the power button reaches Linux's GED (its interrupt count moves)" \
	wait_guest "$s" "cvmm-test: hotplug power button interrupt"
stop_vm
finish
