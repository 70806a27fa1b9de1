#!/bin/sh
# virtio-pci under cvmm-microvm, the default transport (transport=pci on a
# device option, or nothing; --transport mmio turns it off) gives the VM a
# PCI segment; the CPL3 virtio-pci guest enumerates it,
# places BAR 0, and drives the rng with its interrupt on the MSI-X vector
# it programmed (masked -> PBA -> delivered on unmask), under the default
# seccomp filters (the vCPU thread moves ioeventfds and MSI routes).
. "${top_srcdir:-.}/tests/microvm-virtio/lib.sh"
require_kvm
require_guests virtio-pci virtio-rng virtio-blk hello snapshot
plan 18

# Where the segment is: the info line names ECAM and the 32-bit BAR window.
run_vm out --kernel "$GUESTS/virtio-pci.img" --rng transport=pci --log-level info
check "--rng transport=pci: the segment is announced" grep -q "pci: segment 0, ECAM at" "$out"
ecam=$(sed -n 's/.*ECAM at \(0x[0-9a-f]*\),.*/\1/p' "$out")
bar=$(sed -n 's/.*32-bit BAR window \(0x[0-9a-f]*\) .*/\1/p' "$out")
[ -n "$ecam" ] || ecam=0
[ -n "$bar" ] || bar=0

MSIX="rng over virtio-pci, MSI-X vector 1 -> 0x42; masked -> PBA -> 0x43 on unmask"
run_vm out --kernel "$GUESTS/virtio-pci.img" --rng transport=pci \
	--guest-arg 0="$ecam" --guest-arg 1="$bar"
check "--rng transport=pci: the interrupt arrives on the guest's MSI-X vector" ok_with "$MSIX"
run_vm out --kernel "$GUESTS/virtio-pci.img" --rng \
	--guest-arg 0="$ecam" --guest-arg 1="$bar"
check "--rng: PCI is the default transport" ok_with "$MSIX"
run_vm out --kernel "$GUESTS/virtio-pci.img" --rng=transport=pci --console stdio,transport=pci \
	--guest-arg 0="$ecam" --guest-arg 1="$bar"
check "--rng=transport=pci beside a PCI console: two functions, rng found" sh -c \
	"test $rc -eq 0 && grep -q '2 device(s), rng at 00:02.0' '$out'"
run_vm out --kernel "$GUESTS/virtio-pci.img" --transport mmio --rng --guest-arg 0="$ecam" \
	--guest-arg 1="$bar"
check "--transport mmio --rng: no PCI, the guest finds no rng function" sh -c \
	"test $rc -ne 0 && ! grep -q 'rng at 00:' '$out'"

# The virtio-blk guest over PCI (the guest library's virtio_find_pci: BAR 0
# in the window, INTx, polling): arg 0's upper bits name the window.
mkpattern "$TMP/disk" 256 5
cp "$TMP/disk" "$TMP/orig"
run_vm out --kernel "$GUESTS/virtio-blk.img" --disk path="$TMP/disk",transport=pci \
	--guest-arg 0=$((bar | 1)) --guest-arg 1=0 --guest-arg 2=256 --guest-arg 3=5
check "--disk transport=pci: the guest reads 256 sectors of the host's pattern" sh -c \
	"test $rc -eq 0 && grep -q 'on PCI, BAR 0 at' '$out' && grep -q 'read 256 sectors ok' '$out'"
truncate -s 1M "$TMP/w"
run_vm out --kernel "$GUESTS/virtio-blk.img" --disk path="$TMP/w",transport=pci \
	--guest-arg 0=$((bar | 2)) --guest-arg 1=10 --guest-arg 2=100 --guest-arg 3=9
check "--disk transport=pci: the guest writes 100 sectors and reads them back" \
	ok_with "wrote 100 sectors ok"
mkpattern "$TMP/exp" 110 9
sectors "$TMP/exp" 10 100 >"$TMP/exp.part"
sectors "$TMP/w" 10 100 >"$TMP/w.part"
check "--disk transport=pci: the host file holds the guest's pattern (cmp)" \
	cmp "$TMP/exp.part" "$TMP/w.part"

