#!/bin/sh
# Local migration (live upgrade: memfds over a unix socket) of a VM with a
# TAP and a vsock device (their fds passed along, docs/migration.md)
# against the same VM without them, through cvmm-microvm's API in a
# network namespace of its own: 3 vCPUs, 64 MiB, virtio-mmio, a disk;
# the guests and devices of each case are below. Each VM moves RUNS times
# from VMM to VMM, and the downtime and total of each move are the
# source's own figures (its log line "send-migration: completed").
#
# usage, from the build dir (root: namespaces, TAPs):
#     sh ../bench/migration/local-tap.sh [RUNS]
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
export top_srcdir top_builddir
. "$top_srcdir/tests/api/lib.sh"
. "$top_srcdir/tests/api/lib-mig.sh"
. "$top_srcdir/tests/api/lib-netns.sh"
RUNS=${1:-5}
pids=""
trap 'for p in $pids; do kill -9 $p 2>/dev/null; done; rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM
[ -f "$GUESTS/migrate-all.img" ] || { echo "no $GUESTS/migrate-all.img"; exit 1; }
netns_new a; A=$ns
truncate -s 1M "$TMP/disk"
disk='"disks": [{"path": "'$TMP/disk'", "id": "disk0", "transport": "mmio"}],
 "serial": {"mode": "File", "file": "'$TMP/serial'"}'
nets='"net": [{"tap": "tap0", "mac": "02:00:00:00:00:10", "id": "net0", "transport": "mmio"}],
 "vsock": {"cid": 3, "socket": "'$TMP/vs/vsock'", "id": "vsock0", "transport": "mmio"},'
vm() { # IMAGE DEVICES...
	printf '{"payload": {"kernel": "%s"}, "cpus": {"boot_vcpus": 3, "max_vcpus": 3},
 "memory": {"size": 67108864, "shared": true}, %s %s}' "$GUESTS/$1" "$2" "$disk"
}
# tap-active: migrate-all.img drives its card and vsock device (it needs
# them: without a card it exits); tap-idle and plain: snapshot.img (the
# memory checker, 3 vCPUs), with the card and vsock device (passed, not
# driven) and without
vm migrate-all.img "$nets" >"$TMP/tap-active.json"
vm snapshot.img "$nets" >"$TMP/tap-idle.json"
vm snapshot.img "" >"$TMP/plain.json"
k=0
for cfg in tap-active tap-idle plain; do
	# migrate-all's server: its IPv4; snapshot.c: 8 MiB checked (default)
	ga=0x0a00020f
	[ "$cfg" = tap-active ] || ga=8
	k=$((k + 1))
	vmm_in $A $k --guest-arg 0=$ga --log-level info
	R "$TMP/api.$k" create "$TMP/$cfg.json" >/dev/null && R "$TMP/api.$k" boot >/dev/null ||
		{ echo "$cfg: cannot boot: $(tail -1 "$TMP/vmm.$k.out")"; exit 1; }
	sleep 2
	for r in $(seq "$RUNS"); do
		src=$k src_pid=$vmm
		k=$((k + 1))
		vmm_in $A $k --guest-arg 0=$ga --log-level info
		R "$TMP/api.$k" receive-migration receiver_url=unix:"$TMP/local.$k" >/dev/null
		R "$TMP/api.$src" send-migration destination_url=unix:"$TMP/local.$k",local=on \
			>/dev/null 2>"$TMP/send.err" || { echo "$cfg run $r: failed: $(tail -1 "$TMP/send.err") $(tail -2 "$TMP/vmm.$src.out")"; exit 1; }
		timeout 20 sh -c "while kill -0 $src_pid 2>/dev/null; do sleep 0.05; done"
		line=$(grep -o 'completed: total [0-9]* ms, downtime [0-9]* ms' "$TMP/vmm.$src.out")
		echo "$cfg run $r: $line"
		[ "$cfg" = tap-active ] && ! ping_in $A >/dev/null 2>&1 && echo "$cfg run $r: no ping after the move"
		sleep 1
	done
	R "$TMP/api.$k" shutdown-vmm >/dev/null
	timeout 20 sh -c "while kill -0 $vmm 2>/dev/null; do sleep 0.05; done"
done
