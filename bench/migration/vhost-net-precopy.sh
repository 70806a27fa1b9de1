#!/bin/sh
# Pre-copy downtime of a VM whose network card is served by
# cvmm-vhost-user-net against the same VM with the in-VMM virtio-net on a
# TAP: the guest of tests/guests/migrate-all.c (3 vCPUs, 64 MiB, virtio-mmio,
# its card, vsock device and disk driven) moves RUNS times back and forth
# between two hosts, network + mount namespaces each with its own tap0 (and
# for the vhost-user case its own daemon on one socket path), as
# tests/api/migrate-vhost-net.sh sets them up; migration over a unix
# socket. The downtime and total of each move are the source's own figures
# (its log line "send-migration: completed"). With vhost-user, the
# stop-and-copy also stops the backend's rings (GET_VRING_BASE per queue)
# and harvests its log, and the destination sends its memory table and
# starts the rings.
#
# usage, from the build dir (root: namespaces, TAPs):
#     sh ../bench/migration/vhost-net-precopy.sh [RUNS]
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
export top_srcdir top_builddir
. "$top_srcdir/tests/api/lib.sh"
. "$top_srcdir/tests/api/lib-mig.sh"
. "$top_srcdir/tests/api/lib-netns.sh"
RUNS=${1:-5}
VUNET=$top_builddir/examples/vhost-user-net/cvmm-vhost-user-net
pids=""
trap 'for p in $pids; do kill -9 $p 2>/dev/null; done; rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM
[ -f "$GUESTS/migrate-all.img" ] || { echo "no $GUESTS/migrate-all.img"; exit 1; }
netns_new a; A=$ns
netns_new b; B=$ns
truncate -s 1M "$TMP/disk"
vm() { # NET
	printf '{"payload": {"kernel": "%s"}, "cpus": {"boot_vcpus": 3, "max_vcpus": 3},
 "memory": {"size": 67108864, "shared": true}, "net": [%s],
 "vsock": {"cid": 3, "socket": "%s", "id": "vsock0", "transport": "mmio"},
 "disks": [{"path": "%s", "id": "disk0", "transport": "mmio"}],
 "serial": {"mode": "File", "file": "%s"}}' "$GUESTS/migrate-all.img" "$1" "$TMP/vs/vsock" \
		"$TMP/disk" "$TMP/serial"
}
# the vhost-user daemons own tap1 (a second TAP in each namespace, no
# address: nothing here pings the guest)
for n in $A $B; do
	nsenter -t $n -n sh -c 'ip tuntap add dev tap1 mode tap 2>/dev/null; ip link set tap1 up'
	nsenter -t $n -n -m "$VUNET" --socket "$TMP/vs/vu.sock" --tap tap1 \
		--mac 02:00:00:00:00:10 >/dev/null 2>&1 &
	pids="$pids $!"
	eventually 10 nsenter -t $n -m test -S "$TMP/vs/vu.sock"
done
vm '{"vhost_user": true, "vhost_socket": "'$TMP/vs/vu.sock'", "id": "net0", "transport": "mmio"}' \
	>"$TMP/vhost-user.json"
vm '{"tap": "tap0", "mac": "02:00:00:00:00:10", "id": "net0", "transport": "mmio"}' >"$TMP/in-vmm.json"
k=0
for cfg in ${CFGS:-vhost-user in-vmm}; do
	k=$((k + 1)) here=$A there=$B
	# a fresh disk: the disk writer checks what its earlier passes wrote
	rm -f "$TMP/disk" "$TMP/serial"
	truncate -s 1M "$TMP/disk"
	vmm_in $here $k --guest-arg 0=0x0a00020f --log-level info
	R "$TMP/api.$k" create "$TMP/$cfg.json" >/dev/null && R "$TMP/api.$k" boot >/dev/null ||
		{ echo "$cfg: cannot boot: $(tail -1 "$TMP/vmm.$k.out")"; exit 1; }
	sleep 2
	for r in $(seq "$RUNS"); do
		src=$k src_pid=$vmm
		k=$((k + 1))
		vmm_in $there $k --guest-arg 0=0x0a00020f --log-level info
		R "$TMP/api.$k" receive-migration receiver_url=unix:"$TMP/mig.$k" >/dev/null
		R "$TMP/api.$src" send-migration destination_url=unix:"$TMP/mig.$k" \
			>/dev/null 2>"$TMP/send.err" || { echo "$cfg run $r: failed: $(tail -1 "$TMP/send.err") $(tail -2 "$TMP/vmm.$src.out")"; exit 1; }
		timeout 20 sh -c "while kill -0 $src_pid 2>/dev/null; do sleep 0.05; done"
		line=$(grep -o 'completed: total .*' "$TMP/vmm.$src.out")
		echo "$cfg run $r: $line"
		t=$here here=$there there=$t
		sleep 1
	done
	R "$TMP/api.$k" shutdown-vmm >/dev/null
	timeout 20 sh -c "while kill -0 $vmm 2>/dev/null; do sleep 0.05; done"
done
