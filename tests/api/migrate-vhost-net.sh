#!/bin/sh
# Live migration with a vhost-user network card (issue 12's "vhost-user-net
# devices served by cvmm's daemons migrated both ways"): the guest of
# tests/guests/migrate-all.c (ARP and ICMP echo server, disk writer, memory
# checker, each on a vCPU of its own) has its net device served by
# cvmm-vhost-user-net on tap0 of its host. Two hosts are two network and
# mount namespaces (tests/api/lib-netns.sh): each has its own tap0 at
# 10.0.2.1 and its own daemon on $TMP/vs/vu.sock (a tmpfs per mount
# namespace: one path, a socket per host). A daemon holds its TAP for its
# whole life (one queue pair: no second opener), and serves one frontend
# after the other: host A's daemon serves the first VMM, then, once that
# VMM has gone, the VMM that takes the guest back.
#  1. pre-copy A -> B while host A floods the guest with ICMP echo
#     requests (the daemon's receive path writes guest memory during the
#     passes: buffers and used rings): every reply carries its request's
#     payload; A's daemon says how many pages it logged into the shared
#     dirty log (SET_LOG_BASE, LOG_SHMFD);
#  2. post-copy B -> A: A's daemon registers its mapping of guest RAM with
#     userfaultfd (POSTCOPY_ADVISE, LISTEN) and lets it go at the end
#     (POSTCOPY_END), as its log says.
# The guest's disk is served the same way, by cvmm-vhost-user-blk (one per
# host, on one image: the second with --locking off), so a vhost-user disk
# moves by pre-copy too (its daemon reads into guest memory during the
# passes: logged as well), and by post-copy back.
# After each move the guest answers pings through the new host's daemon
# and TAP, its memory checker and disk writer go on with no MISMATCH.
. "${top_srcdir:-.}/tests/api/lib.sh"
. "$top_srcdir/tests/api/lib-mig.sh"
. "$top_srcdir/tests/api/lib-netns.sh"
require_kvm
require_python
require_netns
VUNET=$top_builddir/examples/vhost-user-net/cvmm-vhost-user-net
VUBLK=$top_builddir/examples/vhost-user-blk/cvmm-vhost-user-blk
if ! [ -f "$GUESTS/migrate-all.img" ] || ! [ -x "$VUNET" ] || ! [ -x "$VUBLK" ]; then
	echo "1..0 # SKIP needs $GUESTS/migrate-all.img, cvmm-vhost-user-net and -blk"
	exit 0
fi
if ! python3 -c 'import ctypes, sys; sys.exit(ctypes.CDLL(None).syscall(323, 0) < 0)'; then
	echo "1..0 # SKIP no userfaultfd for this user (root, or vm.unprivileged_userfaultfd=1)"
	exit 0
fi
pids=""
trap 'for p in $pids; do kill -9 $p 2>/dev/null; done; rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM
plan 26

netns_new a; A=$ns
netns_new b; B=$ns
truncate -s 1M "$TMP/disk"
# daemon_in NS K [BLK-FLAGS]: host NS's daemons, net on its tap0 ($TMP/d.K
# its log), blk on $TMP/disk ($TMP/b.K); $daemon and $bdaemon
daemon_in() {
	nsenter -t "$1" -n -m env CVMM_VHOST_USER_NET_LOG=info "$VUNET" \
		--socket "$TMP/vs/vu.sock" --tap tap0 --mac 02:00:00:00:00:10 >"$TMP/d.$2" 2>&1 &
	daemon=$!
	nsenter -t "$1" -n -m env CVMM_VHOST_USER_BLK_LOG=info "$VUBLK" \
		--socket "$TMP/vs/vb.sock" --disk "$TMP/disk" ${3:-} >"$TMP/b.$2" 2>&1 &
	bdaemon=$!
	pids="$pids $daemon $bdaemon"
	eventually 10 nsenter -t "$1" -m test -S "$TMP/vs/vu.sock" &&
		eventually 10 nsenter -t "$1" -m test -S "$TMP/vs/vb.sock"
}
daemon_in $A a; da=$daemon ba=$bdaemon
daemon_in $B b "--locking off"; db=$daemon bb=$bdaemon

