#!/bin/sh
# virtio-mem under cvmm-microvm: the CPL3 virtio-mem guest sends hostile
# requests (refused), then plugs 64 MiB when vm.resize desired_ram asks for
# 128 MiB + 64 MiB, writes every page of it (the VMM's RSS grows by it),
# unplugs it all when desired_ram goes back to 128 MiB (the RSS drops by
# it). Private memory with the flag form, a shared memfd with a VmConfig
# (Cloud Hypervisor's hotplug_method VirtioMem), and over virtio-pci; all
# under the default seccomp filters. Snapshot with 64 MiB plugged, restore
# into a new VMM: the plugged blocks (the bitmap in the state stream) and
# their bytes come back, the guest unplugs them there. The same across a
# pre-copy live migration (the region's pages go with the dirty log).
# Hostile vm.resize and flag values get one line each.
. "${top_srcdir:-.}/tests/microvm-virtio/lib.sh"
require_kvm
require_guests virtio-mem virtio-pci
plan 48
REMOTE=$top_builddir/examples/remote/cvmm-remote
BOOT=$((128 << 20))
PLUG=$((64 << 20))

# run_mem NAME ARGS...: the guest's whole dance against a VMM started with
# ARGS (plus the API socket); checks named after NAME.
run_mem() {
	name=$1; shift
	api_vm "$name" "virtio-mem: hostile requests refused" "$@"
	check "$name: the guest's hostile requests are refused (ERROR, NACK), nothing plugged" \
		grep -q 'virtio-mem: hostile requests refused' "$out"
	before=$(rss_kb "$vpid")
	check "$name: desired_ram not boot RAM plus whole 2 MiB blocks: 400 in one line" sh -c \
		"! timeout 20 '$REMOTE' --api-socket '$sock' resize desired_ram=$((BOOT + 4096)) 2>'$TMP/e' &&
		 grep -q 'desired_ram: .* is not the boot memory' '$TMP/e' && [ \$(wc -l <'$TMP/e') -eq 1 ]"
	check "$name: desired_ram below the boot RAM or above it plus hotplug_size: 400" sh -c \
		"! timeout 20 '$REMOTE' --api-socket '$sock' resize desired_ram=$((BOOT - (2 << 20))) 2>/dev/null &&
		 ! timeout 20 '$REMOTE' --api-socket '$sock' resize desired_ram=$((BOOT + (2 << 30))) 2>/dev/null"
	R resize desired_ram=$((BOOT + PLUG)) >/dev/null 2>&1
	wait_for "$out" "virtio-mem: plugged 64 MiB, written and read back" 20
	mid=$(rss_kb "$vpid")
	check "$name: plugged and wrote 64 MiB: RSS ${before:-?} -> ${mid:-?} kB (at least 3/4 of it more)" \
		sh -c "[ -n '$mid' ] && [ \$(( ${mid:-0} - ${before:-0} )) -ge $((PLUG / 1024 * 3 / 4)) ]"
	check "$name: vm.counters: plugged_size 64 MiB, 32 blocks plugged" sh -c \
		"timeout 20 '$REMOTE' --api-socket '$sock' counters | tr -d ' \n' |
		 grep -q '\"plugged_size\":$PLUG,\"requested_size\":$PLUG,.*\"plugged_blocks\":32'"
	check "$name: vm.info: memory_actual_size is 128 MiB + 64 MiB" sh -c \
		"timeout 20 '$REMOTE' --api-socket '$sock' info | grep -q '\"memory_actual_size\": *$((BOOT + PLUG))'"
	check "$name: vm.remove-device of the virtio-mem device: 400 in one line" sh -c \
		"! timeout 20 '$REMOTE' --api-socket '$sock' remove-device __vmem0 2>'$TMP/e' &&
		 grep -q 'is the VM.s virtio-mem' '$TMP/e' && [ \$(wc -l <'$TMP/e') -eq 1 ]"
	check "$name: vm.info: the config has hotplugged_size 64 MiB" sh -c \
		"timeout 20 '$REMOTE' --api-socket '$sock' info | tr -d ' \n' | grep -q '\"hotplug_method\":\"VirtioMem\",\"hotplug_size\":1073741824,\"hotplugged_size\":$PLUG'"
	R resize desired_ram=$BOOT >/dev/null 2>&1
	wait_for "$out" "virtio-mem: unplugged all" 20
	after=$(rss_kb "$vpid")
	check "$name: unplugged 64 MiB: RSS ${mid:-?} -> ${after:-?} kB (at least 3/4 of it back)" \
		sh -c "[ -n '$after' ] && [ \$(( ${mid:-0} - ${after:-0} )) -ge $((PLUG / 1024 * 3 / 4)) ]"
	R resize desired_ram=$((BOOT + (2 << 20))) >/dev/null 2>&1   # measured
	wait_pid "$tpid" 30
	check "$name: the guest unplugged block by block and with UNPLUG_ALL, exit 0" \
		sh -c "test $rc -eq 0 && grep -q 'virtio-mem: unplugged all' '$out'"
}

