# Shared TAP helpers for the cvmm-microvm integration scripts.
set -u
. "${top_srcdir:-.}/tests/lib/sh-lib.sh"
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
MICROVM=$top_builddir/examples/microvm/cvmm-microvm
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
n=0
failed=0

plan() { echo "1..$1"; }

require_kvm() {
	if ! [ -w /dev/kvm ]; then
		echo "1..0 # SKIP /dev/kvm is not available"
		exit 0
	fi
}

# check DESCRIPTION COMMAND...: one TAP line from the command's status.
check() {
	desc=$1; shift
	n=$((n + 1))
	if "$@" >/dev/null 2>&1; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		failed=$((failed + 1))
		[ -n "${out:-}" ] && [ -f "$out" ] && sed 's/^/# /' "$out" | tail -20
		# a test may say more about its own failures
		command -v on_fail >/dev/null 2>&1 && on_fail 2>&1 | sed 's/^/# /' | tail -40
	fi
}

# run_vm VAR ARGS...: run the microVM (30 s at most) with its output in a
# file named by VAR and its exit status in $rc.
run_vm() {
	var=$1; shift
	f="$TMP/out.$n.$$"
	rc=0
	timeout 30 "$MICROVM" "$@" >"$f" 2>&1 || rc=$?
	eval "$var=\$f"
}

finish() {
	[ "$failed" -eq 0 ]
	exit $?
}

# wait_for FILE TEXT SECONDS: until FILE holds TEXT; false on time-out.
wait_for() {
	i=0
	while ! grep -qF -- "$2" "$1" 2>/dev/null; do
		[ $i -ge $(($3 * 10)) ] && return 1
		sleep 0.1; i=$((i + 1))
	done
}

# eventually SECONDS COMMAND...: until the command succeeds; false on time-out.
# For what a starting program reaches at a moment of its own (a thread
# created and sandboxed), which a fixed sleep gets wrong on a loaded machine.
eventually() {
	t=$(($1 * 10)); shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$t" -le 0 ] && return 1
		sleep 0.1; t=$((t - 1))
	done
}
