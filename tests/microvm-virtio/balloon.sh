#!/bin/sh
# virtio-balloon under cvmm-microvm: the CPL3 balloon guest touches 32 MiB,
# the host asks for them (vm.resize desired_balloon), the guest inflates
# exactly those pages and the VMM's RSS drops by most of them; then the
# target goes back to 0, the guest deflates and uses them again. Once on
# private memory (MADV_DONTNEED), once on a shared memfd (VmConfig
# memory.shared: MADV_REMOVE), once over virtio-pci, all under the default
# seccomp filters. Free page reporting (free_page_reporting=on): the guest
# reports the 32 MiB it touched as free, the RSS drops, the pages come back
# as zeros; private and shared memory.
. "${top_srcdir:-.}/tests/microvm-virtio/lib.sh"
require_kvm
require_guests balloon virtio-pci
plan 35
REMOTE=$top_builddir/examples/remote/cvmm-remote
PAGES=8192
BYTES=$((PAGES * 4096))

# run_balloon NAME ARGS...: the guest's whole dance against a VMM started
# with ARGS (plus the API socket); checks named after NAME.
run_balloon() {
	name=$1; shift
	api_vm "$name" "balloon: touched $PAGES pages" "$@"
	before=$(rss_kb "$vpid")
	check "$name: the guest touched $PAGES pages (RSS ${before:-?} kB)" test -n "$before"
	check "$name: desired_ram is refused in one line naming it" sh -c \
		"! timeout 20 '$REMOTE' --api-socket '$sock' resize desired_ram=1 2>'$TMP/e' &&
		 grep -q 'desired_ram: the VM has no virtio-mem' '$TMP/e'"
	check "$name: vm.counters: the guest's statistics (free_memory 12345)" eventually 10 sh -c \
		"timeout 20 '$REMOTE' --api-socket '$sock' counters | tr -d ' \n' | grep -q '\"guest_free_memory\":12345'"
	R resize desired_balloon=$BYTES >/dev/null 2>&1
	wait_for "$out" "balloon: inflated $PAGES pages" 20
	after=$(rss_kb "$vpid")
	check "$name: inflated $PAGES pages: RSS ${before:-?} -> ${after:-?} kB (at least 3/4 of 32 MiB back)" \
		sh -c "[ -n '$after' ] && [ \$(( ${before:-0} - ${after:-0} )) -ge $((BYTES / 1024 * 3 / 4)) ]"
	check "$name: vm.counters: 8192 inflated, none refused" sh -c \
		"timeout 20 '$REMOTE' --api-socket '$sock' counters | tr -d ' \n' |
		 grep -q '\"inflated_pages\":$PAGES,\"deflated_pages\":0,\"refused_pages\":0'"
	check "$name: vm.info: memory_actual_size is 128 MiB less the balloon's 32 MiB" sh -c \
		"timeout 20 '$REMOTE' --api-socket '$sock' info | grep -q '\"memory_actual_size\": *$((134217728 - BYTES))'"
	R resize desired_balloon=0 >/dev/null 2>&1
	wait_pid "$tpid" 30
	check "$name: target 0: the guest deflates, writes and reads its pages back, exits 0" \
		sh -c "test $rc -eq 0 && grep -q 'balloon: deflated $PAGES pages' '$out'"
}

run_balloon private --kernel "$GUESTS/balloon.img" --transport mmio --balloon size=0,deflate_on_oom=on \
	--guest-arg 3=1
cat >"$TMP/vm.json" <<JSON
{"payload": {"kernel": "$GUESTS/balloon.img"}, "platform": {"transport": "mmio"}, "memory": {"size": 134217728, "shared": true},
 "balloon": {"size": 0, "deflate_on_oom": false}, "serial": {"mode": "Tty"}}
JSON
run_balloon shared --config "$TMP/vm.json" --guest-arg 3=1
# The PCI window from the info line (the BAR goes there).
run_vm out --kernel "$GUESTS/virtio-pci.img" --balloon size=0,transport=pci --log-level info
win=$(sed -n 's/.*32-bit BAR window \(0x[0-9a-f]*\) .*/\1/p' "$out")
run_balloon pci --kernel "$GUESTS/balloon.img" --balloon size=0,transport=pci \
	--guest-arg 2="${win:-0}" --guest-arg 3=1