run_mem private --kernel "$GUESTS/virtio-mem.img" --transport mmio \
	--memory size=128M,hotplug_method=virtio-mem,hotplug_size=1G --log-level info
check "private: the region is above 4 GiB, 1 GiB aligned, outside RAM" \
	grep -q 'virtio-mem region \[0x100000000, +1024 MiB)' "$TMP/out.private"
cat >"$TMP/vm.json" <<JSON
{"payload": {"kernel": "$GUESTS/virtio-mem.img"}, "platform": {"transport": "mmio"},
 "memory": {"size": $BOOT, "shared": true, "hotplug_method": "VirtioMem",
            "hotplug_size": 1073741824}, "serial": {"mode": "Tty"}}
JSON
run_mem shared --config "$TMP/vm.json"
# The PCI window from the info line (the BAR goes there).
run_vm out --kernel "$GUESTS/virtio-pci.img" --pci \
	--memory size=128M,hotplug_method=virtio-mem,hotplug_size=1G --log-level info
win=$(sed -n 's/.*32-bit BAR window \(0x[0-9a-f]*\) .*/\1/p' "$out")
run_mem pci --kernel "$GUESTS/virtio-mem.img" --guest-arg 2="${win:-0}" \
	--memory size=128M,hotplug_method=virtio-mem,hotplug_size=1G,transport=pci

