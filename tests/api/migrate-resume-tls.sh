#!/bin/sh
# Post-copy recovery through TLS (docs/migration.md): migrate-resume.sh's
# move, over TCP with tls_dir on both sides. The guest (tests/guests/
# snapshot.c, checking 8 MiB of its memory) moves post-copy through a slow
# TCP relay (mig-proxy.py, 1 MB/s); once the destination runs it the relay
# is killed. Both sides pause. A resume whose source presents a
# certificate of another CA is refused by the TLS handshake with one line
# on both sides, both still paused; the resume with the right certificates
# (two TLS sessions again: main and page requests) brings the rest: the
# source ends, the destination completes, the guest counts on with every
# byte in place. Skips where cvmm-microvm has no TLS (static programs).
. "${top_srcdir:-.}/tests/api/lib.sh"
. "$top_srcdir/tests/api/lib-mig.sh"
require_kvm
require_python
need_cmd certtool gnutls-bin
proxy=
src= dst=
trap 'for p in $src $dst; do c=$(child_of $p); kill -9 $c $p 2>/dev/null; done
      [ -n "$proxy" ] && kill -9 $proxy 2>/dev/null; rm -rf "$TMP"' EXIT

start_vmm "$TMP/src.sock" "$TMP/src.out" "$TMP/src.ev"; src=$pid
start_vmm "$TMP/dst.sock" "$TMP/dst.out" "$TMP/dst.ev"; dst=$pid
if ! R "$TMP/dst.sock" receive-migration receiver_url=tcp:127.0.0.1:1,tls_dir=/nonexistent \
	>/dev/null 2>"$TMP/e"; then
	echo "1..0 # SKIP this cvmm-microvm has no TLS: $(tail -1 "$TMP/e")"
	R "$TMP/src.sock" shutdown-vmm >/dev/null 2>&1
	R "$TMP/dst.sock" shutdown-vmm >/dev/null 2>&1
	exit 0
fi
R "$TMP/dst.sock" migration-cancel >/dev/null 2>&1
eventually 10 progress_is "$TMP/dst.sock" cancelled
sh "$top_srcdir/tests/integration/mig-certs.sh" "$TMP/tls/good" >/dev/null 2>&1 &&
	sh "$top_srcdir/tests/integration/mig-certs.sh" "$TMP/tls/rogue" rogue >/dev/null 2>&1 ||
	{ echo "Bail out! mig-certs.sh failed"; exit 1; }
plan 15
progress_error_has() { # SOCK TEXT: postcopy-paused, the error holding TEXT
	python3 - "$1" "$2" <<'PY'
import sys, apiclient
st, j = apiclient.Client(sys.argv[1]).req("GET", "vm.migration-progress")
sys.exit(0 if st == 200 and j["state"] == "postcopy-paused" and sys.argv[2] in j.get("error", "") else 1)
PY
}
good=tls_dir=$TMP/tls/good
port=$((20000 + $$ % 20000))

mem=134217728
cat >"$TMP/vm.json" <<JSON
{"payload": {"kernel": "$GUESTS/snapshot.img"}, "cpus": {"boot_vcpus": 2, "max_vcpus": 2},
 "memory": {"size": $mem}, "serial": {"mode": "File", "file": "$TMP/serial"}}
JSON
R "$TMP/src.sock" create "$TMP/vm.json" && R "$TMP/src.sock" boot
check "the guest runs on the source" wait_for "$TMP/serial" "round 16" 20

# post-copy through TLS and a slow relay, cut once the destination runs it
R "$TMP/dst.sock" receive-migration receiver_url=tcp:127.0.0.1:$port,memory_mode=Postcopy,$good
python3 "$top_srcdir/tests/api/mig-proxy.py" tcp:127.0.0.1:$((port + 1)) \
	tcp:127.0.0.1:$port 1000000 &
proxy=$!
listening() { grep -q ":$(printf %04X "$1") 00000000:0000 0A" /proc/net/tcp; }
eventually 10 listening $((port + 1))
before=$(last_round)
R "$TMP/src.sock" send-migration \
	destination_url=tcp:127.0.0.1:$((port + 1)),memory_mode=Postcopy,$good \
	>/dev/null 2>"$TMP/send.err" &
sender=$!
check "post-copy through TLS: the destination runs the guest, pages still coming" \
	eventually 30 progress_is "$TMP/dst.sock" postcopy
kill -9 $proxy; wait $proxy 2>/dev/null; proxy=
check "relay killed mid-push: the source says postcopy-paused (validated)" \
	eventually 20 progress_is "$TMP/src.sock" postcopy-paused
check "... the destination says postcopy-paused (validated)" \
	eventually 20 progress_is "$TMP/dst.sock" postcopy-paused
wait $sender
sed 's/^/# /' "$TMP/send.err" | tail -1

# a resume by a source whose certificate another CA signed
R "$TMP/dst.sock" receive-migration receiver_url=tcp:127.0.0.1:$((port + 2)),resume=on,$good
rogue() {
	! R "$TMP/src.sock" send-migration \
		destination_url=tcp:127.0.0.1:$((port + 2)),resume=on,tls_dir="$TMP/tls/rogue" \
		2>"$TMP/rogue.err" || return 1
	sed 's/^/# /' "$TMP/rogue.err"
	[ "$(wc -l <"$TMP/rogue.err")" -eq 1 ] && grep -q 'migration TLS: ' "$TMP/rogue.err"
}
check "resume with a certificate of another CA: refused with one line" rogue
check "... the source stays postcopy-paused, its error the refusal" \
	eventually 10 progress_error_has "$TMP/src.sock" "migration TLS: "
check "... the destination stays postcopy-paused, its error names the certificate" \
	eventually 10 progress_error_has "$TMP/dst.sock" "certificate"
check "... the source VM stays Paused, the destination's Running" \
	sh -c ". '$top_srcdir/tests/api/lib.sh'; . '$top_srcdir/tests/api/lib-mig.sh'
	       state_is '$TMP/src.sock' Paused && state_is '$TMP/dst.sock' Running"

# the resume through TLS with the right certificates
check "receive-migration resume=on,tls_dir on the paused destination" \
	R "$TMP/dst.sock" receive-migration receiver_url=tcp:127.0.0.1:$((port + 3)),resume=on,$good
resumed() {
	R "$TMP/src.sock" send-migration \
		destination_url=tcp:127.0.0.1:$((port + 3)),resume=on,$good 2>"$TMP/resume.err"
}
check "send-migration resume=on,tls_dir: the rest goes, cvmm-remote returns at the end" resumed ||
	{ tail -3 "$TMP/src.out"; tail -3 "$TMP/dst.out"; } | sed "s/^/# /"
sed 's/^/# /' "$TMP/resume.err" | tail -1
check "the source VMM ends (status 0)" ends_ok "$src"
check "the destination completes (validated)" eventually 30 progress_is "$TMP/dst.sock" completed
check "the guest counts on on the destination, every byte in place" \
	eventually 30 counting_past "$before"
check "the destination's events: postcopy-paused, then postcopy-resumed" \
	sh -c "grep -n 'postcopy' '$TMP/dst.ev' | tail -1 | grep -q postcopy-resumed"
check "no MISMATCH" sh -c "! grep -aq MISMATCH '$TMP/serial'"
R "$TMP/dst.sock" shutdown-vmm >/dev/null
finish