# virtio-mmio keeps its layout beside PCI.
run_vm out --kernel "$GUESTS/virtio-rng.img" --pci --rng transport=mmio
check "--pci --rng transport=mmio: the mmio guest finds its rng where it was" \
	ok_with "64 random bytes twice"

run_vm out --kernel "$GUESTS/virtio-pci.img" --rng transport=usb
check "transport=usb: one line naming the option" sh -c \
	"test $rc -ne 0 && grep -q \"^cvmm-microvm: --rng: transport: 'usb' is not pci or mmio\" '$out' &&
	 [ \$(wc -l <'$out') -eq 1 ]"
run_vm out --kernel "$GUESTS/virtio-pci.img" --disk path=/nonexistent,transport=
check "--disk transport= empty: one line" sh -c \
	"test $rc -ne 0 && grep -q 'cvmm-microvm: --disk: transport: empty value' '$out'"

# A snapshot of a VM with PCI devices (rng, disk, balloon) restores into a
# new process that rebuilds them on PCI (sections dev/<id>/virtio-pci) and
# the guest goes on counting.
SNAP=$TMP/snap
"$MICROVM" --kernel "$GUESTS/snapshot.img" --serial file="$TMP/s0" --rng transport=pci \
	--disk path="$TMP/w",transport=pci --balloon size=16M,transport=pci \
	--snapshot destination_url=file://"$SNAP" >"$TMP/src.log" 2>&1 &
src=$!
wait_for "$TMP/s0" "round 32" 20
kill -USR1 "$src"
check "PCI devices: SIGUSR1 writes the snapshot" wait_for "$TMP/src.log" "snapshot written" 20
stop_pid "$src" KILL
before=$(grep -a '^round ' "$TMP/s0" | tail -1 | cut -d' ' -f2)
timeout 30 "$MICROVM" --restore source_url=file://"$SNAP",memory_restore_mode=Copy,resume=on \
	--serial file="$TMP/s1" >"$TMP/r.log" 2>&1 &
dst=$!
check "PCI devices: the restored guest counts on from round ${before:-?}" \
	wait_for "$TMP/s1" "round $(( ${before:-0} + 64 ))" 20
first=$(grep -a '^round ' "$TMP/s1" | head -1 | cut -d' ' -f2)
check "PCI devices: the restored guest began at round ${first:-?}, not 0, and nothing failed" sh -c \
	"[ '${first:-0}' -ge '${before:-1}' ] && ! grep -q 'cvmm-microvm:' '$TMP/r.log'"
stop_pid "$dst"

# The API names a PCI device's address as Cloud Hypervisor does.
REMOTE=$top_builddir/examples/remote/cvmm-remote
SOCK=$TMP/api.sock
R() { timeout 20 "$REMOTE" --api-socket "$SOCK" "$@"; }
timeout 60 "$MICROVM" --api-socket "$SOCK" >"$TMP/vmm.out" 2>&1 &
vmm=$!
i=0
while ! [ -S "$SOCK" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
truncate -s 1M "$TMP/disk.img"
cat >"$TMP/vm.json" <<JSON
{"payload": {"kernel": "$GUESTS/hello.img"}, "memory": {"size": 67108864}}
JSON
R create "$TMP/vm.json" >/dev/null 2>&1
check "PCI by default: vm.add-disk answers bdf 0000:00:01.0" sh -c \
	"timeout 20 '$REMOTE' --api-socket '$SOCK' add-disk 'path=$TMP/disk.img,id=d0' | grep -q '\"bdf\": *\"0000:00:01.0\"'"
check "PCI by default: vm.add-vsock answers bdf 0000:00:02.0" sh -c \
	"timeout 20 '$REMOTE' --api-socket '$SOCK' add-vsock 'cid=5,socket=$TMP/vsock,id=v0' | grep -q '\"bdf\": *\"0000:00:02.0\"'"
R remove-device d0 >/dev/null 2>&1
check "PCI by default: a removed device's slot is given again" sh -c \
	"timeout 20 '$REMOTE' --api-socket '$SOCK' add-disk 'path=$TMP/disk.img,id=d1' | grep -q '\"bdf\": *\"0000:00:01.0\"'"
R shutdown-vmm >/dev/null 2>&1
wait_pid "$vmm" 10
check "vmm.shutdown ends the API process with status 0" test "$rc" -eq 0
finish
