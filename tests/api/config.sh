#!/bin/sh
# --config FILE.json boots the VM the same flags would (vm.info's config
# and device tree compared), a bad file is one line naming the field, and
# --event-monitor works without the API too.
. "${top_srcdir:-.}/tests/api/lib.sh"
require_kvm
plan 7
truncate -s 1M "$TMP/disk.img"
cat >"$TMP/vm.json" <<JSON
{"payload": {"kernel": "$GUESTS/hello.img", "cmdline": "console=ttyS0"},
 "cpus": {"boot_vcpus": 2, "max_vcpus": 2}, "memory": {"size": 67108864},
 "disks": [{"path": "$TMP/disk.img", "readonly": true,
            "rate_limiter_config": {"ops": {"size": 100, "refill_time": 1000}}}],
 "rng": {"src": "/dev/urandom"}, "serial": {"mode": "File", "file": "$TMP/serial"}}
JSON

# info_of NAME ARGS...: start with the API, save vm.info as NAME, shut down.
info_of() {
	name=$1; shift
	sock=$TMP/$name.sock
	timeout 60 "$MICROVM" --api-socket "$sock" --guest-arg 0=1 "$@" >"$TMP/$name.out" 2>&1 &
	pid=$!
	i=0
	while ! [ -S "$sock" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	"$REMOTE" --api-socket "$sock" info >"$TMP/$name.json" &&
	"$REMOTE" --api-socket "$sock" shutdown-vmm
	wait $pid
}
info_of flags --kernel "$GUESTS/hello.img" --cmdline console=ttyS0 --cpus 2 --memory 64M \
	--disk "path=$TMP/disk.img,readonly=on,rate=100" --rng --serial "file=$TMP/serial"
info_of file --config "$TMP/vm.json"
same() {
	python3 - "$TMP/flags.json" "$TMP/file.json" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
strip = lambda i: (i["config"], i["state"], {k: v["resources"] for k, v in i["device_tree"].items()})
sys.exit(0 if strip(a) == strip(b) and a["state"] == "Running" else 1)
PY
}
check "--config FILE.json and the same flags: equal vm.info (config, state, device tree)" same

run_vm out --config "$TMP/vm.json" --guest-arg 0=0
check "--config without the API boots the guest, which exits 0" sh -c \
	"test $rc -eq 0 && grep -q 'Hello from a cvmm test guest: cpu 0 of 2' '$TMP/serial'"

sed 's/"max_vcpus": 2/"max_vcpus": 4/' "$TMP/vm.json" >"$TMP/bad.json"
run_vm out --config "$TMP/bad.json"
check "a VmConfig asking for vCPU hotplug: exit 1, one line naming cpus.max_vcpus" sh -c \
	"test $rc -eq 1 && test \$(wc -l <'$out') -eq 1 && grep -q 'cpus.max_vcpus' '$out'"
echo '{"payload": ' >"$TMP/trunc.json"
run_vm out --config "$TMP/trunc.json"
check "a truncated file: exit 1, one line" sh -c "test $rc -eq 1 && test \$(wc -l <'$out') -eq 1"
run_vm out --config "$TMP/vm.json" --kernel "$GUESTS/hello.img"
check "--config with --kernel: exit 1, one line" sh -c "test $rc -eq 1 && test \$(wc -l <'$out') -eq 1"

run_vm out --kernel "$GUESTS/hello.img" --serial off --event-monitor "path=$TMP/events"
check "--event-monitor without the API: booting, booted, shutdown as JSON lines" sh -c \
	"test $rc -eq 0 && python3 -c 'import json,sys; e=[json.loads(l)[\"event\"] for l in open(sys.argv[1])]; sys.exit(0 if [x for x in e if x!=\"device-added\"]==[\"booting\",\"booted\",\"shutdown\"] else 1)' '$TMP/events'"

fd_mode() {
	python3 - "$MICROVM" "$TMP/fd.sock" <<'PY'
import os, socket, subprocess, sys
from apiclient import Client
l = socket.socket(socket.AF_UNIX)
l.bind(sys.argv[2])
l.listen(8)
r, w = os.pipe()
vmm = subprocess.Popen([sys.argv[1], "--api-socket", "fd=%d" % l.fileno(),
                        "--event-monitor", "fd=%d" % w], pass_fds=[l.fileno(), w])
os.close(w)
c = Client(sys.argv[2])
ok = c.wait_ready()[0] == 200 and c.req("PUT", "vmm.shutdown")[0] == 204 and vmm.wait(10) == 0
ev = os.read(r, 4096).decode().splitlines()
sys.exit(0 if ok and '"event":"starting"' in ev[0] and '"event":"shutdown"' in ev[-1] else 1)
PY
}
check "--api-socket fd=N (a socket the caller bound) and --event-monitor fd=N" fd_mode
finish