# run_report NAME ARGS...: free page reporting against a VMM started with
# ARGS (bit 1 of guest arg 3 makes the guest report instead of inflate).
run_report() {
	name=$1; shift
	api_vm "$name" "balloon: touched $PAGES pages" "$@"
	before=$(rss_kb "$vpid")
	R resize desired_balloon=4096 >/dev/null 2>&1   # go
	wait_for "$out" "balloon: reported $PAGES pages" 20
	after=$(rss_kb "$vpid")
	check "$name: reported $PAGES free pages: RSS ${before:-?} -> ${after:-?} kB (at least 3/4 of 32 MiB back)" \
		sh -c "[ -n '$after' ] && [ \$(( ${before:-0} - ${after:-0} )) -ge $((BYTES / 1024 * 3 / 4)) ]"
	check "$name: vm.counters: $PAGES pages reported, none refused" sh -c \
		"timeout 20 '$REMOTE' --api-socket '$sock' counters | tr -d ' \n' |
		 grep -q '\"reported_pages\":$PAGES,\"report_refused\":0'"
	check "$name: vm.info: the balloon config says free_page_reporting" sh -c \
		"timeout 20 '$REMOTE' --api-socket '$sock' info | tr -d ' \n' | grep -q '\"free_page_reporting\":true'"
	R resize desired_balloon=8192 >/dev/null 2>&1   # measured
	wait_pid "$tpid" 30
	check "$name: the reported pages read as zeros, are written and read back, exit 0" \
		sh -c "test $rc -eq 0 && grep -q 'balloon: reported pages written and read back' '$out'"
}

run_report report-private --kernel "$GUESTS/balloon.img" --transport mmio \
	--balloon size=0,free_page_reporting=on --guest-arg 3=3
cat >"$TMP/vm-report.json" <<JSON
{"payload": {"kernel": "$GUESTS/balloon.img"}, "platform": {"transport": "mmio"}, "memory": {"size": 134217728, "shared": true},
 "balloon": {"size": 0, "free_page_reporting": true}, "serial": {"mode": "Tty"}}
JSON
run_report report-shared --config "$TMP/vm-report.json" --guest-arg 3=3
run_vm out --kernel "$GUESTS/balloon.img" --transport mmio --balloon size=0 --guest-arg 3=3
check "without free_page_reporting=on the guest finds no reporting queue" sh -c \
	"test $rc -eq $((0x62)) && grep -q 'reporting queue' '$out'"
run_vm out --kernel "$GUESTS/balloon.img" --transport mmio --balloon size=0,free_page_reporting=maybe
check "--balloon free_page_reporting=maybe: one line" sh -c \
	"test $rc -ne 0 && grep -q '^cvmm-microvm: --balloon: free_page_reporting:' '$out'"

run_vm out --kernel "$GUESTS/balloon.img" --transport mmio --balloon size=1G
check "--balloon size above --memory: one line" sh -c \
	"test $rc -ne 0 && grep -q '^cvmm-microvm: --balloon: size: more than' '$out' && [ \$(wc -l <'$out') -eq 1 ]"
run_vm out --kernel "$GUESTS/balloon.img" --transport mmio --balloon size=4097
check "--balloon size not whole pages: one line" sh -c \
	"test $rc -ne 0 && grep -q '^cvmm-microvm: --balloon: size:' '$out'"
run_vm out --kernel "$GUESTS/balloon.img" --transport mmio --balloon deflate_on_oom=on
check "--balloon without size: one line" sh -c \
	"test $rc -ne 0 && grep -q 'size: missing' '$out'"
run_vm out --kernel "$GUESTS/balloon.img" --transport mmio
check "the guest without --balloon finds no device" sh -c \
	"test $rc -eq $((0x61)) && grep -q 'no virtio-balloon device' '$out'"
finish