# Snapshot and restore with blocks plugged.
SOCK=$TMP/api.snap.sock
SNAP=$TMP/snap
R() { timeout 30 "$REMOTE" --api-socket "$SOCK" "$@"; }
start_vmm() {
	rm -f "$SOCK"
	timeout 90 "$MICROVM" --api-socket "$SOCK" >"$TMP/vmm.out" 2>&1 &
	vmm=$!
	i=0
	while ! [ -S "$SOCK" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
}
cat >"$TMP/vm-snap.json" <<JSON
{"payload": {"kernel": "$GUESTS/virtio-mem.img"}, "platform": {"transport": "mmio"},
 "memory": {"size": $BOOT, "hotplug_method": "VirtioMem", "hotplug_size": 1073741824},
 "serial": {"mode": "File", "file": "$TMP/serial"}}
JSON
start_vmm
R create "$TMP/vm-snap.json" >/dev/null 2>&1 && R boot >/dev/null 2>&1
wait_for "$TMP/serial" "virtio-mem: hostile requests refused" 20
R resize desired_ram=$((BOOT + PLUG)) >/dev/null 2>&1
check "snapshot: the guest plugged and wrote 64 MiB" \
	wait_for "$TMP/serial" "virtio-mem: plugged 64 MiB, written and read back" 20
R pause >/dev/null 2>&1
check "snapshot: vm.snapshot with 64 MiB plugged" R snapshot destination_url=file://"$SNAP"
check "snapshot: the manifest counts the region (128 MiB + 1 GiB of memory)" \
	sh -c "test \$(stat -c %s '$SNAP/memory') -eq $((BOOT + (1 << 30)))"
R shutdown-vmm >/dev/null 2>&1; wait_pid $vmm 20
vmm=
start_vmm
check "restore: vm.restore into a new VMM" R restore source_url=file://"$SNAP"
check "restore: vm.counters: plugged_size 64 MiB again (the bitmap came back)" sh -c \
	"timeout 20 '$REMOTE' --api-socket '$SOCK' counters | tr -d ' \n' | grep -q '\"plugged_size\":$PLUG,\"requested_size\":$PLUG'"
R resume >/dev/null 2>&1
R resize desired_ram=$BOOT >/dev/null 2>&1
check "restore: the guest finds its 64 MiB intact and unplugs it (each ACKed)" \
	wait_for "$TMP/serial" "virtio-mem: unplugged all" 20
R resize desired_ram=$((BOOT + (2 << 20))) >/dev/null 2>&1
wait_pid $vmm 30
check "restore: the guest exits 0 (the VMM with it)" \
	sh -c "test $rc -eq 0 && ! grep -q FAIL '$TMP/serial'"

# Live migration (pre-copy) with blocks plugged.
rm -f "$TMP/serial"
SOCK=$TMP/api.src.sock
start_vmm; src=$vmm
DSOCK=$TMP/api.dst.sock
rm -f "$DSOCK"
timeout 90 "$MICROVM" --api-socket "$DSOCK" >"$TMP/dst.out" 2>&1 &
dst=$!
i=0
while ! [ -S "$DSOCK" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
D() { timeout 30 "$REMOTE" --api-socket "$DSOCK" "$@"; }
R create "$TMP/vm-snap.json" >/dev/null 2>&1 && R boot >/dev/null 2>&1
wait_for "$TMP/serial" "virtio-mem: hostile requests refused" 20
R resize desired_ram=$((BOOT + PLUG)) >/dev/null 2>&1
wait_for "$TMP/serial" "virtio-mem: plugged 64 MiB, written and read back" 20
D receive-migration receiver_url=unix:"$TMP/mig.sock" >/dev/null 2>&1
check "migration: send-migration with 64 MiB plugged" \
	R send-migration destination_url=unix:"$TMP/mig.sock"
wait_pid $src 30
check "migration: the source ends with status 0" test "$rc" -eq 0
check "migration: vm.counters on the destination: plugged_size 64 MiB" eventually 20 sh -c \
	"timeout 20 '$REMOTE' --api-socket '$DSOCK' counters | tr -d ' \n' | grep -q '\"plugged_size\":$PLUG,\"requested_size\":$PLUG'"
D resize desired_ram=$BOOT >/dev/null 2>&1
check "migration: the guest finds its 64 MiB intact and unplugs it (each ACKed)" \
	wait_for "$TMP/serial" "virtio-mem: unplugged all" 20
D resize desired_ram=$((BOOT + (2 << 20))) >/dev/null 2>&1
wait_pid $dst 30
check "migration: the guest exits 0 on the destination" \
	sh -c "test $rc -eq 0 && ! grep -q FAIL '$TMP/serial'"

run_vm out --kernel "$GUESTS/virtio-mem.img" --transport mmio --memory size=128M,hotplug_method=acpi,hotplug_size=1G
check "--memory hotplug_method=acpi: one line" sh -c \
	"test $rc -ne 0 && grep -q '^cvmm-microvm: --memory: hotplug_method:' '$out' && [ \$(wc -l <'$out') -eq 1 ]"
run_vm out --kernel "$GUESTS/virtio-mem.img" --transport mmio --memory size=128M,hotplug_method=virtio-mem,hotplug_size=3M
check "--memory hotplug_size not whole 2 MiB blocks: one line" sh -c \
	"test $rc -ne 0 && grep -q '^cvmm-microvm: --memory: hotplug_size:' '$out'"
run_vm out --kernel "$GUESTS/virtio-mem.img" --transport mmio --memory size=128M,hotplug_size=1G
check "--memory hotplug_size without hotplug_method: one line" sh -c \
	"test $rc -ne 0 && grep -q 'needs hotplug_method=virtio-mem' '$out'"
run_vm out --kernel "$GUESTS/virtio-mem.img" --transport mmio \
	--memory size=128M,hotplug_method=virtio-mem,hotplug_size=64M,hotplugged_size=128M
check "--memory hotplugged_size above hotplug_size: one line" sh -c \
	"test $rc -ne 0 && grep -q 'hotplugged_size: more than hotplug_size' '$out'"
run_vm out --kernel "$GUESTS/virtio-mem.img" --transport mmio --memory 128M
check "the guest without hotplug finds no device" sh -c \
	"test $rc -eq $((0x71)) && grep -q 'no virtio-mem device' '$out'"
finish