cat >"$TMP/vm.json" <<JSON
{"payload": {"kernel": "$GUESTS/migrate-all.img"}, "cpus": {"boot_vcpus": 3, "max_vcpus": 3},
 "memory": {"size": 67108864, "shared": true},
 "net": [{"vhost_user": true, "vhost_socket": "$TMP/vs/vu.sock", "id": "net0", "transport": "mmio"}],
 "vsock": {"cid": 3, "socket": "$TMP/vs/vsock", "id": "vsock0", "transport": "mmio"},
 "disks": [{"vhost_user": true, "vhost_socket": "$TMP/vs/vb.sock", "id": "disk0", "transport": "mmio"}],
 "serial": {"mode": "File", "file": "$TMP/serial"}}
JSON
last_blk() { grep -a '^blk pass ' "$TMP/serial" | tail -1 | cut -d' ' -f3; }
blk_past() { # N: the disk writer printed a pass beyond N, no MISMATCH
	p=$(last_blk)
	[ -n "$p" ] && [ "$p" -gt "$1" ] && ! grep -aq MISMATCH "$TMP/serial"
}
new_serial() { # the next VMM opens the serial file anew
	blk=$(last_blk) round=$(last_round)
	mv "$TMP/serial" "$TMP/serial.$1"
}
all_well() { # WHAT NS: after a move to NS
	check "$1: the guest answers a ping through this host's daemon and TAP" ping_in "$2"
	check "$1: the memory checker counts on, every byte in place" \
		eventually 30 counting_past "${round:-0}"
	check "$1: the disk writer goes on, every check passing" eventually 30 blk_past "${blk:-0}"
}
figures() { # SOCK: the destination's migration figures, as a TAP comment
	timeout 30 python3 - "$1" <<'PY'
import sys, apiclient
st, j = apiclient.Client(sys.argv[1]).req("GET", "vm.migration-progress")
print("# %s: total %s ms, downtime %s ms, %s bytes, %s passes" % (
    j.get("state"), j.get("total_ms"), j.get("downtime_ms"), j.get("bytes_sent"),
    j.get("pass", 0) + 1))
PY
}
# An ICMP echo flood from NS (a request every 2 ms, 1 KiB payloads of their
# own) for SECS seconds from its first reply ($TMP/flood.K.up then; 20 s
# at most): "good N bad M" in $TMP/flood.K; a reply whose payload is not
# its request's is bad.
cat >"$TMP/flood.py" <<'PY'
import os, select, socket, struct, sys, time
addr, secs, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF
ident = os.getpid() & 0xFFFF
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.setblocking(False)
good = bad = seq = 0
end = time.monotonic() + 20
def payload(q):
    return bytes((q * 7 + i) & 0xFF for i in range(1024))
while time.monotonic() < end:
    seq = (seq + 1) & 0xFFFF
    p = payload(seq)
    h = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    try:
        s.sendto(struct.pack("!BBHHH", 8, 0, csum(h + p), ident, seq) + p, (addr, 0))
    except OSError:
        pass  # no ARP answer yet: the guest is on the move
    t = time.monotonic() + 0.002
    while True:
        w = t - time.monotonic()
        if w <= 0 or not select.select([s], [], [], w)[0]:
            break
        pkt, src = s.recvfrom(4096)
        ihl = (pkt[0] & 15) * 4
        ty, _, _, i, q = struct.unpack("!BBHHH", pkt[ihl:ihl + 8])
        if src[0] != addr or ty != 0 or i != ident:
            continue
        if pkt[ihl + 8:] == payload(q):
            good += 1
            if good == 1:
                end = min(end, time.monotonic() + secs)
                open(out + ".up", "w").close()
        else:
            bad += 1
open(out, "w").write("good %d bad %d\n" % (good, bad))
PY
flood_in() { # NS K SECS: in the background; its pid in $flood
	timeout 60 nsenter -t "$1" -n python3 "$TMP/flood.py" $NS_IP "$3" "$TMP/flood.$2" &
	flood=$!
	pids="$pids $flood"
}
flood_ok() { # K: the flood ended with replies, none bad
	eventually 30 test -s "$TMP/flood.$1" || return 1
	grep -q "good [1-9][0-9]* bad 0$" "$TMP/flood.$1"
}

