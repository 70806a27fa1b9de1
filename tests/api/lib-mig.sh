# shellcheck shell=sh
# Shared by the API migration tests (sourced after lib.sh): VMMs started
# empty on an API socket, their state and migration progress through the
# API, and the memory-checking guest's serial lines (tests/guests/snapshot.c).

R() { # SOCK CMD...: cvmm-remote on SOCK
	s=$1; shift
	timeout 30 "$REMOTE" --api-socket "$s" "$@"
}
start_vmm() { # SOCK LOG [EVENTS]: an empty VMM on SOCK; sets pid (timeout's)
	rm -f "$1"
	timeout 120 "$MICROVM" --api-socket "$1" ${3:+--event-monitor path="$3"} >"$2" 2>&1 &
	pid=$!
	i=0
	while ! [ -S "$1" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
}
state_is() { R "$1" info | grep -q "\"state\": \"$2\""; }
progress_is() { # SOCK STATE: validated against the spec
	timeout 30 python3 - "$1" "$2" <<'PY'
import sys, apiclient
st, j = apiclient.Client(sys.argv[1]).req("GET", "vm.migration-progress")
sys.exit(0 if st == 200 and j["state"] == sys.argv[2] else 1)
PY
}
api_error() { # SOCK ENDPOINT BODY STATUS TEXT: a PUT answered STATUS with TEXT
	python3 - "$@" <<'PY'
import json, sys, apiclient
st, j = apiclient.Client(sys.argv[1]).req("PUT", sys.argv[2], json.loads(sys.argv[3]))
sys.exit(0 if st == int(sys.argv[4]) and sys.argv[5] in j["error"] else 1)
PY
}
exited() { ! kill -0 "$1" 2>/dev/null; }
ends_ok() { # PID: the VMM behind timeout PID ends with status 0
	eventually 30 exited "$1" || return 1
	wait "$1"
}
counting_past() { # N: the guest prints more rounds than N with no MISMATCH
	r=$(grep -a '^round ' "$TMP/serial" | tail -1 | cut -d' ' -f2)
	[ -n "$r" ] && [ "$r" -gt "$1" ] && ! grep -aq MISMATCH "$TMP/serial"
}
# 0 before the guest's first round (an empty value made counting_past fail)
last_round() { r=$(grep -a '^round ' "$TMP/serial" | tail -1 | cut -d' ' -f2); echo "${r:-0}"; }
