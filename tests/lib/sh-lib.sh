# shellcheck shell=sh
# Shared by every test script (sourced): the tools a script needs, named
# with their Debian package when missing, and background processes stopped
# by the PID this shell started, with every wait bounded, so that no test
# can hang (a missing tool or a stuck process fails that test, with a line
# saying why).

# need_cmd COMMAND PACKAGE: stop the script at once when COMMAND is missing,
# naming it and the Debian package (in tools/packages.txt) that has it.
need_cmd() {
	command -v "$1" >/dev/null 2>&1 && return 0
	echo "Bail out! $1 is missing: install the Debian package $2 (tools/install-deps)"
	exit 99
}

# The tools every script may use beyond a minbase Debian: stat, timeout,
# truncate... are coreutils (essential); these are not.
need_cmd timeout coreutils
need_cmd unshare util-linux

# pid_alive PID: PID runs (a zombie does not count: it only waits for its status).
pid_alive() {
	kill -0 "$1" 2>/dev/null || return 1
	_st=$(cat /proc/"$1"/stat 2>/dev/null) || return 1
	_st=${_st##*) }
	[ "${_st%% *}" != Z ]
}

# wait_pid PID SECONDS: wait for PID, a child of this shell, at most SECONDS,
# then SIGKILL it; its exit status in $rc (137 when it had to be killed).
wait_pid() {
	_t=$(($2 * 10))
	while pid_alive "$1" && [ "$_t" -gt 0 ]; do
		sleep 0.1
		_t=$((_t - 1))
	done
	if pid_alive "$1"; then
		echo "# pid $1 still runs after $2 s: SIGKILL"
		# `timeout N CMD &` dies alone on SIGKILL and CMD lives on
		# (an orphaned VMM was found spinning): its child first
		_c=$(child_of "$1")
		[ -n "$_c" ] && kill -KILL "$_c" 2>/dev/null
		kill -KILL "$1" 2>/dev/null
	fi
	rc=0
	wait "$1" 2>/dev/null || rc=$?
}

# stop_pid PID [SIGNAL [SECONDS]]: send SIGNAL (TERM) to PID, a child of
# this shell, and wait_pid it (10 s); nothing when PID is empty.
stop_pid() {
	[ -n "$1" ] || { rc=0; return 0; }
	kill -"${2:-TERM}" "$1" 2>/dev/null
	wait_pid "$1" "${3:-10}"
}

# child_of PID: the first child process of PID, from the kernel's
# children list or, without it, a walk over /proc (no pgrep).
child_of() {
	_parent=$1
	if [ -r /proc/"$_parent"/task/"$_parent"/children ]; then
		set -- $(cat /proc/"$_parent"/task/"$_parent"/children 2>/dev/null)
		[ -n "${1:-}" ] && echo "$1"
		return 0
	fi
	for _s in /proc/[0-9]*/stat; do
		_st=$(cat "$_s" 2>/dev/null) || continue
		_st=${_st##*) }
		set -- $_st
		if [ "${2:-}" = "$_parent" ]; then
			_p=${_s#/proc/}
			echo "${_p%/stat}"
			return 0
		fi
	done
}
