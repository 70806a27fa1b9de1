#!/bin/sh
# Fail when a cvmm archive defines a global symbol without the cvmm_ prefix:
# a static library shares one namespace with every program that links it.
status=0
for a in "$@"; do
	bad=$(nm -g --defined-only "$a" 2>/dev/null | awk 'NF == 3 && $3 !~ /^cvmm_/ && $3 !~ /^__/ { print $3 }' | sort -u)
	if [ -n "$bad" ]; then
		echo "check-symbols: $a exports symbols without the cvmm_ prefix:" >&2
		echo "$bad" | sed 's/^/  /' >&2
		status=1
	fi
done
[ $status -eq 0 ] && echo "check-symbols: $# archives, every exported symbol has the cvmm_ prefix"
exit $status