vmm_in $A 0 --guest-arg 0=0x0a00020f; v0=$vmm
R "$TMP/api.0" create "$TMP/vm.json" && R "$TMP/api.0" boot
check "the guest serves on its vhost-user net device" wait_for "$TMP/serial" "server: up" 20
check "... writes its disk and checks its memory" \
	sh -c ". '$top_srcdir/tests/microvm/lib.sh'; wait_for '$TMP/serial' 'blk pass 8' 20 &&
	       wait_for '$TMP/serial' 'round 8' 20"
all_well "at first" $A

# 1. pre-copy A -> B under a flood from A
vmm_in $B 1 --guest-arg 0=0x0a00020f; v1=$vmm
R "$TMP/api.1" receive-migration receiver_url=unix:"$TMP/mig1.sock"
flood_in $A 1 3
eventually 20 test -f "$TMP/flood.1.up"
sleep 0.5
new_serial 1
check "pre-copy A -> B under an ICMP flood from A: send-migration returns" \
	R "$TMP/api.0" send-migration destination_url=unix:"$TMP/mig1.sock"
check "... the source VMM ends (status 0)" ends_ok $v0
check "... the destination completes" eventually 30 progress_is "$TMP/api.1" completed
figures "$TMP/api.1"
check "... every flood reply carried its request's payload" flood_ok 1
sed 's/^/# flood from A: /' "$TMP/flood.1"
check "... A's daemon logged the pages it wrote (SET_LOG_BASE, then a count)" \
	eventually 10 grep -q "dirty log: [1-9][0-9]* pages logged" "$TMP/d.a"
grep -a "dirty log" "$TMP/d.a" | sed 's/^/# daemon a: /'
check "... and A's disk daemon those it wrote (read buffers, used rings)" \
	eventually 10 grep -q "dirty log: [1-9][0-9]* pages logged" "$TMP/b.a"
grep -a "dirty log" "$TMP/b.a" | sed 's/^/# disk daemon a: /'
all_well "pre-copy" $B
check "pre-copy: a flood from B is answered, every reply with its payload" \
	sh -c "timeout 60 nsenter -t $B -n python3 '$TMP/flood.py' $NS_IP 1 '$TMP/flood.1b' &&
	       grep -q 'good [1-9][0-9]* bad 0$' '$TMP/flood.1b'"

# 2. post-copy B -> A: back to A's daemon, which serves its second frontend
vmm_in $A 2 --guest-arg 0=0x0a00020f --log-level info; v2=$vmm
R "$TMP/api.2" receive-migration receiver_url=unix:"$TMP/mig2.sock",memory_mode=Postcopy
flood_in $B 2 3
eventually 20 test -f "$TMP/flood.2.up"
sleep 0.5
new_serial 2
check "post-copy B -> A: send-migration returns" \
	R "$TMP/api.1" send-migration destination_url=unix:"$TMP/mig2.sock",memory_mode=Postcopy
check "... the source VMM ends (status 0)" ends_ok $v1
check "... the destination completes: it has every page" \
	eventually 30 progress_is "$TMP/api.2" completed
figures "$TMP/api.2"
pc_log() { grep -q 'post-copy: ADVISE' "$TMP/d.a" && grep -q 'post-copy: LISTEN' "$TMP/d.a" &&
	grep -q 'post-copy: END' "$TMP/d.a"; }
check "... A's daemon took part: POSTCOPY_ADVISE, LISTEN, END" eventually 10 pc_log
pc_blk() { grep -q 'post-copy: ADVISE' "$TMP/b.a" && grep -q 'post-copy: LISTEN' "$TMP/b.a" &&
	grep -q 'post-copy: END' "$TMP/b.a"; }
check "... and A's disk daemon" eventually 10 pc_blk
grep -a "post-copy" "$TMP/d.a" "$TMP/vmm.2.out" | sed 's/^/# /'
check "... every flood reply before the move carried its request's payload" flood_ok 2
sed 's/^/# flood from B: /' "$TMP/flood.2"
all_well "post-copy" $A

check "the four daemons are still up" sh -c "kill -0 $da && kill -0 $db && kill -0 $ba && kill -0 $bb"
R "$TMP/api.2" shutdown-vmm >/dev/null
check "no MISMATCH on any serial, no warning from the daemons" \
	sh -c "! grep -a MISMATCH '$TMP'/serial* && ! grep -a -i 'warn\|error' '$TMP'/d.? '$TMP'/b.?"
grep -a -i "warn\|error" "$TMP"/d.? "$TMP"/b.? | sed 's/^/# /'
finish
