#!/bin/sh
# ACPI GED through the API with the hotplug test guest running: the power
# button (the guest exits 0x48 when it sees the GED's power-button bit),
# and a disk added on PCI while the guest runs (it sees the slot in PCIU and
# the virtio function through ECAM), then removed (the guest sees PCID and
# ejects; the VMM reports device-removed; the guest sees the slot empty and
# exits 0x49). Hostile: a second removal request, removal of a virtio-mmio
# device and of the platform while running.
. "${top_srcdir:-.}/tests/api/lib.sh"
require_kvm
plan 14
SOCK=$TMP/api.sock
R() { timeout 20 "$REMOTE" --api-socket "$SOCK" "$@"; }
vmm=

start() {  # start ARGS...: a VMM on $SOCK with a VM from $TMP/vm.json, booted
	rm -f "$SOCK" "$TMP/serial" "$TMP/events"
	timeout 120 "$MICROVM" --api-socket "$SOCK" --event-monitor "path=$TMP/events" "$@" \
		>"$TMP/vmm.out" 2>&1 &
	vmm=$!
	eventually 10 test -S "$SOCK" && R create "$TMP/vm.json" >/dev/null && R boot >/dev/null
}
stop_wait() {  # the VMM's exit status in $rc (killed after 60 s)
	i=0
	while kill -0 "$vmm" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
	kill "$vmm" 2>/dev/null
	rc=0
	wait "$vmm" || rc=$?
}
trap 'kill $vmm 2>/dev/null; rm -rf "$TMP"' EXIT
truncate -s 1M "$TMP/disk.img"
cat >"$TMP/vm.json" <<JSON
{"payload": {"kernel": "$GUESTS/hotplug.img"}, "memory": {"size": 67108864},
 "serial": {"mode": "File", "file": "$TMP/serial"}}
JSON
out=$TMP/vmm.out

# --- the power button ------------------------------------------------------------
start --guest-arg 0=1
check "power button: VM booted, the guest routes the GED line" wait_for "$TMP/serial" "hotplug: ready" 30
check "power-button: 204" R power-button
stop_wait
check "the guest saw the power-button bit (exit 0x48)" test "$rc" -eq 72
check "... it found the GED in the DSDT" grep -q "hotplug: GED at" "$TMP/serial"

# --- a disk on PCI into the running guest, then out -------------------------------
start --pci --guest-arg 0=3
check "hotplug: VM booted with --pci, the guest waits" wait_for "$TMP/serial" "hotplug: ready" 30
R add-disk "path=$TMP/disk.img,id=hot0" >"$TMP/add.json" 2>"$TMP/add.err"
check "add-disk while running: 200 with the id and a PCI address" \
	grep -q '"bdf": *"0000:00:0[0-9a-f].0"' "$TMP/add.json"
check "the guest sees the slot come up with a virtio-blk function (1af4:1042)" \
	wait_for "$TMP/serial" "up (1af4:1042)" 30
check "vm.info lists hot0" sh -c "'$REMOTE' --api-socket '$SOCK' info | grep -q '\"hot0\"'"
check "remove-device of the platform while running: one line '409: ...'" sh -c \
	"! '$REMOTE' --api-socket '$SOCK' remove-device __platform 2>'$TMP/e' && grep -q '409' '$TMP/e'"
check "remove-device hot0: requested" R remove-device hot0
# The guest may have ejected (404) and even finished (the VMM is gone)
# by now; test-vmm-hotplug checks the 409 (-EALREADY) case exactly.
check "remove-device hot0 again: refused (409 before the eject, 404 after), never a 5xx" sh -c \
	"! '$REMOTE' --api-socket '$SOCK' remove-device hot0 2>'$TMP/e' && ! grep -q ': 5[0-9][0-9]' '$TMP/e'"
check "the guest sees the slot go down, ejects, and finds it empty" \
	wait_for "$TMP/serial" "gone" 30
check "the event monitor reports device-removed hot0" \
	eventually 10 sh -c "grep 'device-removed' '$TMP/events' | grep -q hot0"
stop_wait
check "the guest's round ended well (exit 0x49)" test "$rc" -eq 73
finish
